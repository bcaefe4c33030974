"""DynamicEpisodeDriver: a TF policy in a TF environment for N episodes, in a `tf.while_loop`.

The loop counts finished episodes (boundary transitions, LAST -> FIRST),
summed over the batch, and stops once the sum reaches `num_episodes`. With
a batched env, short episodes finish first, so a run over-represents them.
Observers and transition observers are called as in `DynamicStepDriver`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.drivers import driver
from tfdrive.drivers.dynamic_step_driver import (
    _while_loop,
    check_tf_environment,
    is_bandit_env,
)
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories import trajectory
from tfdrive.utils import common

__all__ = ["DynamicEpisodeDriver", "is_bandit_env"]


@configurable
class DynamicEpisodeDriver(driver.Driver):
    """Takes `num_episodes` episodes (summed over the batch) per `run()`.

    Args:
      env: a TF environment (`TFEnvironment`, e.g. a `TFPyEnvironment`).
      policy: a TF policy.
      observers: callables taking each `Trajectory` (batched tensors).
      transition_observers: callables taking each
        `(time_step, action_step, next_time_step)`.
      num_episodes: the episodes per `run()`, summed over a batched env.

    Raises:
      ValueError: if `env` is not a TF environment.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        observers: Sequence[Callable[[Any], Any]] | None = None,
        transition_observers: Sequence[Callable[[Any], Any]] | None = None,
        num_episodes: int = 1,
    ):
        check_tf_environment(env, "DynamicEpisodeDriver")
        super().__init__(env, policy, observers, transition_observers)
        self._num_episodes = num_episodes
        self._run_fn = common.function_in_tf1()(self._run)
        self._is_bandit_env = is_bandit_env(env)

    def _loop_condition_fn(self, num_episodes: Any) -> Callable[..., tf.Tensor]:
        """`cond(counter, ...)`: go on while the finished episodes are below `num_episodes`."""

        def loop_cond(counter, *_):
            return tf.less(tf.reduce_sum(counter), num_episodes)

        return loop_cond

    def _loop_body_fn(self) -> Callable[..., list]:
        """`body(counter, time_step, policy_state)`: one policy action and env step."""

        def loop_body(counter, time_step, policy_state):
            action_step = self.policy.action(time_step, policy_state)
            with tf.control_dependencies(tf.nest.flatten([time_step])):
                next_time_step = self.env.step(action_step.action)
            policy_state = action_step.state
            if self._is_bandit_env:
                batch_size = tf.shape(time_step.discount)
                time_step = time_step._replace(step_type=tf.fill(batch_size, ts.StepType.FIRST))
            traj = trajectory.from_transition(time_step, action_step, next_time_step)
            ops = [observer(traj) for observer in self._observers]
            ops += [
                observer((time_step, action_step, next_time_step))
                for observer in self._transition_observers
            ]
            with tf.control_dependencies([tf.group(ops)]):
                time_step, next_time_step, policy_state = tf.nest.map_structure(
                    tf.identity, (time_step, next_time_step, policy_state)
                )
            if self._is_bandit_env:
                counter += tf.ones(batch_size, dtype=tf.int32)  # every bandit step ends one
            else:
                counter += tf.cast(traj.is_boundary(), dtype=tf.int32)
            return [counter, next_time_step, policy_state]

        return loop_body

    def run(
        self,
        time_step: Any = None,
        policy_state: Any = None,
        num_episodes: Any = None,
        maximum_iterations: Any = None,
    ) -> tuple[Any, Any]:
        """Runs episodes with the policy, updating the observers.

        Args:
          time_step: the time step to start from; None: `env.reset()`.
          policy_state: the policy state to start from; None: the policy's
            initial state for the env's batch size.
          num_episodes: this run's episode count; None: the constructor's.
          maximum_iterations: an optional cap on the loop's iterations.

        Returns:
          `(time_step, policy_state)`: the last time step and policy state.
        """
        return self._run_fn(
            time_step=time_step,
            policy_state=policy_state,
            num_episodes=num_episodes,
            maximum_iterations=maximum_iterations,
        )

    def _run(
        self,
        time_step: Any = None,
        policy_state: Any = None,
        num_episodes: Any = None,
        maximum_iterations: Any = None,
    ) -> tuple[Any, Any]:
        if time_step is None:
            time_step = self.env.reset()
        if policy_state is None:
            policy_state = self.policy.get_initial_state(self.env.batch_size)
        num_episodes = num_episodes or self._num_episodes
        return _while_loop(
            self, self._loop_condition_fn(num_episodes), time_step, policy_state,
            maximum_iterations,
        )  # fmt: skip

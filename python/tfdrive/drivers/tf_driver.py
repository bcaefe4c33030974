"""TFDriver: a TF policy in a TF environment until a step or episode limit.

`run()` is an autograph loop (a `tf.function` unless disabled): each
iteration asks the policy for an action, steps the env, hands the
transition to every transition observer and the `Trajectory` to every
observer, and counts steps (non-boundary transitions) and episodes
(boundary transitions) summed over the batch. It stops once either limit is
reached, so a batched env may overshoot them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive.drivers import driver
from tfdrive.drivers.dynamic_step_driver import check_tf_environment
from tfdrive.trajectories import trajectory
from tfdrive.utils import common


class TFDriver(driver.Driver):
    """Runs a TF policy in a TF environment for at most `max_steps` / `max_episodes`.

    Args:
      env: a TF environment (`TFEnvironment`, e.g. a `TFPyEnvironment`).
      policy: a TF policy.
      observers: callables taking each `Trajectory` (batched tensors).
      transition_observers: callables taking each
        `(time_step, action_step, next_time_step)`.
      max_steps: the most steps per `run()` (summed over the batch); None
        or 0: no step limit.
      max_episodes: the most episodes per `run()` (summed over the batch);
        None or 0: no episode limit.
      disable_tf_function: run eagerly instead of as a `tf.function`.

    Raises:
      ValueError: if neither limit is at least 1, or `env` is not a TF
        environment.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        observers: Sequence[Callable[[Any], Any]],
        transition_observers: Sequence[Callable[[Any], Any]] | None = None,
        max_steps: int | None = None,
        max_episodes: int | None = None,
        disable_tf_function: bool = False,
    ):
        common.check_tf1_allowed()
        max_steps = max_steps or 0
        max_episodes = max_episodes or 0
        if max_steps < 1 and max_episodes < 1:
            raise ValueError("Either `max_steps` or `max_episodes` should be greater than 0.")
        check_tf_environment(env, "TFDriver")
        super().__init__(env, policy, observers, transition_observers)
        self._max_steps = max_steps or np.inf
        self._max_episodes = max_episodes or np.inf
        if not disable_tf_function:
            # As TF-Agents: the instance's run() becomes its tf.function.
            self.run = common.function(self.run, autograph=True)  # type: ignore[method-assign]

    def run(self, time_step: Any, policy_state: Any = ()) -> tuple[Any, Any]:
        """Runs the policy from `time_step` and `policy_state` until a limit is reached.

        Returns:
          `(time_step, policy_state)`: the last time step and the state the
          policy last returned.
        """
        num_steps = tf.constant(0.0)
        num_episodes = tf.constant(0.0)
        while num_steps < self._max_steps and num_episodes < self._max_episodes:
            action_step = self.policy.action(time_step, policy_state)
            next_time_step = self.env.step(action_step.action)
            traj = trajectory.from_transition(time_step, action_step, next_time_step)
            for observer in self._transition_observers:
                observer((time_step, action_step, next_time_step))
            for observer in self.observers:
                observer(traj)
            boundary = tf.cast(traj.is_boundary(), tf.float32)
            num_episodes += tf.math.reduce_sum(boundary)
            num_steps += tf.math.reduce_sum(1.0 - boundary)
            time_step = next_time_step
            policy_state = action_step.state
        return time_step, policy_state

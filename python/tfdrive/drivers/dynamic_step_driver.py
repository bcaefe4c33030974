"""DynamicStepDriver: a TF policy in a TF environment for N steps, in a `tf.while_loop`.

The loop counts steps that are transitions of an episode (a boundary,
LAST -> FIRST, is not a step), summed over the batch, and stops once the sum
reaches `num_steps`; with a batched env it may take more (never fewer).
Each iteration hands the `Trajectory` to every observer and the
`(time_step, action_step, next_time_step)` transition to every transition
observer; the loop waits for their ops before going on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.drivers import driver
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories import trajectory
from tfdrive.utils import common, nest_utils


def _class_names(obj: Any) -> set[str]:
    return {cls.__name__ for cls in type(obj).__mro__}


def is_bandit_env(env: Any) -> bool:
    """Whether `env` (or the Python env a `TFPyEnvironment` wraps, unwrapped) is a bandit env.

    Recognised by class name (`BanditPyEnvironment`, `BanditTFEnvironment`),
    so TF-Agents' bandit environments qualify without importing them.
    """
    actual = env
    if "TFPyEnvironment" in _class_names(env):
        actual = env.pyenv
        if "PyEnvironmentBaseWrapper" in _class_names(actual):
            actual = actual.wrapped_env()
    return bool({"BanditPyEnvironment", "BanditTFEnvironment"} & _class_names(actual))


def check_tf_environment(env: Any, driver_name: str) -> None:
    """Raises ValueError unless `env` is a TF environment (its specs are `tf.TypeSpec`s).

    A Python environment (ArraySpecs, numpy steps) belongs in a `PyDriver`,
    or in a `TFPyEnvironment` first.
    """
    time_step_spec = getattr(env, "time_step_spec", None)
    specs = tf.nest.flatten(time_step_spec()) if callable(time_step_spec) else []
    if not specs or not all(isinstance(spec, tf.TypeSpec) for spec in specs):
        raise ValueError(
            f"{driver_name} needs a TF environment (a tf_environment.TFEnvironment, e.g. "
            f"tf_py_environment.TFPyEnvironment(py_env)) whose time_step_spec() holds "
            f"TensorSpecs; env is {type(env).__name__} {env!r}. Wrap a Python environment "
            "in TFPyEnvironment, or drive it with PyDriver."
        )


@configurable
class DynamicStepDriver(driver.Driver):
    """Takes `num_steps` steps (summed over the batch) per `run()`, in a `tf.while_loop`.

    Args:
      env: a TF environment (`TFEnvironment`, e.g. a `TFPyEnvironment`).
      policy: a TF policy.
      observers: callables taking each `Trajectory` (batched tensors).
      transition_observers: callables taking each
        `(time_step, action_step, next_time_step)`.
      num_steps: the steps per `run()`, summed over a batched env's envs.

    Raises:
      ValueError: if `env` is not a TF environment.

    Subclasses may change when the loop stops by overriding
    `_loop_condition_fn`.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        observers: Sequence[Callable[[Any], Any]] | None = None,
        transition_observers: Sequence[Callable[[Any], Any]] | None = None,
        num_steps: int = 1,
    ):
        check_tf_environment(env, "DynamicStepDriver")
        super().__init__(env, policy, observers, transition_observers)
        self._num_steps = num_steps
        self._run_fn = common.function_in_tf1(reduce_retracing=False)(self._run)
        self._is_bandit_env = is_bandit_env(env)

    def _loop_condition_fn(self) -> Callable[..., tf.Tensor]:
        """`cond(counter, ...)`: go on while the counted steps are below `num_steps`."""

        def loop_cond(counter, *_):
            return tf.less(tf.reduce_sum(counter), self._num_steps)

        return loop_cond

    def _loop_body_fn(self) -> Callable[..., list]:
        """`body(counter, time_step, policy_state)`: one policy action and env step."""

        def loop_body(counter, time_step, policy_state):
            action_step = self.policy.action(time_step, policy_state)
            policy_state = action_step.state
            next_time_step = self.env.step(action_step.action)
            if self._is_bandit_env:
                # Bandit steps are one-step episodes: each one starts anew.
                time_step = time_step._replace(
                    step_type=tf.fill(tf.shape(time_step.discount), ts.StepType.FIRST)
                )
            traj = trajectory.from_transition(time_step, action_step, next_time_step)
            ops = _notify(self._observers, traj)
            ops += [
                observer((time_step, action_step, next_time_step))
                for observer in self._transition_observers
            ]
            with tf.control_dependencies([tf.group(ops)]):
                time_step, next_time_step, policy_state = tf.nest.map_structure(
                    tf.identity, (time_step, next_time_step, policy_state)
                )
            counter += tf.cast(~traj.is_boundary(), dtype=tf.int32)
            return [counter, next_time_step, policy_state]

        return loop_body

    def run(
        self, time_step: Any = None, policy_state: Any = None, maximum_iterations: Any = None
    ) -> tuple[Any, Any]:
        """Steps the env with the policy, updating the observers.

        Args:
          time_step: the time step to start from (`[batch_size, ...]`); None:
            the env's `current_time_step()`.
          policy_state: the policy state to start from; None: the policy's
            initial state for the env's batch size.
          maximum_iterations: an optional cap on the loop's iterations.

        Returns:
          `(time_step, policy_state)`: the last time step and policy state
          (gradients stopped).
        """
        return self._run_fn(
            time_step=time_step, policy_state=policy_state, maximum_iterations=maximum_iterations
        )

    def _run(
        self, time_step: Any = None, policy_state: Any = None, maximum_iterations: Any = None
    ) -> tuple[Any, Any]:
        if time_step is None:
            time_step = self.env.current_time_step()
        if policy_state is None:
            policy_state = self.policy.get_initial_state(self.env.batch_size)
        return _while_loop(
            self, self._loop_condition_fn(), time_step, policy_state, maximum_iterations
        )


def _notify(observers: Sequence[Callable[[Any], Any]], traj: Any) -> list:
    """Calls each observer with `traj`; in graph mode, returns the ops to wait for.

    An observer may return nothing: in a TF1 graph the last op it added stands
    for it.
    """
    ops = []
    for observer in observers:
        observer(traj)
        if not tf.executing_eagerly():
            ops.append(tf.compat.v1.get_default_graph().get_operations()[-1])
    return ops


def _while_loop(
    driver_: Any, cond: Callable, time_step: Any, policy_state: Any, maximum_iterations: Any
) -> tuple[Any, Any]:
    """Runs the driver's loop body from a zero per-env counter; returns the final state."""
    batch_dims = nest_utils.get_outer_shape(time_step, driver_.env.time_step_spec())
    counter = tf.zeros(batch_dims, tf.int32)
    _, time_step, policy_state = tf.nest.map_structure(
        tf.stop_gradient,
        tf.while_loop(
            cond=cond,
            body=driver_._loop_body_fn(),
            loop_vars=[counter, time_step, policy_state],
            parallel_iterations=1,
            maximum_iterations=maximum_iterations,
            name="driver_loop",
        ),
    )
    return time_step, policy_state

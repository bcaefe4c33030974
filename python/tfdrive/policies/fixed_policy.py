"""`FixedPolicy`: a `TFPolicy` that always returns the same action (mainly for tests)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import tf_policy
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common, nest_utils

__all__ = ["FixedPolicy"]


class FixedPolicy(tf_policy.TFPolicy):
    """Returns `actions`, copied along the time step's outer dims, whatever the input.

    `action(time_step)` gives each leaf of `actions` replicated to
    ``outer_dims + spec.shape`` (``outer_dims`` being those of `time_step`
    beyond `time_step_spec`, e.g. ``[B]``, or ``[]`` for an unbatched step);
    `distribution(time_step)` gives a `tfp.distributions.Deterministic` at
    that action. The policy state is passed through and there are no
    variables. Actions are not clipped.

    Args:
      actions: A nest like `action_spec` of values (tensors, arrays, Python
        numbers), each converted to its spec's dtype.
      time_step_spec: The `TimeStep` spec of the inputs.
      action_spec: A nest of `TensorSpec`s (bounded or not).
      emit_log_probability: Put ``info.log_probability`` (float32 zeros
        shaped ``outer_dims``, one per action leaf: the fixed action has
        probability 1) in the info returned.
      policy_info: The info returned (with the log-probabilities added when
        `emit_log_probability`).
      info_spec: The spec of `policy_info`.
      name: The `tf.Module` name; the class name by default.

    Raises:
      ValueError / TypeError: `actions` does not have `action_spec`'s
        structure.
    """

    def __init__(
        self,
        actions: Any,
        time_step_spec: ts.TimeStep,
        action_spec: Any,
        emit_log_probability: bool = True,
        policy_info: Any = (),
        info_spec: Any = (),
        name: str | None = None,
    ):
        super().__init__(
            time_step_spec,
            action_spec,
            clip=False,
            info_spec=info_spec,
            name=name,
            emit_log_probability=emit_log_probability,
        )
        nest_utils.assert_same_structure(self._action_spec, actions)
        action_value = tf.nest.map_structure(
            lambda value, spec: tf.convert_to_tensor(value, dtype=spec.dtype),
            actions,
            self._action_spec,
        )
        # Constant nests, not variables: set past tf.Module's tracking, which
        # would wrap tuples and dicts in proxies that no longer match the spec.
        object.__setattr__(self, "_action_value", action_value)
        object.__setattr__(self, "_policy_info", policy_info)

    def _variables(self) -> list:
        return []

    def _info_and_action(self, time_step: ts.TimeStep) -> tuple[Any, Any]:
        outer_shape = nest_utils.get_outer_shape(time_step, self._time_step_spec)
        info = self._policy_info
        if self._emit_log_probability:
            log_probability = tf.nest.map_structure(
                lambda _: tf.zeros(outer_shape, tf.float32), self._action_spec
            )
            info = policy_step.set_log_probability(info, log_probability)
        action = tf.nest.map_structure(
            lambda value: common.replicate(value, outer_shape), self._action_value
        )
        return info, action

    def _action(self, time_step: ts.TimeStep, policy_state: Any, seed: Any = None) -> Any:
        del seed  # Nothing is sampled.
        info, action = self._info_and_action(time_step)
        return policy_step.PolicyStep(action, policy_state, info)

    def _distribution(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        info, action = self._info_and_action(time_step)
        distributions = tf.nest.map_structure(
            lambda a: tfp.distributions.Deterministic(loc=a), action
        )
        return policy_step.PolicyStep(distributions, policy_state, info)

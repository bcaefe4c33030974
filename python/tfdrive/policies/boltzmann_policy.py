"""`BoltzmannPolicy`: divides a policy's action logits by a temperature."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.policies import tf_policy
from tfdrive.trajectories import policy_step

__all__ = ["BoltzmannPolicy"]


@configurable
class BoltzmannPolicy(tf_policy.TFPolicy):
    """Samples from a wrapped policy's logit distributions at a temperature.

    Args:
      policy: A `TFPolicy` (tfdrive's or TF-Agents') whose action
        distributions are parameterized by ``logits`` and support
        ``copy(logits=...)`` (e.g. `Categorical`).
      temperature: A float, a scalar tensor or variable, or a callable
        returning one (read at each call): logits are divided by it, so
        values near 0 approach argmax and large values approach uniform.
        None leaves the wrapped distributions unchanged.
      name: The `tf.Module` name; defaults to the class name.

    Specs and `emit_log_probability` are the wrapped policy's; actions are
    not clipped.
    """

    def __init__(
        self,
        policy: Any,
        temperature: float | tf.Tensor | Callable[[], Any] | None = 1.0,
        name: str | None = None,
    ):
        super().__init__(
            policy.time_step_spec,
            policy.action_spec,
            policy.policy_state_spec,
            policy.info_spec,
            emit_log_probability=policy.emit_log_probability,
            clip=False,
            name=name,
        )
        self._temperature = temperature
        self._wrapped_policy = policy

    def _variables(self) -> list:
        return self._wrapped_policy.variables()

    def _get_temperature_value(self) -> Any:
        return self._temperature() if callable(self._temperature) else self._temperature

    def _apply_temperature(self, distribution: Any) -> Any:
        """`distribution` with its logits divided by the temperature."""
        return distribution.copy(logits=distribution.logits / self._get_temperature_value())

    def _distribution(self, time_step: Any, policy_state: Any) -> policy_step.PolicyStep:
        step = self._wrapped_policy.distribution(time_step, policy_state)
        if self._temperature is None:
            return step
        return step._replace(action=tf.nest.map_structure(self._apply_temperature, step.action))

"""`GreedyPolicy`: always takes the mode of another policy's action distribution."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.policies import tf_policy
from tfdrive.trajectories import policy_step

__all__ = ["DeterministicWithLogProb", "GreedyPolicy"]


@tfp.experimental.auto_composite_tensor
class DeterministicWithLogProb(tfp.distributions.Deterministic):
    """`tfp.distributions.Deterministic` whose log-probabilities are float32.

    ``log_prob(x)`` is ``log(prob(x))`` computed in float32 whatever the
    dtype of ``loc`` (0 at ``loc``, -inf elsewhere), so integer-valued point
    masses have usable log-probabilities.
    """

    def _log_prob(self, x):
        return tf.math.log(tf.cast(self.prob(x), tf.float32))


@configurable
class GreedyPolicy(tf_policy.TFPolicy):
    """Returns the mode of a wrapped policy's action distribution.

    Args:
      policy: A `TFPolicy` (tfdrive's or TF-Agents') whose `distribution`
        returns distributions implementing ``mode()``.
      name: The `tf.Module` name; defaults to the class name.

    The specs (time step, action, state, info) and `emit_log_probability`
    are the wrapped policy's. `distribution` returns a
    `tfp.distributions.Deterministic` at each action distribution's mode,
    with the wrapped step's state and info; `action` samples it (so the
    action is the mode, and its log-probability 0).

    Raises (from `distribution` / `action`):
      ValueError: If a wrapped distribution does not implement ``mode()``.
    """

    def __init__(self, policy: Any, name: str | None = None):
        super().__init__(
            policy.time_step_spec,
            policy.action_spec,
            policy.policy_state_spec,
            policy.info_spec,
            emit_log_probability=policy.emit_log_probability,
            name=name,
        )
        self._wrapped_policy = policy

    @property
    def wrapped_policy(self) -> Any:
        """The policy whose modes this one returns."""
        return self._wrapped_policy

    def _variables(self) -> list:
        return self._wrapped_policy.variables()

    def _distribution(self, time_step: Any, policy_state: Any) -> policy_step.PolicyStep:
        def greedy(distribution: Any) -> tfp.distributions.Distribution:
            try:
                mode = distribution.mode()
            except NotImplementedError as e:
                raise ValueError(
                    "Your network's distribution does not implement mode making it "
                    "incompatible with a greedy policy."
                ) from e
            return tfp.distributions.Deterministic(loc=mode)

        step = self._wrapped_policy.distribution(time_step, policy_state)
        return policy_step.PolicyStep(
            tf.nest.map_structure(greedy, step.action), step.state, step.info
        )

"""`QPolicy`: a categorical over actions whose logits are a Q-network's Q-values (DQN)."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.distributions import shifted_categorical
from tfdrive.networks import utils as network_utils
from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step

__all__ = ["QPolicy"]


@configurable
class QPolicy(tf_policy.TFPolicy):
    """Exposes a Q-network's Q-values as a categorical action distribution.

    `distribution` returns a `tfp.distributions.Categorical` whose logits are
    the ``[B, num_actions]`` Q-values (a `ShiftedCategorical` when the spec's
    minimum is not 0), so `action` samples softmax(Q); wrap the policy in a
    `GreedyPolicy` for argmax Q (as DQN does) or an `EpsilonGreedyPolicy`.

    Args:
      time_step_spec: A `TimeStep` of specs.
      action_spec: A single `BoundedTensorSpec` (possibly in a one-element
        nest) of the integer action, shaped ``()``.
      q_network: A network (tfdrive's or TF-Agents') callable as
        ``q_network(observation, network_state=..., step_type=...) ->
        (q_values [B, num_actions], state)``; its `state_spec` becomes the
        policy state spec.
      emit_log_probability: Whether `action` emits log-probabilities.
      observation_and_action_constraint_splitter: Optional callable mapping
        an observation to ``(network_input, mask)``; the mask is ``[B,
        num_actions]`` with 0 / False for invalid actions, whose logits become
        the dtype's most negative value.
      validate_action_spec_and_network: Whether to check that the spec is
        scalar with minimum 0 and that the network emits floats shaped
        ``[num_actions]``.
      name: The `tf.Module` name; defaults to the class name.

    Actions are not clipped.

    Raises:
      ValueError: If `q_network` has an ``action_spec`` incompatible with
        `action_spec`; if `action_spec` has more than one leaf; or, with
        `validate_action_spec_and_network`, if the spec is not scalar, its
        minimum is not 0 or the network's output does not match it.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        q_network: Any,
        emit_log_probability: bool = False,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
        validate_action_spec_and_network: bool = True,
        name: str | None = None,
    ):
        action_spec = tensor_spec.from_spec(action_spec)
        time_step_spec = tensor_spec.from_spec(time_step_spec)

        network_action_spec = getattr(q_network, "action_spec", None)
        if network_action_spec is not None and not action_spec.is_compatible_with(
            network_action_spec
        ):
            raise ValueError(
                "action_spec must be compatible with q_network.action_spec; instead got "
                f"action_spec={action_spec}, q_network.action_spec={network_action_spec}"
            )

        flat_action_spec = tf.nest.flatten(action_spec)
        if len(flat_action_spec) > 1:
            raise ValueError(
                f"Only scalar actions are supported now, but action spec is: {action_spec}"
            )
        spec = flat_action_spec[0]
        if validate_action_spec_and_network:
            if spec.shape.rank > 0:
                raise ValueError(
                    f"Only scalar actions are supported now, but action spec is: {action_spec}"
                )
            if spec.minimum != 0:
                raise ValueError(f"Action specs should have minimum of 0, but saw: {spec}")
            num_actions = spec.maximum - spec.minimum + 1
            network_utils.check_single_floating_network_output(
                q_network.create_variables(), (num_actions,), str(q_network)
            )

        # The single leaf's dtype and range shape the distribution.
        self._flat_action_spec = spec
        self._q_network = q_network
        super().__init__(
            time_step_spec,
            action_spec,
            policy_state_spec=q_network.state_spec,
            clip=False,
            emit_log_probability=emit_log_probability,
            observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
            name=name,
        )

    def _variables(self) -> list:
        return self._q_network.variables

    def _distribution(self, time_step: Any, policy_state: Any) -> policy_step.PolicyStep:
        splitter = self.observation_and_action_constraint_splitter
        observation = time_step.observation
        if splitter is not None:
            observation, mask = splitter(observation)

        q_values, policy_state = self._q_network(
            observation, network_state=policy_state, step_type=time_step.step_type
        )
        logits = q_values
        if splitter is not None:
            # Invalid actions get the lowest finite logit: never sampled, never the mode.
            lowest = tf.constant(logits.dtype.min, dtype=logits.dtype)
            logits = tf.where(tf.cast(mask, tf.bool), logits, lowest)

        spec = self._flat_action_spec
        if spec.minimum != 0:
            distribution = shifted_categorical.ShiftedCategorical(
                logits=logits, dtype=spec.dtype, shift=spec.minimum
            )
        else:
            distribution = tfp.distributions.Categorical(logits=logits, dtype=spec.dtype)
        distribution = tf.nest.pack_sequence_as(self._action_spec, [distribution])
        return policy_step.PolicyStep(distribution, policy_state)

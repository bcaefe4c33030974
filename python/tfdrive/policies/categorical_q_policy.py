"""`CategoricalQPolicy`: acts on the expected Q-values of a categorical (C51) Q-network."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.networks import utils as network_utils
from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common

__all__ = ["CategoricalQPolicy"]


@configurable
class CategoricalQPolicy(tf_policy.TFPolicy):
    """A categorical over actions whose logits are expected Q-values.

    The network emits ``[B, num_actions, num_atoms]`` logits of a
    distribution over `num_atoms` returns evenly spaced in
    ``[min_q_value, max_q_value]``; each action's expected return
    ``sum(softmax(logits) * support)`` is its logit in the returned
    `tfp.distributions.Categorical`.

    Args:
      time_step_spec: A `TimeStep` of specs.
      action_spec: A `BoundedTensorSpec` of the integer action with minimum 0.
      q_network: A network (tfdrive's or TF-Agents', e.g. a
        `CategoricalQNetwork`) with a `num_atoms` property, emitting float
        logits shaped ``[num_actions, num_atoms]`` per batch entry.
      min_q_value: The lowest return of the support.
      max_q_value: The highest return of the support.
      observation_and_action_constraint_splitter: Optional callable mapping
        an observation to ``(network_input, mask)``; masked-out actions
        (``[B, num_actions]`` zeros) get logit -inf.
      temperature: Stored as a float32 tensor; sampling does not use it (as
        in TF-Agents).

    Raises:
      ValueError: If `q_network` has an ``action_spec`` incompatible with
        `action_spec`, `action_spec`'s minimum is not 0, `q_network` has no
        `num_atoms`, or its output spec is not floats shaped
        ``[num_actions, num_atoms]``.
      TypeError: If `action_spec` is not a `BoundedTensorSpec`.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        q_network: Any,
        min_q_value: float,
        max_q_value: float,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
        temperature: float = 1.0,
    ):
        network_action_spec = getattr(q_network, "action_spec", None)
        if network_action_spec is not None and not action_spec.is_compatible_with(
            network_action_spec
        ):
            raise ValueError(
                "action_spec must be compatible with q_network.action_spec; instead got "
                f"action_spec={action_spec}, q_network.action_spec={network_action_spec}"
            )
        if not isinstance(action_spec, tensor_spec.BoundedTensorSpec):
            raise TypeError(f"action_spec must be a BoundedTensorSpec. Got: {action_spec}")
        if action_spec.minimum != 0:
            raise ValueError(
                f"Action specs should have minimum of 0, but saw: {action_spec}.  If "
                "collecting from a python environment, consider using "
                "tf_agents.environments.wrappers.ActionOffsetWrapper."
            )

        num_actions = action_spec.maximum - action_spec.minimum + 1
        try:
            num_atoms = q_network.num_atoms
        except AttributeError:
            raise ValueError(
                "Expected q_network to have property `num_atoms`, but it doesn't. (Note: "
                f"you likely want to use a CategoricalQNetwork.) Network is: {q_network}"
            ) from None
        self._num_atoms = num_atoms
        network_utils.check_single_floating_network_output(
            q_network.create_variables(), (num_actions, num_atoms), str(q_network)
        )

        super().__init__(
            time_step_spec,
            action_spec,
            policy_state_spec=q_network.state_spec,
            observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
        )
        self._temperature = tf.convert_to_tensor(temperature, dtype=tf.float32)
        self._q_network = q_network
        # A constant (not a variable): the support is fixed for the policy's life.
        support = np.linspace(min_q_value, max_q_value, self._num_atoms, dtype=np.float32)
        self._support = tf.constant(support, dtype=tf.float32)
        self._action_dtype = action_spec.dtype

    def _variables(self) -> list:
        return self._q_network.variables

    def _distribution(self, time_step: Any, policy_state: Any) -> policy_step.PolicyStep:
        splitter = self.observation_and_action_constraint_splitter
        observation = time_step.observation
        if splitter is not None:
            observation, mask = splitter(observation)

        q_logits, policy_state = self._q_network(
            observation, step_type=time_step.step_type, network_state=policy_state
        )
        q_logits.shape.assert_has_rank(3)
        logits = common.convert_q_logits_to_values(q_logits, self._support)
        if splitter is not None:
            logits = tf.where(tf.cast(mask, tf.bool), logits, tf.constant(-np.inf, logits.dtype))

        distribution = tfp.distributions.Categorical(logits=logits, dtype=self.action_spec.dtype)
        return policy_step.PolicyStep(distribution, policy_state)

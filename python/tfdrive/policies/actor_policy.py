"""`ActorPolicy`: a `TFPolicy` that acts through an actor network."""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import network as network_lib
from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step

__all__ = ["ActorPolicy", "assert_specs_are_compatible", "network_action_spec"]


def network_action_spec(actor_network: Any, observation_spec: Any) -> Any:
    """Builds the network's variables and returns the action spec it produces.

    For a distribution network (output spec of `DistributionSpec`s), the
    sample specs; otherwise what `create_variables` returns.
    """
    output_spec = actor_network.create_variables(observation_spec)
    if network_lib.is_distribution_network(actor_network):
        output_spec = tf.nest.map_structure(lambda o: o.sample_spec, actor_network.output_spec)
    return output_spec


def assert_specs_are_compatible(network_output_spec: Any, spec: Any, message_prefix: str) -> None:
    """Raises `ValueError` (message starting with `message_prefix`) unless the
    specs have the same structure, dtypes and compatible shapes."""
    message = f"{message_prefix}:\n{network_output_spec}\nvs.\n{spec}"
    try:
        tf.nest.assert_same_structure(network_output_spec, spec, check_types=False)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    for a, b in zip(tf.nest.flatten(network_output_spec), tf.nest.flatten(spec)):
        if a.dtype != b.dtype or not tf.TensorShape(a.shape).is_compatible_with(b.shape):
            raise ValueError(message)


class ActorPolicy(tf_policy.TFPolicy):
    """Acts by sampling from the distribution an actor network outputs.

    The network is called as ``actor_network(observation,
    step_type=time_step.step_type, network_state=policy_state,
    training=training)`` (plus ``mask=`` when a splitter is given) and must
    return ``(distributions_or_actions, new_state)``. A plain tensor output
    becomes a `tfp.distributions.Deterministic` (so `action` returns it).

    Args:
      time_step_spec: `TimeStep` of `TensorSpec`s.
      action_spec: Nest of `BoundedTensorSpec`s; must match the network's
        output (structure, dtype, shape).
      actor_network: A network: tfdrive's, TF-Agents', or any object with
        the network protocol (callable, `create_variables`, `state_spec`).
      policy_state_spec: State spec; defaults to the network's `state_spec`.
      info_spec: Info spec (`()` by default).
      observation_normalizer: Optional `TensorNormalizer`; observations are
        normalized before the network sees them.
      clip: Clip sampled actions to the spec's bounds.
      training: Passed to the network as ``training``.
      observation_and_action_constraint_splitter: Callable mapping an
        observation to ``(network_input, mask)``; masked-out actions get the
        lowest logit and are never sampled. Only for one discrete action.
      name: Module name.

    Raises:
      ValueError: If `actor_network` is not a network, or its output spec
        does not match `action_spec`.
      NotImplementedError: A splitter with several or non-discrete actions.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        actor_network: Any,
        policy_state_spec: Any = (),
        info_spec: Any = (),
        observation_normalizer: Any = None,
        clip: bool = True,
        training: bool = False,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
        name: str | None = None,
    ):
        time_step_spec = tensor_spec.from_spec(time_step_spec)
        action_spec = tensor_spec.from_spec(action_spec)
        if not network_lib.is_network(actor_network):
            raise ValueError(
                f"actor_network must be a network.Network. Found {type(actor_network)}."
            )
        actor_output_spec = network_action_spec(actor_network, time_step_spec.observation)
        assert_specs_are_compatible(
            actor_output_spec, action_spec, "actor_network output spec does not match action spec"
        )
        self._actor_network = actor_network
        self._observation_normalizer = observation_normalizer
        self._training = training
        if observation_and_action_constraint_splitter is not None:
            flat = tf.nest.flatten(action_spec)
            if len(flat) > 1 or not flat[0].dtype.is_integer:
                raise NotImplementedError(
                    "Action constraints for ActorPolicy are currently only supported for a "
                    f"single spec of discrete actions. Got action_spec {action_spec}"
                )
        if not policy_state_spec:
            policy_state_spec = actor_network.state_spec
        super().__init__(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            policy_state_spec=policy_state_spec,
            info_spec=info_spec,
            clip=clip,
            observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
            name=name,
        )

    @property
    def observation_normalizer(self) -> Any:
        return self._observation_normalizer

    def _apply_actor_network(self, observation, step_type, policy_state, mask=None):
        if self._observation_normalizer:
            observation = self._observation_normalizer.normalize(observation)
        kwargs = {} if mask is None else {"mask": mask}
        return self._actor_network(
            observation,
            step_type=step_type,
            network_state=policy_state,
            training=self._training,
            **kwargs,
        )

    def _variables(self) -> list:
        return list(self._actor_network.variables)

    def _distribution(self, time_step, policy_state):
        observation = time_step.observation
        mask = None
        splitter = self.observation_and_action_constraint_splitter
        if splitter is not None:
            observation, mask = splitter(observation)
        outputs, policy_state = self._apply_actor_network(
            observation, step_type=time_step.step_type, policy_state=policy_state, mask=mask
        )

        def to_distribution(output: Any) -> Any:
            if isinstance(output, tf.Tensor):
                return tfp.distributions.Deterministic(loc=output)
            return output

        return policy_step.PolicyStep(tf.nest.map_structure(to_distribution, outputs), policy_state)

"""`ActorPolicy`: a `TFPolicy` that acts through an actor network.

Networks are recognised by what they do, not by class: tfdrive's networks,
TF-Agents' (`Network`, `DistributionNetwork`, `Sequential`, ...) and any
callable with ``create_variables`` and ``state_spec`` work. The output spec
an actor's ``create_variables`` returns may hold tensor specs, TF-Agents'
`DistributionSpecV2` (a network emitting distributions) or, for a legacy
distribution network, its ``output_spec`` of `DistributionSpec`s.
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import nest_utils

__all__ = [
    "ActorPolicy",
    "assert_specs_are_compatible",
    "is_distribution_network",
    "is_distribution_spec_v2",
    "is_network",
    "network_action_spec",
    "to_distribution",
]


def is_network(obj: Any) -> bool:
    """True for objects with the network protocol (tfdrive's or TF-Agents').

    That is: callable as ``net(inputs, step_type=..., network_state=...)``
    returning ``(outputs, new_state)``, with ``create_variables`` and
    ``state_spec``.
    """
    return callable(obj) and hasattr(obj, "create_variables") and hasattr(obj, "state_spec")


def _is_distribution_spec(spec: Any) -> bool:
    """A (legacy) `DistributionSpec`: builder parameters and a sample spec."""
    return hasattr(spec, "input_params_spec") and hasattr(spec, "sample_spec")


def is_distribution_spec_v2(spec: Any) -> bool:
    """TF-Agents' `DistributionSpecV2`: an event spec and nested parameter specs."""
    return hasattr(spec, "event_spec") and hasattr(spec, "parameters")


def is_distribution_network(network: Any) -> bool:
    """True for legacy distribution networks (TF-Agents' `DistributionNetwork`).

    Those declare an ``output_spec`` made of `DistributionSpec`s (builder,
    ``input_params_spec``, ``sample_spec``).
    """
    try:
        output_spec = getattr(network, "output_spec", None)
    except (AttributeError, ValueError):
        return False
    if output_spec is None:
        return False
    leaves = tf.nest.flatten(output_spec)
    return bool(leaves) and all(_is_distribution_spec(s) for s in leaves)


def network_action_spec(actor_network: Any, observation_spec: Any) -> Any:
    """Builds the network's variables and returns the spec of what it emits.

    Returns:
      For a legacy distribution network, the sample specs of its
      ``output_spec``; otherwise what ``create_variables(observation_spec)``
      returns (tensor specs, or `DistributionSpecV2`s for distributions).
    """
    output_spec = actor_network.create_variables(observation_spec)
    if is_distribution_network(actor_network):
        output_spec = tf.nest.map_structure(lambda o: o.sample_spec, actor_network.output_spec)
    return output_spec


def assert_specs_are_compatible(network_output_spec: Any, spec: Any, message_prefix: str) -> None:
    """Checks a network's output spec against `spec` (e.g. the action spec).

    `DistributionSpecV2` leaves are compared through their event spec; other
    leaves as tensor specs (array specs are converted).

    Raises:
      ValueError: (message starting with `message_prefix`, then both specs)
        unless the structures match and every pair has the same dtype and
        compatible shapes.
    """

    def to_event(s: Any) -> Any:
        return s.event_spec if is_distribution_spec_v2(s) else tensor_spec.from_spec(s)

    event_spec = tf.nest.map_structure(to_event, network_output_spec)
    message = f"{message_prefix}:\n{event_spec}\nvs.\n{spec}"
    nest_utils.assert_same_structure(event_spec, spec, message=message)
    for output, expected in zip(tf.nest.flatten(event_spec), tf.nest.flatten(spec)):
        if not output.is_compatible_with(expected):
            raise ValueError(message)


def to_distribution(action_or_distribution: Any) -> Any:
    """Tensor outputs become point masses; distributions pass through."""
    if isinstance(action_or_distribution, tf.Tensor):
        return tfp.distributions.Deterministic(loc=action_or_distribution)
    return action_or_distribution


@configurable
class ActorPolicy(tf_policy.TFPolicy):
    """Acts by sampling from the distribution an actor network outputs.

    The network is called as ``actor_network(observation,
    step_type=time_step.step_type, network_state=policy_state,
    training=training)`` (plus ``mask=`` when a splitter is given) and must
    return ``(distributions_or_actions, new_state)``. A tensor output
    becomes a `tfp.distributions.Deterministic` (so `action` returns it and
    `distribution` a point mass).

    Args:
      time_step_spec: `TimeStep` of `TensorSpec`s (tfdrive's or TF-Agents').
      action_spec: Nest of `BoundedTensorSpec`s; must match the network's
        output (structure, dtype, shape).
      actor_network: A network: tfdrive's, TF-Agents', or any object with
        the network protocol (see `is_network`).
      policy_state_spec: State spec; defaults to the network's `state_spec`.
      info_spec: Info spec (`()` by default).
      observation_normalizer: Optional `TensorNormalizer`; observations are
        normalized before the network sees them.
      clip: Clip sampled actions to the spec's bounds.
      training: Passed to the network as ``training``.
      observation_and_action_constraint_splitter: Callable mapping an
        observation to ``(network_input, mask)``; the network gets
        ``network_input`` and ``mask=mask`` (a masking network, e.g. an
        `ActorDistributionNetwork` with a categorical head, never emits
        masked-out actions). Only for one discrete action spec.
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
        if not is_network(actor_network):
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
            if len(flat) > 1 or not tensor_spec.is_discrete(flat[0]):
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
        """The observation normalizer, or None."""
        return self._observation_normalizer

    def _apply_actor_network(self, observation, step_type, policy_state, mask=None):
        """Runs the actor on (normalized) observations; returns ``(outputs, new_state)``."""
        if self._observation_normalizer:
            observation = self._observation_normalizer.normalize(observation)
        if mask is None:
            return self._actor_network(
                observation,
                step_type=step_type,
                network_state=policy_state,
                training=self._training,
            )
        return self._actor_network(
            observation,
            step_type=step_type,
            network_state=policy_state,
            training=self._training,
            mask=mask,
        )

    def _variables(self) -> list:
        return self._actor_network.variables

    def _distribution(self, time_step, policy_state):
        observation = time_step.observation
        mask = None
        splitter = self.observation_and_action_constraint_splitter
        if splitter is not None:
            observation, mask = splitter(observation)
        outputs, policy_state = self._apply_actor_network(
            observation, step_type=time_step.step_type, policy_state=policy_state, mask=mask
        )
        return policy_step.PolicyStep(tf.nest.map_structure(to_distribution, outputs), policy_state)

"""`PPOPolicy`: the actor policy PPO collects with (distribution params and values in info)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import network as network_lib
from tfdrive.policies import actor_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common

__all__ = ["PPOPolicy", "get_distribution_params"]


def get_distribution_params(nested_distribution: Any) -> Any:
    """The tensor parameters of each distribution, as a dict per leaf.

    Non-tensor parameters (``dtype``, ``validate_args``, a missing ``probs``)
    are dropped; a `MultivariateNormalDiag`'s ``scale_diag`` is named
    ``scale`` (so Normal heads always give ``{'loc', 'scale'}`` and
    categorical ones ``{'logits'}``).
    """

    def params(d: Any) -> dict:
        out = {}
        for key, value in d.parameters.items():
            if not tf.is_tensor(value):
                continue
            if isinstance(d, tfp.distributions.MultivariateNormalDiag) and key == "scale_diag":
                key = "scale"
            out[key] = value
        return out

    return tf.nest.map_structure(params, nested_distribution)


def _assert_value_spec(output_spec: Any, network_name: str) -> None:
    for v in tf.nest.flatten(output_spec):
        if not isinstance(v, tf.TensorSpec):
            raise ValueError(
                f"{network_name} emits outputs that are not tensors; spec: {output_spec}"
            )
        if tuple(v.shape) not in ((), (1,)):
            raise ValueError(f"{network_name} emits multiple values; spec: {output_spec}")
        if not v.dtype.is_floating:
            raise ValueError(
                f"{network_name} emits outputs that are not real numbers; spec: {output_spec}"
            )


class PPOPolicy(actor_policy.ActorPolicy):
    """An `ActorPolicy` that also reports what PPO trains on.

    With ``collect=True`` the info is a dict:

    * ``'dist_params'``: per action, the distribution's tensor parameters
      (Categorical: ``{'logits'}`` ``[B] + shape + [n]``; Normal:
      ``{'loc', 'scale'}`` ``[B] + shape``).
    * ``'value_prediction'``: float32 ``[B]`` from the value network, unless
      ``compute_value_and_advantage_in_train``.

    The state is a dict with ``'actor_network_state'`` (if the actor is
    recurrent) and ``'value_network_state'`` (if collecting values with a
    recurrent value network), or ``()`` when neither is stateful.

    Args:
      time_step_spec: `TimeStep` of `TensorSpec`s.
      action_spec: Nest of `BoundedTensorSpec`s.
      actor_network: A distribution network (tfdrive's or TF-Agents').
      value_network: A network producing one float per observation.
      observation_normalizer: Optional `TensorNormalizer` applied to the
        observations of both networks.
      clip: Clip sampled actions to the spec.
      collect: Whether to emit the info above (the collection policy).
      compute_value_and_advantage_in_train: Leave values to training.

    Raises:
      TypeError: If either network lacks the network protocol.
      ValueError: Mismatched action spec or non-scalar value output.
      NotImplementedError: ``collect`` with an actor network whose output
        spec is not a nest of distribution specs.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        actor_network: Any,
        value_network: Any,
        observation_normalizer: Any = None,
        clip: bool = True,
        collect: bool = True,
        compute_value_and_advantage_in_train: bool = False,
    ):
        if not network_lib.is_network(actor_network):
            raise TypeError("actor_network is not of type network.Network")
        if not network_lib.is_network(value_network):
            raise TypeError("value_network is not of type network.Network")
        time_step_spec = tensor_spec.from_spec(time_step_spec)
        action_spec = tensor_spec.from_spec(action_spec)
        value_output_spec = value_network.create_variables(time_step_spec.observation)
        _assert_value_spec(value_output_spec, "value_network")
        self._compute_value_and_advantage_in_train = compute_value_and_advantage_in_train
        if collect:
            if not network_lib.is_distribution_network(actor_network):
                raise NotImplementedError(
                    "tfdrive's PPOPolicy collects with distribution networks only (an "
                    "`output_spec` of DistributionSpecs); got "
                    f"{type(actor_network).__name__}."
                )
            actor_network.create_variables(time_step_spec.observation)
            info_spec: Any = {
                "dist_params": tf.nest.map_structure(
                    lambda spec: spec.input_params_spec, actor_network.output_spec
                )
            }
            if not compute_value_and_advantage_in_train:
                info_spec["value_prediction"] = tf.TensorSpec(
                    shape=[], dtype=tf.float32, name="value_prediction"
                )
        else:
            info_spec = ()
        policy_state_spec: Any = {}
        if actor_network.state_spec:
            policy_state_spec["actor_network_state"] = actor_network.state_spec
        if collect and value_network.state_spec and not compute_value_and_advantage_in_train:
            policy_state_spec["value_network_state"] = value_network.state_spec
        if not policy_state_spec:
            policy_state_spec = ()
        self._collect = collect
        self._value_network = value_network
        super().__init__(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            policy_state_spec=policy_state_spec,
            info_spec=info_spec,
            actor_network=actor_network,
            observation_normalizer=observation_normalizer,
            clip=clip,
        )

    def get_initial_value_state(self, batch_size: Any) -> Any:
        """Zeros per the value network's state spec (``[batch_size] + shape``)."""
        return tensor_spec.zero_spec_nest(
            self._value_network.state_spec,
            outer_dims=None if batch_size is None else [batch_size],
        )

    def apply_value_network(
        self,
        observations: Any,
        step_types: Any,
        value_state: Any | None = None,
        training: bool = False,
    ) -> Any:
        """Runs the value network on (normalized) observations.

        Args:
          observations: Observations with outer dims ``[B]`` or ``[B, T]``.
          step_types: Step types shaped like the outer dims.
          value_state: Value network state (``[B]`` outer dim) or None/`()`.
          training: Passed to the network.

        Returns:
          ``(value_preds, new_value_state)``; values are float32 shaped like
          the outer dims.
        """
        if self._observation_normalizer:
            observations = self._observation_normalizer.normalize(observations)
        return self._value_network(observations, step_types, value_state, training=training)

    def _apply_actor_network(self, time_step, policy_state, training=False):
        observation = time_step.observation
        if self._observation_normalizer:
            observation = self._observation_normalizer.normalize(observation)
        return self._actor_network(
            observation, time_step.step_type, network_state=policy_state, training=training
        )

    def _variables(self) -> list:
        variables = list(self._actor_network.variables) + list(self._value_network.variables)
        if self._observation_normalizer:
            variables += list(tf.nest.flatten(self._observation_normalizer.variables))
        return variables

    def _distribution(self, time_step, policy_state, training=False):
        policy_state = dict(policy_state) if policy_state else {}
        actor_state = policy_state.get("actor_network_state", ())
        value_state = policy_state.get("value_network_state", ())
        distributions, new_actor_state = self._apply_actor_network(
            time_step, actor_state, training=training
        )
        new_value_state: Any = ()
        if self._collect:
            info: Any = {"dist_params": get_distribution_params(distributions)}
            if not self._compute_value_and_advantage_in_train:
                info["value_prediction"], new_value_state = self.apply_value_network(
                    time_step.observation,
                    time_step.step_type,
                    value_state=value_state,
                    training=False,
                )
        else:
            info = ()
        new_state: Any = {}
        if common.safe_has_state(new_actor_state):
            new_state["actor_network_state"] = new_actor_state
        if common.safe_has_state(new_value_state):
            new_state["value_network_state"] = new_value_state
        if not new_state:
            new_state = ()
        return policy_step.PolicyStep(distributions, new_state, info)

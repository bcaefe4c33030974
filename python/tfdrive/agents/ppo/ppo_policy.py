"""`PPOPolicy`: the actor policy PPO collects with (distribution params and values in info)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Iterator

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.policies import actor_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common, nest_utils

__all__ = ["PPOPolicy", "get_distribution_params"]


class _Params:
    """The parameters of a distribution (or bijector), recursively.

    The same shape as TF-Agents' `distributions.utils.Params`: ``type_`` and
    ``params`` (a dict of the constructor arguments that differ from their
    defaults; sub-objects with ``parameters`` become `_Params` too).
    """

    __slots__ = ("type_", "params")

    def __init__(self, type_: type, params: Mapping[str, Any]):
        self.type_ = type_
        self.params = params


def _is_params(value: Any) -> bool:
    return hasattr(value, "type_") and isinstance(getattr(value, "params", None), Mapping)


def _get_parameters(value: Any) -> Any:
    """`_Params` of `value` (a distribution, bijector, ...).

    Objects whose ``parameters`` dict is empty are returned as they are.

    Raises:
      TypeError: If `value` has no ``parameters`` dict.
    """
    parameters = getattr(value, "parameters", None)
    if not isinstance(parameters, Mapping):
        raise TypeError(
            "value.parameters is not available or is not a dict; "
            f"value: {value}; parameters: {parameters}"
        )
    if not parameters:
        return value
    defaults = {
        name: p.default
        for name, p in inspect.signature(type(value).__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }

    def process(p: Any) -> Any:
        return _get_parameters(p) if getattr(p, "parameters", None) is not None else p

    return _Params(
        type(value),
        {
            k: tf.nest.map_structure(process, v)
            for k, v in parameters.items()
            if v is not defaults.get(k, None)
        },
    )


def _flatten_with_joined_paths(structure: Any, path: tuple = ()) -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` pairs, path elements joined by '/' (dict keys sorted)."""
    if isinstance(structure, Mapping):
        items: Any = sorted(structure.items())
    elif isinstance(structure, tuple) and hasattr(type(structure), "_fields"):
        namedtuple_type: Any = type(structure)
        items = zip(namedtuple_type._fields, structure)
    elif isinstance(structure, (list, tuple)):
        items = enumerate(structure)
    else:
        yield "/".join(str(p) for p in path), structure
        return
    for key, value in items:
        yield from _flatten_with_joined_paths(value, path + (key,))


def _parameters_to_dict(params: Any) -> dict:
    """The tensor (or `TypeSpec`) leaves of a `Params` as a nested dict.

    A nested argument ``k`` gives keys ``'k:<path>'``; sub-`Params` give
    sub-dicts (empty when they hold no tensors). Works on TF-Agents'
    `Params` (as found in `DistributionSpecV2.parameters`) and on `_Params`.
    """
    out: dict = {}
    for key, value in params.params.items():
        if tf.nest.is_nested(value):
            entries = [(f"{key}:{p}", v) for p, v in _flatten_with_joined_paths(value)]
        else:
            entries = [(key, value)]
        for name, leaf in entries:
            if _is_params(leaf):
                out[name] = _parameters_to_dict(leaf)
            elif tf.is_tensor(leaf) or isinstance(leaf, tf.TypeSpec):
                out[name] = leaf
    return out


def get_distribution_params(
    nested_distribution: Any, legacy_distribution_network: bool = True
) -> Any:
    """The tensor parameters of each distribution, as a dict per leaf.

    Args:
      nested_distribution: A nest of `tfp.distributions.Distribution`s.
      legacy_distribution_network: Whether the distributions come from a
        legacy distribution network (an ``output_spec`` of
        `DistributionSpec`s): then each dict holds the distribution's own
        tensor ``parameters`` (a `MultivariateNormalDiag`'s ``scale_diag``
        named ``scale``). Otherwise the parameters are taken recursively
        (non-default constructor arguments; nested ones keyed ``'name:path'``,
        sub-distributions and bijectors as sub-dicts), tensors only.

    Returns:
      A nest like `nested_distribution` of dicts of tensors (e.g.
      ``{'logits'}`` for a categorical head, ``{'loc', 'scale'}`` for a normal
      one), shaped with the batch dimensions.
    """
    if not legacy_distribution_network:
        return tf.nest.map_structure(
            lambda d: _parameters_to_dict(_get_parameters(d)), nested_distribution
        )

    def tensor_parameters(d: Any) -> dict:
        renamed = isinstance(d, tfp.distributions.MultivariateNormalDiag)
        return {
            ("scale" if renamed and k == "scale_diag" else k): v
            for k, v in d.parameters.items()
            if tf.is_tensor(v)
        }

    return tf.nest.map_structure(tensor_parameters, nested_distribution)


@configurable
class PPOPolicy(actor_policy.ActorPolicy):
    """An `ActorPolicy` that also reports what PPO trains on.

    With ``collect=True`` the info is a dict:

    * ``'dist_params'``: per action, the distribution's tensor parameters
      (see `get_distribution_params`; e.g. Categorical ``{'logits'}`` shaped
      ``[B] + shape + [n]``, Normal ``{'loc', 'scale'}`` ``[B] + shape``).
    * ``'value_prediction'``: float32, the value network's output for the
      batch (``[B]``, or ``[B, 1]`` for a network emitting shape ``(1,)``),
      unless ``compute_value_and_advantage_in_train``.

    The state is a dict with ``'actor_network_state'`` (if the actor is
    recurrent) and ``'value_network_state'`` (if collecting values with a
    recurrent value network), or ``()`` when neither is stateful.

    Args:
      time_step_spec: `TimeStep` of `TensorSpec`s (tfdrive's or TF-Agents').
      action_spec: Nest of `BoundedTensorSpec`s.
      actor_network: A network (tfdrive's, TF-Agents' or any with the
        network protocol) emitting either a nest of distributions matching
        `action_spec` (a legacy distribution network, or any network whose
        outputs are distributions) or, with ``collect=False``, a nest of
        action tensors (taken as `Deterministic` distributions).
      value_network: A network emitting one float per observation (output
        spec shaped ``()`` or ``(1,)``).
      observation_normalizer: Optional `TensorNormalizer` applied to the
        observations of both networks.
      clip: Clip sampled actions to the spec.
      collect: Whether to emit the info above (the collection policy).
      compute_value_and_advantage_in_train: Leave values to training: no
        ``value_prediction`` in the info and no value network state.

    Raises:
      TypeError: If either network lacks the network protocol.
      ValueError: If the actor's output does not match `action_spec`, the
        value network does not emit one real number, or (``collect``) the
        actor emits tensors rather than distributions.
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
        if not actor_policy.is_network(actor_network):
            raise TypeError("actor_network is not of type network.Network")
        if not actor_policy.is_network(value_network):
            raise TypeError("value_network is not of type network.Network")
        time_step_spec = tensor_spec.from_spec(time_step_spec)
        action_spec = tensor_spec.from_spec(action_spec)
        actor_output_spec = actor_network.create_variables(time_step_spec.observation)
        value_output_spec = value_network.create_variables(time_step_spec.observation)
        nest_utils.assert_value_spec(value_output_spec, "value_network")
        actor_policy.assert_specs_are_compatible(
            actor_output_spec, action_spec, "actor_network output spec does not match action spec"
        )
        self._compute_value_and_advantage_in_train = compute_value_and_advantage_in_train
        self._legacy_distribution_network = actor_policy.is_distribution_network(actor_network)

        if collect:
            if self._legacy_distribution_network:
                dist_params_spec = tf.nest.map_structure(
                    lambda spec: spec.input_params_spec, actor_network.output_spec
                )
            else:

                def nested_dist_params(spec: Any) -> dict:
                    if not actor_policy.is_distribution_spec_v2(spec):
                        raise ValueError(
                            "Unexpected output from `actor_network`.  Expected "
                            "`Distribution` objects, but saw output spec: "
                            f"{actor_output_spec}"
                        )
                    return _parameters_to_dict(spec.parameters)

                dist_params_spec = tf.nest.map_structure(nested_dist_params, actor_output_spec)
            info_spec: Any = {"dist_params": dist_params_spec}
            if not compute_value_and_advantage_in_train:
                info_spec["value_prediction"] = tensor_spec.TensorSpec(
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

        super().__init__(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            policy_state_spec=policy_state_spec,
            info_spec=info_spec,
            actor_network=actor_network,
            observation_normalizer=observation_normalizer,
            clip=clip,
        )
        self._collect = collect
        self._value_network = value_network

    def get_initial_value_state(self, batch_size: Any) -> Any:
        """Zeros per the value network's state spec (``[batch_size] + shape``; None: unbatched)."""
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
          observations: Observations with outer dims ``[B]`` or ``[B, T]``
            (a recurrent value network then runs over the T steps).
          step_types: Step types shaped like the outer dims.
          value_state: Initial value network state (outer dim ``[B]``); None
            or `()` leave it to the network.
          training: Passed to the network.

        Returns:
          ``(value_preds, new_value_state)``: values shaped like the outer
          dims (plus the network's own trailing dims), and the value state at
          the end of the sequence.
        """
        if self._observation_normalizer:
            observations = self._observation_normalizer.normalize(observations)
        # By keyword, as TF-Agents calls it: custom `call` signatures may differ.
        return self._value_network(
            observations, step_type=step_types, network_state=value_state, training=training
        )

    def _apply_actor_network(self, time_step, policy_state, training=False):
        """Runs the actor on ``time_step``'s (normalized) observation: ``(outputs, new_state)``."""
        observation = time_step.observation
        if self._observation_normalizer:
            observation = self._observation_normalizer.normalize(observation)
        return self._actor_network(
            observation,
            step_type=time_step.step_type,
            network_state=policy_state,
            training=training,
        )

    def _variables(self) -> list:
        variables = list(self._actor_network.variables) + list(self._value_network.variables)
        if self._observation_normalizer:
            variables += list(self._observation_normalizer.variables)
        return variables

    def _distribution(self, time_step, policy_state, training=False):
        policy_state = dict(policy_state) if policy_state else {}
        actor_state = policy_state.get("actor_network_state", ())
        value_state = policy_state.get("value_network_state", ())
        outputs, new_actor_state = self._apply_actor_network(
            time_step, actor_state, training=training
        )
        distributions = tf.nest.map_structure(actor_policy.to_distribution, outputs)
        new_value_state = ()
        if self._collect:
            info = {
                "dist_params": get_distribution_params(
                    distributions, legacy_distribution_network=self._legacy_distribution_network
                )
            }
            if not self._compute_value_and_advantage_in_train:
                info["value_prediction"], new_value_state = self.apply_value_network(
                    time_step.observation,
                    time_step.step_type,
                    value_state=value_state,
                    training=False,
                )
        else:
            info = ()
        new_state = {}
        if common.safe_has_state(new_actor_state):
            new_state["actor_network_state"] = new_actor_state
        if common.safe_has_state(new_value_state):
            new_state["value_network_state"] = new_value_state
        if not new_state:
            new_state = ()
        return policy_step.PolicyStep(distributions, new_state, info)

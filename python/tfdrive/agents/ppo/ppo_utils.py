"""Helpers of the PPO agent (TF-Agents' `agents.ppo.ppo_utils`).

Masks of valid steps, conversions between distributions and their parameter
tensors (to store the collect policy's distribution in `policy_info` and
rebuild it at train time), KL divergences of nested distributions, metric
observers and the optimizer's learning rate.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.specs import distribution_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.utils import nest_utils

__all__ = [
    "distribution_from_spec",
    "get_distribution_params",
    "get_learning_rate",
    "get_metric_observers",
    "make_timestep_mask",
    "make_trajectory_mask",
    "nested_kl_divergence",
]


def make_trajectory_mask(batched_traj: Any) -> tf.Tensor:
    """1.0 for steps to train on, 0.0 for the rest; float32 `[B, T]`.

    Masked out: boundary steps (LAST -> FIRST) and steps whose
    `policy_info['return']` and `policy_info['advantage']` are both 0 (no value
    was computed for them, e.g. the final step of an incomplete episode).
    """
    not_between_episodes = ~batched_traj.is_boundary()
    info = batched_traj.policy_info
    valid_return_value = ~(tf.equal(info["return"], 0) & tf.equal(info["advantage"], 0))
    return tf.cast(not_between_episodes & valid_return_value, tf.float32)


def make_timestep_mask(batched_next_time_step: Any, allow_partial_episodes: bool = False) -> Any:
    """1.0 for transitions to train on, float32 `[B, T]`.

    Args:
      batched_next_time_step: the `[B, T]` next time steps of the transitions.
      allow_partial_episodes: keep steps of episodes that do not end within
        the batch; otherwise only steps followed (later in time) by a LAST step
        count.

    Returns:
      The mask; transitions into a FIRST step (episode boundaries) are 0.
    """
    not_between_episodes = ~batched_next_time_step.is_first()
    if allow_partial_episodes:
        return tf.cast(not_between_episodes, tf.float32)
    # A step belongs to a complete episode when a LAST step follows it.
    is_last = tf.cast(batched_next_time_step.is_last(), tf.float32)
    episode_is_complete = tf.cumsum(is_last, axis=1, reverse=True) > 0
    return tf.cast(episode_is_complete & not_between_episodes, tf.float32)


def _is_params(value: Any) -> bool:
    """A distribution `Params` (TF-Agents' or tfdrive's): `type_` and `params`."""
    return hasattr(value, "type_") and isinstance(getattr(value, "params", None), dict)


def _merge_params(params: Any, values: dict) -> Any:
    """`params` with the entries of the (nested) dict `values` replacing its own."""
    merged = dict(params.params)
    for key, value in values.items():
        if _is_params(merged.get(key)) and isinstance(value, dict):
            merged[key] = _merge_params(merged[key], value)
        else:
            merged[key] = value
    return type(params)(params.type_, merged)


def _make_from_params(params: Any) -> Any:
    """Instantiates `params.type_` with its (recursively built) parameters."""
    kwargs = {
        key: _make_from_params(value) if _is_params(value) else value
        for key, value in params.params.items()
    }
    return params.type_(**kwargs)


def distribution_from_spec(
    spec: Any, new_distribution_params: Any, legacy_distribution_network: bool
) -> Any:
    """Rebuilds a nest of distributions from their parameter tensors.

    Args:
      spec: with `legacy_distribution_network`, a nest of `DistributionSpec`s
        (a legacy network's output spec); otherwise a nest of distribution
        specs whose `parameters` (`Params`) give the distribution types and
        non-tensor parameters.
      new_distribution_params: the matching nest of parameter dicts (as from
        `get_distribution_params`).
      legacy_distribution_network: which kind of spec `spec` is.

    Returns:
      The nest of distributions.
    """
    if legacy_distribution_network:
        return distribution_spec.nested_distributions_from_specs(spec, new_distribution_params)
    return nest_utils.map_structure_up_to(
        spec,
        lambda s, params: _make_from_params(_merge_params(s.parameters, params)),
        spec,
        new_distribution_params,
    )


def _tensor_parameters(distribution: Any) -> dict:
    """The tensor-valued parameters of a distribution; nested distributions and
    bijectors (e.g. of a `TransformedDistribution`) as dicts of theirs."""
    parameters = {}
    for key, value in distribution.parameters.items():
        if isinstance(value, (tfp.distributions.Distribution, tfp.bijectors.Bijector)):
            nested = _tensor_parameters(value)
            if nested:
                parameters[key] = nested
        elif tf.is_tensor(value):
            parameters[key] = value
    return parameters


def get_distribution_params(nested_distribution: Any, legacy_distribution_network: bool) -> Any:
    """The nest of parameter-tensor dicts of a nest of distributions.

    Args:
      nested_distribution: a nest of `tfp.distributions.Distribution`s.
      legacy_distribution_network: produce the keys a legacy `DistributionSpec`
        builder takes (top-level tensor parameters only;
        `MultivariateNormalDiag`'s `scale_diag` is named `scale`).

    Returns:
      A nest (the distributions') of `{name: tensor}` dicts.
    """
    if not legacy_distribution_network:
        return tf.nest.map_structure(_tensor_parameters, nested_distribution)

    def legacy_parameters(distribution):
        renamed = isinstance(distribution, tfp.distributions.MultivariateNormalDiag)
        return {
            ("scale" if renamed and key == "scale_diag" else key): value
            for key, value in distribution.parameters.items()
            if tf.is_tensor(value)
        }

    return tf.nest.map_structure(legacy_parameters, nested_distribution)


def nested_kl_divergence(
    nested_from_distribution: Any, nested_to_distribution: Any, outer_dims: Sequence[int] = ()
) -> tf.Tensor:
    """The sum of `KL(from || to)` over a nest of distributions.

    Args:
      nested_from_distribution: a nest of distributions.
      nested_to_distribution: a nest of distributions of the same structure.
      outer_dims: dims of the KL tensors to keep (e.g. `(0,)` for a batch);
        every other dim is summed.

    Returns:
      The total KL divergence, shaped by `outer_dims`.
    """
    nest_utils.assert_same_structure(nested_from_distribution, nested_to_distribution)
    kl_divergences = []
    for from_dist, to_dist in zip(
        tf.nest.flatten(nested_from_distribution),
        tf.nest.flatten(nested_to_distribution),
        strict=True,
    ):
        kl_divergence = from_dist.kl_divergence(to_dist)
        reduce_dims = [d for d in range(len(kl_divergence.shape)) if d not in outer_dims]
        kl_divergences.append(tf.reduce_sum(input_tensor=kl_divergence, axis=reduce_dims))
    return tf.add_n(kl_divergences)


def get_metric_observers(metrics: Sequence[Any]) -> list[Any]:
    """Wraps metrics as `(time_step, action, next_time_step, policy_state)` observers."""

    def observer_of(metric):
        def metric_observer(time_step, action, next_time_step, policy_state):
            action_step = policy_step.PolicyStep(action, policy_state, ())
            return metric(trajectory.from_transition(time_step, action_step, next_time_step))

        return metric_observer

    return [observer_of(metric) for metric in metrics]


def get_learning_rate(optimizer: Any) -> Any:
    """The optimizer's learning rate (Keras or TF1 optimizers); -1 when unknown.

    A callable learning rate (TF1 optimizers) is called.
    """
    if hasattr(optimizer, "learning_rate"):
        return optimizer.learning_rate
    for attribute in ("_lr", "_learning_rate"):
        if hasattr(optimizer, attribute):
            learning_rate = getattr(optimizer, attribute)
            return learning_rate() if callable(learning_rate) else learning_rate
    return -1

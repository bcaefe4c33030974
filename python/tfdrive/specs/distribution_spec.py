"""`DistributionSpec`: the spec of a distribution-valued network output.

A distribution network (an actor or projection network) emits `tfp`
distributions rather than tensors. Its ``output_spec`` is a nest of
`DistributionSpec`s, each naming the callable that builds the distribution
(``builder``), the tensor parameters it is built from (``input_params_spec``,
shapes without outer dims) and the spec of one sample (``sample_spec``,
usually the action spec).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = [
    "DistributionSpec",
    "deterministic_distribution_from_spec",
    "nested_distributions_from_specs",
]


class DistributionSpec:
    """Describes a `tfp.distributions.Distribution` output.

    Args:
      builder: Callable ``builder(**parameters) -> Distribution``.
      input_params_spec: Nest of `TensorSpec`s of the tensor parameters the
        builder needs (e.g. ``{'logits': TensorSpec([n])}``).
      sample_spec: Spec of one sample of the distribution.
      **distribution_parameters: Fixed keyword arguments of `builder`, merged
        under those given to `build_distribution`.
    """

    __slots__ = ("_builder", "_input_params_spec", "_sample_spec", "_distribution_parameters")

    def __init__(
        self,
        builder: Callable[..., Any],
        input_params_spec: Any,
        sample_spec: Any,
        **distribution_parameters: Any,
    ):
        self._builder = builder
        self._input_params_spec = input_params_spec
        self._sample_spec = sample_spec
        self._distribution_parameters = distribution_parameters

    @property
    def builder(self) -> Callable[..., Any]:
        return self._builder

    @property
    def input_params_spec(self) -> Any:
        return self._input_params_spec

    @property
    def sample_spec(self) -> Any:
        return self._sample_spec

    @property
    def distribution_parameters(self) -> dict:
        return self._distribution_parameters

    def build_distribution(self, **distribution_parameters: Any) -> Any:
        """Calls `builder` with the fixed parameters updated by these ones."""
        kwargs = dict(self._distribution_parameters)
        kwargs.update(distribution_parameters)
        return self._builder(**kwargs)

    def __repr__(self) -> str:
        return (
            f"DistributionSpec(builder={self.builder}, "
            f"input_params_spec={self.input_params_spec!r}, sample_spec={self.sample_spec!r})"
        )


def deterministic_distribution_from_spec(spec: Any) -> DistributionSpec:
    """A `DistributionSpec` of `tfp.distributions.Deterministic` whose ``loc`` has `spec`."""
    return DistributionSpec(tfp.distributions.Deterministic, {"loc": spec}, sample_spec=spec)


def nested_distributions_from_specs(specs: Any, parameters: Any) -> Any:
    """Builds one distribution per `DistributionSpec` leaf of `specs`.

    Args:
      specs: Nest of `DistributionSpec`s.
      parameters: Nest of the same structure down to `specs`' leaves, each a
        dict of keyword arguments for that spec's `build_distribution`.

    Returns:
      The nest of distributions, structured like `specs`.
    """
    flat_specs = tf.nest.flatten(specs)
    flat_parameters = _flatten_up_to(specs, parameters)
    return tf.nest.pack_sequence_as(
        specs,
        [spec.build_distribution(**kwargs) for spec, kwargs in zip(flat_specs, flat_parameters)],
    )


def _flatten_up_to(shallow: Any, deep: Any) -> list:
    """The subtrees of `deep` at the leaves of `shallow`, in `tf.nest.flatten` order."""
    if not tf.nest.is_nested(shallow):
        return [deep]
    if isinstance(shallow, Mapping):
        return [x for key in sorted(shallow) for x in _flatten_up_to(shallow[key], deep[key])]
    if len(shallow) != len(deep):
        raise ValueError(f"`parameters` {deep} does not have the structure of `specs` {shallow}.")
    return [x for s, d in zip(shallow, deep) for x in _flatten_up_to(s, d)]

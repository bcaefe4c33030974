"""Categorical head: a dense layer producing logits for discrete actions."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import layers
from tfdrive.networks.network import DistributionSpec
from tfdrive.specs import tensor_spec

__all__ = ["CategoricalProjectionNetwork"]


class CategoricalProjectionNetwork(tf.Module):
    """Maps features ``[N, k]`` to a `tfp.distributions.Categorical`.

    For an action spec of shape ``S`` with ``n = maximum - minimum + 1``
    actions, the logits are ``outer + S + [n]`` float32 and samples have the
    spec's dtype and lie in ``[0, n)`` (like TF-Agents, the minimum is not
    added; use ``minimum=0``).

    Args:
      in_units: Feature size ``k``.
      sample_spec: A discrete `BoundedTensorSpec` with the same number of
        actions in every dimension.
      logits_init_output_factor: Scale of the kernel's variance-scaling init.
      rng: Numpy generator for initial values.

    Raises:
      ValueError: Unequal or empty action ranges across dimensions, or a
        spec that is not bounded and discrete.
    """

    def __init__(
        self,
        in_units: int,
        sample_spec: Any,
        logits_init_output_factor: float = 0.1,
        rng: np.random.Generator | None = None,
        name: str = "CategoricalProjectionNetwork",
    ):
        super().__init__(name=name)
        if not isinstance(sample_spec, tensor_spec.BoundedTensorSpec):
            raise ValueError(f"sample_spec must be bounded. Got: {type(sample_spec)}.")
        if not sample_spec.dtype.is_integer:
            raise ValueError(f"sample_spec must be discrete. Got: {sample_spec}.")
        num_actions = np.unique(
            np.asarray(sample_spec.maximum) - np.asarray(sample_spec.minimum) + 1
        )
        if len(num_actions) > 1 or np.any(num_actions <= 0):
            raise ValueError(
                "Bounds on discrete actions must be the same for all dimensions and have at "
                "least 1 action. Projection Network requires num_actions to be equal across "
                "action dimensions."
            )
        rng = rng if rng is not None else layers.make_rng(None)
        self._sample_spec = sample_spec
        self._output_shape = list(sample_spec.shape.as_list()) + [int(num_actions[0])]
        out_units = int(np.prod(self._output_shape))
        with self.name_scope:
            self.logits = layers.Dense(
                in_units,
                out_units,
                None,
                layers.variance_scaling([in_units, out_units], logits_init_output_factor, rng),
                name="logits",
            )
        self.output_spec = DistributionSpec(
            tfp.distributions.Categorical,
            {
                "logits": tf.TensorSpec(
                    shape=self._output_shape, dtype=tf.float32, name=f"{name}_logits"
                )
            },
            sample_spec=sample_spec,
            dtype=sample_spec.dtype,
        )

    @property
    def layer_variables(self) -> list:
        return self.logits.layer_variables

    def __call__(self, x: tf.Tensor, outer_shape: Any, mask: tf.Tensor | None = None) -> Any:
        logits = layers.unflatten(
            tf.reshape(self.logits(x), [-1] + self._output_shape), outer_shape
        )
        if mask is not None:
            mask = tf.convert_to_tensor(mask)
            if mask.shape.rank < logits.shape.rank:
                mask = tf.expand_dims(mask, -2)
            logits = tf.where(
                tf.cast(mask, tf.bool), logits, tf.constant(logits.dtype.min, logits.dtype)
            )
        return self.output_spec.build_distribution(logits=logits)

"""Normal head: tanh-squashed means and a state-independent softplus std."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import layers
from tfdrive.networks.network import DistributionSpec

__all__ = ["NormalProjectionNetwork", "tanh_squash_to_spec"]


def tanh_squash_to_spec(inputs: tf.Tensor, spec: Any) -> tf.Tensor:
    """Maps ``inputs`` into ``(minimum, maximum)`` of `spec` with a tanh."""
    low = np.asarray(spec.minimum, np.float32)
    high = np.asarray(spec.maximum, np.float32)
    return (high + low) / 2.0 + (high - low) / 2.0 * tf.tanh(inputs)


class NormalProjectionNetwork(tf.Module):
    """Maps features ``[N, k]`` to a Normal distribution over a continuous action.

    Means: ``tanh_squash_to_spec(x @ W + b)``, shaped ``outer + spec.shape``.
    Scale: ``softplus(std_bias)`` broadcast to the means' shape, where
    ``std_bias`` is one trainable vector (``[spec.shape[-1]]``, or ``[1]`` for
    a scalar spec) independent of the input. A spec of rank >= 1 gives a
    `MultivariateNormalDiag` (log-probabilities summed over the last axis),
    a scalar spec a `Normal`.

    Args:
      in_units: Feature size ``k``.
      sample_spec: A float `BoundedTensorSpec`.
      init_means_output_factor: Scale of the means kernel's init.
      std_bias_initializer_value: Initial value of ``std_bias``.
      rng: Numpy generator for initial values.
    """

    def __init__(
        self,
        in_units: int,
        sample_spec: Any,
        init_means_output_factor: float = 0.1,
        std_bias_initializer_value: float = 0.0,
        rng: np.random.Generator | None = None,
        name: str = "NormalProjectionNetwork",
    ):
        super().__init__(name=name)
        rng = rng if rng is not None else layers.make_rng(None)
        self._sample_spec = sample_spec
        self._shape = sample_spec.shape.as_list()
        self._is_multivariate = len(self._shape) > 0
        out_units = int(np.prod(self._shape, dtype=np.int64))
        bias_units = self._shape[-1] if self._shape else 1
        with self.name_scope:
            self.means_projection_layer = layers.Dense(
                in_units,
                out_units,
                None,
                layers.variance_scaling([in_units, out_units], init_means_output_factor, rng),
                name="means_projection_layer",
            )
            self.std_bias = tf.Variable(
                np.full([bias_units], std_bias_initializer_value, np.float32), name="bias"
            )
        params = {
            name_: tf.TensorSpec(shape=self._shape, dtype=sample_spec.dtype, name=f"{name}_{name_}")
            for name_ in ("loc", "scale")
        }
        self.output_spec = DistributionSpec(self._build, params, sample_spec=sample_spec)

    def _build(self, loc: tf.Tensor, scale: tf.Tensor) -> Any:
        if self._is_multivariate:
            return tfp.distributions.MultivariateNormalDiag(loc=loc, scale_diag=scale)
        return tfp.distributions.Normal(loc=loc, scale=scale)

    @property
    def layer_variables(self) -> list:
        return self.means_projection_layer.layer_variables + [self.std_bias]

    def __call__(self, x: tf.Tensor, outer_shape: Any, mask: tf.Tensor | None = None) -> Any:
        if mask is not None:
            raise NotImplementedError(
                f"NormalProjectionNetwork does not yet implement action masking; got mask={mask}"
            )
        means = tf.reshape(self.means_projection_layer(x), [-1] + self._shape)
        means = tf.cast(tanh_squash_to_spec(means, self._sample_spec), self._sample_spec.dtype)
        stds = tf.nn.softplus(tf.zeros_like(means) + self.std_bias)
        stds = tf.cast(stds, self._sample_spec.dtype)
        return self.output_spec.build_distribution(
            loc=layers.unflatten(means, outer_shape), scale=layers.unflatten(stds, outer_shape)
        )

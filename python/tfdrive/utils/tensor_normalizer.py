"""Observation normalizers: running mean / variance estimates kept in variables.

`normalize(x) = clip((x - mean) / sqrt(var + variance_epsilon), ±clip_value)`
per element, with the statistics of the values passed to `update`.
int32 and float32 inputs keep float32 statistics, int64 and float64 ones
float64; normalized outputs are cast back to the spec's dtype.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import tensorflow as tf

__all__ = [
    "EMATensorNormalizer",
    "StreamingTensorNormalizer",
    "TensorNormalizer",
    "kahan_summation",
    "parallel_variance_calculation",
]

_EPS = 1e-8
_DTYPE_CONVERSION = {
    tf.int32: tf.float32,
    tf.int64: tf.float64,
    tf.float32: tf.float32,
    tf.float64: tf.float64,
}


class TensorNormalizer(tf.Module, metaclass=abc.ABCMeta):
    """Base class: normalizes a nest of tensors matching `tensor_spec`.

    Args:
      tensor_spec: Nest of `TensorSpec`s of one (unbatched) value.
      scope: Module name.
    """

    def __init__(self, tensor_spec: Any, scope: str = "normalize_tensor"):
        super().__init__(name=scope)
        self._scope = scope
        self._tensor_spec = tensor_spec
        self._flat_variable_spec = [
            tf.TensorSpec(s.shape, self.map_dtype(s.dtype), name=s.name)
            for s in tf.nest.flatten(tensor_spec)
        ]
        with self.name_scope:
            self._create_variables()

    def __setattr__(self, name: str, value: Any) -> None:
        # Specs stay plain nests (tf.Module tracking would wrap lists and dicts).
        if name in ("_tensor_spec", "_flat_variable_spec"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def map_dtype(self, dtype: tf.DType) -> tf.DType:
        """The dtype statistics are kept in for inputs of `dtype`."""
        return _DTYPE_CONVERSION.get(tf.as_dtype(dtype), tf.float32)

    @property
    def nested(self) -> bool:
        return tf.nest.is_nested(self._tensor_spec)

    @abc.abstractmethod
    def _create_variables(self) -> None:
        """Creates the statistics variables."""

    @property
    @abc.abstractmethod
    def variables(self) -> Any:
        """The statistics variables, as a tuple of nests like `tensor_spec`."""

    @abc.abstractmethod
    def _update_ops(self, flat_tensors: list, outer_dims: Sequence[int]) -> list:
        """Updates the statistics from flat, converted tensors."""

    @abc.abstractmethod
    def _get_mean_var_estimates(self) -> tuple[list, list]:
        """Returns flat lists ``(means, variances)``."""

    def _check(self, tensor: Any, name: str) -> list:
        try:
            tf.nest.assert_same_structure(tensor, self._tensor_spec, check_types=False)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{type(self).__name__}: `{name}` structure does not match `tensor_spec` "
                f"{self._tensor_spec}: {e}"
            ) from None
        flat = []
        for t, spec in zip(tf.nest.flatten(tensor), tf.nest.flatten(self._tensor_spec)):
            t = tf.convert_to_tensor(t)
            rank = spec.shape.rank
            inner = t.shape[t.shape.rank - rank :] if rank else tf.TensorShape([])
            if t.dtype != spec.dtype or not inner.is_compatible_with(spec.shape):
                raise ValueError(
                    f"{type(self).__name__}: `{name}` of dtype {t.dtype.name} and shape "
                    f"{t.shape} does not match `tensor_spec` {spec}."
                )
            flat.append(tf.cast(t, self.map_dtype(t.dtype)))
        return flat

    def update(self, tensor: Any, outer_dims: Sequence[int] = (0,)) -> tf.Operation:
        """Adds the values of `tensor` (outer dims ahead of the spec's shape) to the statistics.

        Args:
          tensor: Nest matching `tensor_spec`, e.g. ``[B] + shape`` or
            ``[B, T] + shape``.
          outer_dims: The axes averaged over (the EMA normalizer uses them;
            the streaming one reduces over all outer dims).
        """
        flat = self._check(tensor, "tensor")
        return tf.group(self._update_ops(flat, tuple(outer_dims)))

    def normalize(
        self,
        tensor: Any,
        clip_value: float = 5.0,
        center_mean: bool = True,
        variance_epsilon: float = 1e-3,
    ) -> Any:
        """Returns ``(tensor - mean) / sqrt(var + variance_epsilon)``, clipped.

        Args:
          tensor: Nest matching `tensor_spec` (any outer dims).
          clip_value: Clip to ``[-clip_value, clip_value]``; <= 0 disables.
          center_mean: Subtract the mean (else only scale).
          variance_epsilon: Added to the variance.

        Returns:
          A nest like `tensor`, cast to the spec's dtypes.
        """
        flat = self._check(tensor, "tensors")
        means, variances = self._get_mean_var_estimates()
        out = []
        for t, mean, var, spec in zip(flat, means, variances, tf.nest.flatten(self._tensor_spec)):
            mean = tf.convert_to_tensor(mean)
            if not center_mean:
                mean = tf.zeros_like(mean)
            y = (t - mean) * tf.math.rsqrt(tf.convert_to_tensor(var) + variance_epsilon)
            if clip_value > 0:
                y = tf.clip_by_value(y, -clip_value, clip_value)
            out.append(tf.cast(y, spec.dtype))
        return tf.nest.pack_sequence_as(self._tensor_spec, out)


class EMATensorNormalizer(TensorNormalizer):
    """Exponential moving averages of mean and variance.

    Each `update` moves ``mean += rate * (batch_mean - mean)`` and
    ``var += rate * (mean_sq_dev - var)``, where ``mean_sq_dev`` is the
    batch's mean squared deviation from the *previous* mean. Starts at mean
    0, variance 1.
    """

    def __init__(
        self, tensor_spec: Any, scope: str = "normalize_tensor", norm_update_rate: float = 0.001
    ):
        super().__init__(tensor_spec, scope)
        self._norm_update_rate = norm_update_rate

    def _create_variables(self) -> None:
        self._mean_moving_avg = [
            tf.Variable(tf.zeros(s.shape, s.dtype), name="mean") for s in self._flat_variable_spec
        ]
        self._var_moving_avg = [
            tf.Variable(tf.ones(s.shape, s.dtype), name="var") for s in self._flat_variable_spec
        ]

    @property
    def variables(self) -> Any:
        return (
            tf.nest.pack_sequence_as(self._tensor_spec, self._mean_moving_avg),
            tf.nest.pack_sequence_as(self._tensor_spec, self._var_moving_avg),
        )

    def _update_ops(self, flat_tensors: list, outer_dims: Sequence[int]) -> list:
        ops = []
        rate = self._norm_update_rate
        for t, mean_var, var_var in zip(flat_tensors, self._mean_moving_avg, self._var_moving_avg):
            mean = tf.reduce_mean(t, axis=outer_dims)
            var = tf.reduce_mean(tf.math.squared_difference(t, mean_var), axis=outer_dims)
            ops.append(mean_var.assign_add(rate * (mean - mean_var)))
            ops.append(var_var.assign_add(rate * (var - var_var)))
        return ops

    def _get_mean_var_estimates(self) -> tuple[list, list]:
        return self._mean_moving_avg, self._var_moving_avg


def kahan_summation(accumulator: Any, carry: Any, value: Any) -> tuple[Any, Any]:
    """Compensated sum: returns ``(accumulator + value, new_carry)``."""
    delta = value - carry
    new_accumulator = accumulator + delta
    return new_accumulator, (new_accumulator - accumulator) - delta


def parallel_variance_calculation(n_a, avg_a, m2_a, n_b, avg_b, m2_b, m2_b_c):
    """Chan et al.'s merge of two (count, mean, M2) summaries, M2 Kahan-summed."""
    n_ab = n_a + n_b
    delta = avg_b - avg_a
    s_delta = delta * n_b / n_ab
    avg_ab = avg_a + s_delta
    m2_ab, m2_ab_c = kahan_summation(m2_b, m2_b_c, m2_a + delta * n_a * s_delta)
    return n_ab, avg_ab, m2_ab, m2_ab_c


class StreamingTensorNormalizer(TensorNormalizer):
    """Exact running mean and (population) variance of everything seen.

    Each `update` merges the batch (all outer dims) into per-element count,
    mean and M2 variables; variance is ``M2 / count``. The count starts at
    1e-8 (so an unfed normalizer has mean 0, variance 0).
    """

    def _create_variables(self) -> None:
        def make(name: str, value: float, i: int, spec: tf.TensorSpec) -> tf.Variable:
            return tf.Variable(
                tf.fill(spec.shape, tf.constant(value, spec.dtype)),
                name=f"{name}_{i}",
                trainable=False,
            )

        specs = list(enumerate(self._flat_variable_spec))
        self._count = [make("count", _EPS, i, s) for i, s in specs]
        self._avg = [make("avg", 0.0, i, s) for i, s in specs]
        self._m2 = [make("m2", 0.0, i, s) for i, s in specs]
        self._m2_carry = [make("m2_carry", 0.0, i, s) for i, s in specs]

    @property
    def variables(self) -> Any:
        pack = lambda vs: tf.nest.pack_sequence_as(self._tensor_spec, vs)  # noqa: E731
        return pack(self._count), pack(self._avg), pack(self._m2), pack(self._m2_carry)

    def _update_ops(self, flat_tensors: list, outer_dims: Sequence[int]) -> list:
        del outer_dims
        ops = []
        for i, t in enumerate(flat_tensors):
            outer_rank = t.shape.rank - self._flat_variable_spec[i].shape.rank
            axes = list(range(outer_rank))
            n_a = tf.cast(tf.reduce_prod(tf.shape(t)[:outer_rank]), self._count[i].dtype)
            avg_a = tf.reduce_mean(t, axes)
            m2_a = tf.reduce_sum(tf.math.squared_difference(t, avg_a), axes)
            n_ab, avg_ab, m2_ab, m2_ab_c = parallel_variance_calculation(
                n_a, avg_a, m2_a, self._count[i], self._avg[i], self._m2[i], self._m2_carry[i]
            )
            ops.extend(
                [
                    self._count[i].assign(n_ab),
                    self._avg[i].assign(avg_ab),
                    self._m2[i].assign(m2_ab),
                    self._m2_carry[i].assign(m2_ab_c),
                ]
            )
        return ops

    def _get_mean_var_estimates(self) -> tuple[list, list]:
        return self._avg, [m2 / n for m2, n in zip(self._m2, self._count)]

    def reset(self) -> list:
        """Forgets all statistics (count back to 1e-8, mean and M2 to 0)."""
        ops = []
        for i in range(len(self._count)):
            ops.extend(
                [
                    self._count[i].assign(_EPS * tf.ones_like(self._count[i])),
                    self._avg[i].assign(tf.zeros_like(self._avg[i])),
                    self._m2[i].assign(tf.zeros_like(self._m2[i])),
                    self._m2_carry[i].assign(tf.zeros_like(self._m2_carry[i])),
                ]
            )
        return ops

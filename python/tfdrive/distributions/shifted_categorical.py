"""`ShiftedCategorical`: a categorical over ``[shift, shift + K - 1]`` instead of ``[0, K - 1]``.

Policies whose action spec starts at a nonzero minimum (such as `QPolicy`)
sample class indices and offset them by the spec's minimum; every method
taking or returning a value applies the offset, so ``log_prob(sample())``
stays consistent.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["ShiftedCategorical"]


class ShiftedCategorical(tfp.distributions.Categorical):
    """`tfp.distributions.Categorical` whose values are offset by `shift`.

    Args:
      logits: ``[..., K]`` float logits (or pass `probs`).
      probs: ``[..., K]`` probabilities (or pass `logits`).
      dtype: The dtype of values (samples, mode), default int32.
      force_probs_to_zero_outside_support: As in `Categorical`.
      validate_args: As in `Categorical`.
      allow_nan_stats: As in `Categorical`.
      shift: Required; the value class 0 maps to (an int or a tensor of
        `dtype`, broadcasting against the batch shape).
      name: The distribution's name.

    Raises:
      ValueError: If `shift` is None.
    """

    def __init__(
        self,
        logits: Any = None,
        probs: Any = None,
        dtype: tf.DType = tf.int32,
        force_probs_to_zero_outside_support: bool = False,
        validate_args: bool = False,
        allow_nan_stats: bool = True,
        shift: Any = None,
        name: str = "ShiftedCategorical",
    ):
        if shift is None:
            raise ValueError("ShiftedCategorical expects a shift value.")
        self._shift = shift
        super().__init__(
            logits=logits,
            probs=probs,
            dtype=dtype,
            force_probs_to_zero_outside_support=force_probs_to_zero_outside_support,
            validate_args=validate_args,
            allow_nan_stats=allow_nan_stats,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # The tensor parameters are Categorical's (`shift` is a plain offset);
        # declaring them here tells TFP that inheriting them is intended.
        return tfp.distributions.Categorical._parameter_properties(dtype, num_classes=num_classes)

    @property
    def shift(self) -> Any:
        """The value class 0 maps to."""
        return self._shift

    @property
    def parameters(self) -> dict:
        """`Categorical`'s parameters plus ``shift``."""
        params = super().parameters
        params["shift"] = self._shift
        return params

    # Values coming in are shifted down to class indices ...
    def log_prob(self, value: Any, name: str = "log_prob") -> tf.Tensor:
        return super().log_prob(value - self._shift, name)

    def prob(self, value: Any, name: str = "prob") -> tf.Tensor:
        return super().prob(value - self._shift, name)

    def cdf(self, value: Any, name: str = "cdf") -> tf.Tensor:
        return super().cdf(value - self._shift, name)

    def log_cdf(self, value: Any, name: str = "log_cdf") -> tf.Tensor:
        return super().log_cdf(value - self._shift, name)

    # ... and class indices going out are shifted up to values.
    def mode(self, name: str = "mode") -> tf.Tensor:
        return super().mode(name) + self._shift

    def sample(self, sample_shape: Any = (), seed: Any = None, name: str = "sample", **kwargs):
        samples = super().sample(sample_shape=sample_shape, seed=seed, name=name, **kwargs)
        return samples + self._shift

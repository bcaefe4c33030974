"""`MaskedCategorical`: a categorical that never yields the actions a mask rules out.

Used where only some actions are valid at a step (action masks from an
observation-and-action-constraint splitter): masked-out logits become a very
negative number, so those classes get (numerically) zero probability and
contribute nothing to the entropy.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["MaskedCategorical"]


class MaskedCategorical(tfp.distributions.Categorical):
    """`tfp.distributions.Categorical` over the classes where `mask` is true.

    Args:
      logits: ``[..., K]`` float logits.
      mask: ``[..., K]`` (broadcasting against `logits`) booleans or 0/1
        values; false / zero rules the class out.
      probs: Must be None (accepted for `Categorical`'s signature only).
      dtype: The dtype of samples and the mode, default int32.
      validate_args: As in `Categorical`.
      allow_nan_stats: As in `Categorical`.
      neg_inf: The logit given to ruled-out classes; None uses the most
        negative finite value of the logits' dtype.
      name: The distribution's name.

    Raises:
      ValueError: If `probs` is given.
    """

    def __init__(
        self,
        logits: Any,
        mask: Any,
        probs: Any = None,
        dtype: tf.DType = tf.int32,
        validate_args: bool = False,
        allow_nan_stats: bool = True,
        neg_inf: float | None = -1e10,
        name: str = "MaskedCategorical",
    ):
        parameters = dict(locals())
        if probs is not None:
            raise ValueError(
                "MaskedCategorical takes its masked predictions as `logits`; `probs` exists "
                f"only to match Categorical's signature and must be None. Given `{probs}`."
            )
        logits = tf.convert_to_tensor(logits)
        self._mask = tf.cast(tf.convert_to_tensor(mask), tf.bool)
        self._neg_inf = neg_inf
        fill = logits.dtype.min if neg_inf is None else neg_inf
        ruled_out = tf.cast(tf.fill(tf.shape(logits), fill), logits.dtype)
        super().__init__(
            logits=tf.where(self._mask, logits, ruled_out),
            probs=None,
            dtype=dtype,
            validate_args=validate_args,
            allow_nan_stats=allow_nan_stats,
            name=name,
        )
        self._parameters = parameters

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(logits=tfp.util.ParameterProperties(event_ndims=1))

    @property
    def mask(self) -> tf.Tensor:
        """The boolean mask (true where a class is allowed)."""
        return self._mask

    @property
    def parameters(self) -> dict:
        """`Categorical`'s parameters plus ``mask`` (as booleans)."""
        params = super().parameters
        params["mask"] = self._mask
        return params

    def _entropy(self) -> tf.Tensor:
        # Ruled-out classes have probability ~0 but a huge negative log: count them as 0.
        terms = tf.nn.log_softmax(self.logits) * self.probs_parameter()
        terms = tf.where(self._mask, terms, tf.zeros_like(terms))
        return -tf.reduce_sum(terms, axis=-1)

"""TensorFlow helpers shared by tfdrive's policies: clipping and variable updates."""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

__all__ = [
    "clip_to_spec",
    "has_eager_been_enabled",
    "safe_has_state",
    "soft_variables_update",
    "spec_means_and_magnitudes",
]


def has_eager_been_enabled() -> bool:
    """True when the outermost context executes eagerly (TF2, even inside a `tf.function`)."""
    with tf.init_scope():
        return tf.executing_eagerly()


def safe_has_state(state: Any) -> bool:
    """True unless `state` is None, ``()`` or ``[]`` (identity checks, graph safe)."""
    if state is None:
        return False
    if isinstance(state, (tuple, list)) and len(state) == 0 and not hasattr(state, "_fields"):
        return False
    return True


def clip_to_spec(value: tf.Tensor, spec: Any) -> tf.Tensor:
    """Clips `value` elementwise to ``[spec.minimum, spec.maximum]``.

    Args:
      value: A tensor whose dtype equals ``spec.dtype``.
      spec: A `BoundedTensorSpec` (or `BoundedArraySpec`); its bounds broadcast
        against `value`'s trailing dimensions.
    """
    dtype = tf.as_dtype(value.dtype)
    low = tf.constant(spec.minimum, dtype=dtype)
    high = tf.constant(spec.maximum, dtype=dtype)
    return tf.clip_by_value(value, low, high)


def spec_means_and_magnitudes(spec: Any) -> tuple[Any, Any]:
    """Returns ``((max + min) / 2, (max - min) / 2)`` of a bounded spec as float32 arrays."""
    import numpy as np

    low = np.asarray(spec.minimum, dtype=np.float32)
    high = np.asarray(spec.maximum, dtype=np.float32)
    return (high + low) / 2.0, (high - low) / 2.0


def soft_variables_update(
    source_variables: Sequence[tf.Variable],
    target_variables: Sequence[tf.Variable],
    tau: float = 1.0,
    tau_non_trainable: float | None = None,
    sort_variables_by_name: bool = False,
) -> tf.Operation:
    """Moves each target variable towards its source: ``t = (1 - tau) t + tau s``.

    ``tau=1`` copies (hard update); non-trainable targets use
    `tau_non_trainable` (default: `tau`).

    Raises:
      ValueError: `tau` or `tau_non_trainable` outside ``[0, 1]``, lists of
        different lengths, or a pair of variables with incompatible shapes.
    """
    if tau < 0 or tau > 1:
        raise ValueError("Input `tau` should be in [0, 1].")
    if tau_non_trainable is None:
        tau_non_trainable = tau
    if tau_non_trainable < 0 or tau_non_trainable > 1:
        raise ValueError("Input `tau_non_trainable` should be in [0, 1].")
    if tau == 0.0 or not source_variables or not target_variables:
        return tf.no_op(name="soft_variables_update")
    if len(source_variables) != len(target_variables):
        raise ValueError(
            "Source and target variable lists have different lengths: "
            f"{len(source_variables)} vs. {len(target_variables)}"
        )
    if sort_variables_by_name:
        source_variables = sorted(source_variables, key=lambda v: v.name)
        target_variables = sorted(target_variables, key=lambda v: v.name)
    updates = []
    for source, target in zip(source_variables, target_variables):
        if not target.shape.is_compatible_with(source.shape):
            raise ValueError(
                f"Variable {target.name} has shape {target.shape}, incompatible with "
                f"source {source.name} of shape {source.shape}."
            )
        current_tau = tau if target.trainable else tau_non_trainable
        if current_tau == 1.0:
            updates.append(target.assign(source))
        else:
            updates.append(target.assign((1.0 - current_tau) * target + current_tau * source))
    return tf.group(*updates, name="soft_variables_update")

"""Per-element losses and the aggregation of per-example losses into a scalar.

Re-exported by `tfdrive.utils.common` under TF-Agents' names.
"""

from __future__ import annotations

import collections
from typing import Any

import tensorflow as tf
from absl import logging

__all__ = [
    "AggregatedLosses",
    "aggregate_losses",
    "element_wise_huber_loss",
    "element_wise_squared_loss",
]


def element_wise_squared_loss(x: Any, y: Any) -> tf.Tensor:
    """float32 ``(x - y)^2`` per element (shapes must be compatible)."""
    return tf.compat.v1.losses.mean_squared_error(
        x, y, reduction=tf.compat.v1.losses.Reduction.NONE
    )


def element_wise_huber_loss(x: Any, y: Any) -> tf.Tensor:
    """float32 Huber loss (delta 1) of ``x - y`` per element (shapes must be compatible)."""
    return tf.compat.v1.losses.huber_loss(x, y, reduction=tf.compat.v1.losses.Reduction.NONE)


AggregatedLosses = collections.namedtuple(
    "AggregatedLosses",
    [
        "total_loss",  # weighted + regularization.
        "weighted",  # Per-example losses weighted and averaged over the global batch.
        "regularization",  # Regularization losses, scaled for the replicas.
    ],
)


def _broadcastable_weight(sample_weight: tf.Tensor, loss_rank: int) -> tf.Tensor:
    """Appends unit dims so a ``[B]`` or ``[B, T]`` weight broadcasts against the loss."""
    weight_rank = sample_weight.shape.rank
    if loss_rank is None or weight_rank == 0 or loss_rank <= weight_rank:
        return sample_weight
    return tf.reshape(
        sample_weight,
        tf.concat([tf.shape(sample_weight), tf.ones([loss_rank - weight_rank], tf.int32)], 0),
    )


def aggregate_losses(
    per_example_loss: Any = None,
    sample_weight: Any = None,
    global_batch_size: Any = None,
    regularization_loss: Any = None,
) -> AggregatedLosses:
    """Weights, averages and adds up per-example and regularization losses.

    Per-example losses shaped ``[B, T, ...]`` are first averaged over all but
    the batch dimension; the batch is then averaged over `global_batch_size`
    (default: ``B`` times the number of replicas), as
    `tf.nn.compute_average_loss` does.

    Args:
      per_example_loss: ``[B]`` or ``[B, T, ...]`` losses.
      sample_weight: A scalar, or a ``[B]`` / ``[B, T, ...]`` weight; where it
        is 0 the loss is ignored even if it is inf or NaN.
      global_batch_size: The (integer) batch size to average over.
      regularization_loss: A scalar regularization loss.

    Returns:
      `AggregatedLosses` of scalars (``weighted`` / ``regularization`` are
      None when their input is).

    Raises:
      ValueError: a scalar `per_example_loss` under a distribution strategy
        (outside one it is logged and treated as a batch of one).
    """
    total_loss = weighted_loss = reg_loss = None
    if sample_weight is not None and not isinstance(sample_weight, tf.Tensor):
        sample_weight = tf.convert_to_tensor(sample_weight, dtype=tf.float32)

    if per_example_loss is not None:
        loss_rank = per_example_loss.shape.rank
        if sample_weight is not None:
            weight = _broadcastable_weight(sample_weight, loss_rank)
            # Zero weight wins over an inf/NaN loss (e.g. at episode boundaries).
            per_example_loss = tf.math.multiply_no_nan(per_example_loss, weight)
        if loss_rank == 0:
            message = (
                "Need to use a loss function that computes losses per sample, ex: replace "
                "losses.mean_squared_error with tf.math.squared_difference. Invalid value "
                "passed for `per_example_loss`. Expected a tensor tensor with at least rank 1, "
                f"received: {per_example_loss}"
            )
            if tf.distribute.has_strategy():
                raise ValueError(message)
            logging.warning(message)
            per_example_loss = per_example_loss[tf.newaxis]
        elif loss_rank is not None and loss_rank > 1:
            per_example_loss = tf.reduce_mean(per_example_loss, axis=list(range(1, loss_rank)))
        # Passed on as given: `compute_average_loss` requires an integer (TF-Agents'
        # cast to the loss dtype fails there on TF >= 2.13).
        weighted_loss = tf.nn.compute_average_loss(
            per_example_loss, global_batch_size=global_batch_size
        )
        total_loss = weighted_loss

    if regularization_loss is not None:
        reg_loss = tf.nn.scale_regularization_loss(regularization_loss)
        total_loss = reg_loss if total_loss is None else total_loss + reg_loss
    return AggregatedLosses(total_loss, weighted_loss, reg_loss)

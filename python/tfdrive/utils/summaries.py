"""TensorBoard summaries of tensors and scalars (`tf.summary`, default writer).

Re-exported by `tfdrive.utils.common` under TF-Agents' names.
"""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf

__all__ = ["generate_tensor_summaries", "summarize_scalar_dict", "summarize_tensor_dict"]


def generate_tensor_summaries(tag: str, tensor: Any, step: Any) -> None:
    """Writes a histogram and the mean, mean of |x|, max, min and std of `tensor` under `tag`/.

    Args:
      tag: The name scope of the summaries.
      tensor: A numeric tensor of any shape.
      step: The summary step (e.g. the global-step variable), or None for
        `tf.summary`'s default step.
    """
    with tf.name_scope(tag):
        tf.summary.histogram(name="histogram", data=tensor, step=step)
        statistics = {
            "mean": tf.reduce_mean(tensor),
            "mean_abs": tf.reduce_mean(tf.abs(tensor)),
            "max": tf.reduce_max(tensor),
            "min": tf.reduce_min(tensor),
            "std": tf.math.reduce_std(tensor),
        }
        for name, value in statistics.items():
            tf.summary.scalar(name=name, data=value, step=step)


def summarize_tensor_dict(tensor_dict: Mapping[str, Any], step: Any) -> None:
    """`generate_tensor_summaries` for every ``tag: tensor`` of `tensor_dict`."""
    for tag in tensor_dict:
        generate_tensor_summaries(tag, tensor_dict[tag], step)


def summarize_scalar_dict(
    name_data: Mapping[str, Any] | None, step: Any, name_scope: str = "Losses/"
) -> None:
    """Writes a scalar summary for every ``name: value`` (skipping None values) under `name_scope`."""
    if not name_data:
        return
    with tf.name_scope(name_scope):
        for name, data in name_data.items():
            if data is not None:
                tf.summary.scalar(name=name, data=data, step=step)

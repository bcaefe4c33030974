"""TensorBoard summaries of tensors and scalars (`tf.summary`, default writer).

TensorFlow >= 2.16 no longer installs the `tensorboard` package, without
which `tf.summary.scalar` and `tf.summary.histogram` raise, even with no
writer. `scalar` and `histogram` here write the same events either way:
through TensorBoard when it is installed, else with `tf.summary.write` and
the plugins' metadata (histograms as TensorBoard's `[k, 3]` buckets), tagged
under the current name scope as TensorBoard tags them. Every summary of
tfdrive goes through them. `generate_tensor_summaries` and friends are
re-exported by `tfdrive.utils.common` under TF-Agents' names.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Mapping

import tensorflow as tf

__all__ = [
    "generate_tensor_summaries",
    "histogram",
    "scalar",
    "summaries_recorded",
    "summarize_scalar_dict",
    "summarize_tensor_dict",
    "tensorboard_installed",
]


def tensorboard_installed() -> bool:
    """Whether the `tensorboard` package (`tf.summary.scalar`'s backend) is importable."""
    return importlib.util.find_spec("tensorboard") is not None


def summaries_recorded() -> bool:
    """False when summaries are certainly not recorded (no default writer is set).

    Writing is then skipped altogether. Unknown until run time (a writer
    inside `tf.function`): True.
    """
    recorded = tf.get_static_value(tf.summary.should_record_summaries())
    return recorded is None or bool(recorded)


def _metadata(plugin_name: str) -> bytes:
    metadata = tf.compat.v1.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata.SerializeToString()


@tf.autograph.experimental.do_not_convert
def scalar(name: str, data: Any, step: Any = None) -> Any:
    """`tf.summary.scalar(name, data, step)`, TensorBoard optional; False when not recording."""
    if not summaries_recorded():
        return False
    if tensorboard_installed():
        return tf.summary.scalar(name=name, data=data, step=step)
    with tf.summary.experimental.summary_scope(name, "scalar_summary", values=[data]) as (tag, _):
        data = tf.cast(data, tf.float32)
        return tf.summary.write(tag, data, step=step, metadata=_metadata("scalars"))


@tf.autograph.experimental.do_not_convert
def histogram(name: str, data: Any, step: Any = None, buckets: int = 30) -> Any:
    """`tf.summary.histogram(name, data, step)`, TensorBoard optional; False when not recording."""
    if not summaries_recorded():
        return False
    if tensorboard_installed():
        return tf.summary.histogram(name=name, data=data, step=step, buckets=buckets)
    with tf.summary.experimental.summary_scope(name, "histogram_summary", values=[data]) as (
        tag,
        _,
    ):
        data = histogram_buckets(data, buckets)
        return tf.summary.write(tag, data, step=step, metadata=_metadata("histograms"))


def histogram_buckets(data: Any, bins: int = 30) -> tf.Tensor:
    """`[k, 3]` float64 `(left, right, count)` rows: the histogram plugin's format.

    `bins` equal-width buckets over the values' range; one bucket when all
    values are equal, none for no values.
    """
    values = tf.cast(tf.reshape(data, [-1]), tf.float64)
    size = tf.size(values)

    def spread_or_single():
        low, high = tf.reduce_min(values), tf.reduce_max(values)

        def spread():
            edges = tf.linspace(low, high, bins + 1)
            counts = tf.histogram_fixed_width(values, [low, high], nbins=bins)
            return tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)

        def single():
            return tf.stack([low, high, tf.cast(size, tf.float64)])[None]

        return tf.cond(high > low, spread, single)

    return tf.cond(size > 0, spread_or_single, lambda: tf.zeros([0, 3], tf.float64))


def generate_tensor_summaries(tag: str, tensor: Any, step: Any) -> None:
    """Writes a histogram and the mean, mean of |x|, max, min and std of `tensor` under `tag`/.

    Args:
      tag: The name scope of the summaries.
      tensor: A numeric tensor of any shape.
      step: The summary step (e.g. the global-step variable), or None for
        `tf.summary`'s default step.
    """
    with tf.name_scope(tag):
        histogram("histogram", tensor, step)
        statistics = {
            "mean": tf.reduce_mean(tensor),
            "mean_abs": tf.reduce_mean(tf.abs(tensor)),
            "max": tf.reduce_max(tensor),
            "min": tf.reduce_min(tensor),
            "std": tf.math.reduce_std(tensor),
        }
        for name, value in statistics.items():
            scalar(name, value, step)


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
                scalar(name, data, step)

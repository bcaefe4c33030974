"""Metrics to TensorBoard: each result as a scalar summary against a step.

Imports TensorFlow (this module only). Scalars go through
`tfdrive.utils.summaries.scalar` (the `tensorboard` package optional).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfdrive.metrics import py_metric
from tfdrive.utils import summaries as scalars


def write_summaries(
    metrics: Sequence[py_metric.PyMetric],
    step: int | Any,
    writer: tf.summary.SummaryWriter | None = None,
    step_metrics: Sequence[py_metric.PyMetric] = (),
) -> None:
    """Writes every metric's `result()` as a scalar.

    Tags: `prefix/name` at `step`, and for each step metric (e.g.
    `EnvironmentSteps`) `prefix_vs_<step metric name>/name` at that metric's
    result, as TF-Agents' metric summaries do.

    Args:
      metrics: the metrics to write.
      step: the x value: an int, or a counter such as a `tf.Variable`.
      writer: the summary writer; None uses the default one
        (`with writer.as_default(): ...`).
      step_metrics: metrics whose results serve as extra x axes.
    """
    if writer is not None:
        with writer.as_default():
            write_summaries(metrics, step, None, step_metrics)
        return
    step = int(step.numpy()) if hasattr(step, "numpy") else int(step)
    for metric in metrics:
        tag = f"{metric.prefix}/{metric.name}" if metric.prefix else metric.name
        value = metric.result()
        scalars.scalar(tag, tf.constant(value, tf.float32), step)
        prefix = f"{metric.prefix}_" if metric.prefix else ""
        for step_metric in step_metrics:
            if step_metric.name == metric.name:
                continue
            scalars.scalar(
                f"{prefix}vs_{step_metric.name}/{metric.name}",
                tf.constant(value, tf.float32),
                int(step_metric.result()),
            )


class SummaryWriter:
    """Writes a fixed set of metrics to a TensorBoard log directory.

    Args:
      logdir: the event file directory.
      metrics: the metrics to write.
      step_metrics: metrics whose results serve as extra x axes.

    Call `write(step)` after each driver `run()`; `flush()`/`close()` as for
    `tf.summary` writers.
    """

    def __init__(
        self,
        logdir: str,
        metrics: Sequence[py_metric.PyMetric],
        step_metrics: Sequence[py_metric.PyMetric] = (),
    ):
        self._writer = tf.summary.create_file_writer(logdir)
        self._metrics = list(metrics)
        self._step_metrics = list(step_metrics)

    def write(self, step: int | Any) -> None:
        write_summaries(self._metrics, step, self._writer, self._step_metrics)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

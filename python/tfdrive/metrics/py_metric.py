"""The metric interface: named, resettable observers with a `result()`.

With TensorFlow installed, a `PyMetric` is a `tf.Module` (as TF-Agents' is),
so metrics can be saved in a `tf.train.Checkpoint`; without it, a plain
object, and everything but checkpointing works the same.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    import tensorflow as _tf
except ImportError:  # numpy-only install: metrics work, but are not checkpointable.
    _tf = None

_Base: Any = _tf.Module if _tf is not None else object
if TYPE_CHECKING:  # mypy needs a metaclass it can name; the runtime one derives from it.
    _Meta = abc.ABCMeta
else:
    # abc.ABCMeta, combined with tf.Module's own metaclass where that is another one.
    _Meta = (
        abc.ABCMeta
        if issubclass(abc.ABCMeta, type(_Base))
        else type("_AbstractModuleMeta", (abc.ABCMeta, type(_Base)), {})
    )


class PyMetric(_Base, metaclass=_Meta):
    """A named statistic, updated by calling the metric.

    Args:
      name: the metric's name (TensorBoard tag: `prefix/name`).
      prefix: the tag prefix, 'Metrics' by default.
    """

    def __init__(self, name: str, prefix: str = "Metrics"):
        if _tf is not None:
            super().__init__(name)
        self._name = name
        self._prefix = prefix
        self._summary_placeholder = None
        self._summary_op = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def prefix(self) -> str:
        return self._prefix

    @abc.abstractmethod
    def reset(self) -> None:
        """Forgets everything observed so far."""

    @abc.abstractmethod
    def result(self) -> Any:
        """The metric's current value."""

    def tf_summaries(self, train_step: Any = None, step_metrics: Sequence[Any] = ()) -> Any:
        """Builds (once) the TF1 summary op of this metric, fed by `summary_placeholder`.

        Run it with `run_summaries`. Tags: `prefix/name` against
        `train_step`, and `prefix_vs_<step metric>/name` against each step
        metric (a py metric's placeholder or a TF step metric's result).

        Raises:
          RuntimeError: if called twice.
          ValueError: if a step metric is neither a py nor a TF step metric.
        """
        from tfdrive.metrics import tf_metric

        if self._summary_op is not None:
            raise RuntimeError("metric.tf_summaries() can only be called once.")
        tag = f"{self.prefix}/{self.name}" if self.prefix else self.name
        data = self.summary_placeholder
        summaries = [tf_metric._summary("scalar", tag, data, train_step)]
        prefix = f"{self.prefix}_" if self.prefix else ""
        for step_metric in step_metrics:
            if step_metric.name == self.name:
                continue
            if isinstance(step_metric, PyMetric):
                step = step_metric.summary_placeholder
            elif callable(getattr(step_metric, "result", None)) and hasattr(step_metric, "call"):
                step = step_metric.result()
            else:
                raise ValueError(f"step_metric is not PyMetric or TFStepMetric: {step_metric}")
            step_tag = f"{prefix}vs_{step_metric.name}/{self.name}"
            summaries.append(tf_metric._summary("scalar", step_tag, data, step))
        self._summary_op = _tf.group(*summaries)
        return self._summary_op

    @property
    def summary_placeholder(self) -> Any:
        """The TF1 placeholder fed with `result()` (its dtype and shape) by `run_summaries`."""
        if getattr(self, "_summary_placeholder", None) is None:
            result = np.asarray(self.result())
            self._summary_placeholder = _tf.compat.v1.placeholder(
                _tf.as_dtype(result.dtype), shape=result.shape, name=f"{self.name}_ph"
            )
        return self._summary_placeholder

    @property
    def summary_op(self) -> Any:
        """The op built by `tf_summaries()`, or None."""
        return getattr(self, "_summary_op", None)

    def log(self) -> None:
        """Logs `prefix/name = result` at INFO level."""
        tag = f"{self.prefix}/{self.name}" if self.prefix else self.name
        logging.info("%s", f"{tag} = {self.result()}")

    @staticmethod
    def aggregate(metrics: Sequence[PyMetric]) -> Any:
        """The mean of the metrics' results (metrics of one class)."""
        return np.mean([metric.result() for metric in metrics])

    def __call__(self, *args: Any) -> None:
        self.call(*args)

    @abc.abstractmethod
    def call(self, *args: Any) -> None:
        """Updates the metric."""


class PyStepMetric(PyMetric):
    """A metric updated with every `Trajectory` a driver delivers."""

    @abc.abstractmethod
    def call(self, trajectory: Any) -> None:
        """Updates the metric with one (possibly batched) trajectory."""


def run_summaries(metrics: Sequence[PyMetric], session: Any = None) -> None:
    """Runs the metrics' TF1 summary ops, feeding each its `result()`.

    Args:
      metrics: py metrics whose `tf_summaries()` was called.
      session: the session; None: the default one.

    Raises:
      AttributeError: without a session.
      RuntimeError: if a metric has no summary op.
    """
    if session is None:
        session = _tf.compat.v1.get_default_session()
        if session is None:
            raise AttributeError(
                "No TensorFlow session-like object was provided, and none could be retrieved "
                "using 'tf.get_default_session()'."
            )
    for metric in metrics:
        if metric.summary_op is None:
            raise RuntimeError(
                f"metric.tf_summaries() must be called on py_metric {metric.name} before "
                "attempting to run summaries."
            )
    feed = {metric.summary_placeholder: metric.result() for metric in metrics}
    session.run([metric.summary_op for metric in metrics], feed_dict=feed)

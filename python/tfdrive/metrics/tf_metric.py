"""TF metric base classes (TF-Agents' `tf_metric`): state in variables, updates in graphs.

A `TFStepMetric` is called with a (batched) `Trajectory` of tensors; its
`call` runs as a `tf.function` (so graph and eager behave alike: updates on
one variable run in program order) and returns its input, for chaining.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.utils import common, summaries


def _summary(kind: str, tag: str, data: Any, step: Any) -> Any:
    """A scalar or histogram summary (TensorBoard optional, see `tfdrive.utils.summaries`)."""
    return (summaries.scalar if kind == "scalar" else summaries.histogram)(tag, data, step)


def _step_tag(prefix: str, step_metric: Any, name: str, *rest: str) -> str:
    return "/".join([f"{prefix}vs_{step_metric.name}", name, *rest])


class TFStepMetric(tf.Module):
    """A metric whose state lives in TF variables.

    Args:
      name: the metric's name (a valid `tf.Module` name).
      prefix: the summary tag prefix.

    Subclasses implement `call(trajectory)`, `result()` and `reset()`.
    """

    _SUMMARY = "scalar"

    def __init__(self, name: str, prefix: str = "Metrics"):
        super().__init__(name)
        common.check_tf1_allowed()
        self._prefix = prefix

    @property
    def prefix(self) -> str:
        return self._prefix

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Updates the state from a batch of inputs (runs as a graph function)."""
        raise NotImplementedError("Metrics must define a call() member function")

    def reset(self) -> Any:
        """Resets the state to its initial values."""
        raise NotImplementedError("Metrics must define a reset() member function")

    def result(self) -> Any:
        """The metric's value, computed from the state."""
        raise NotImplementedError("Metrics must define a result() member function")

    def init_variables(self) -> Any:
        """In graph mode, the op initialising the variables; None eagerly."""
        if not tf.executing_eagerly():
            return tf.compat.v1.group([v.initializer for v in self.variables])
        return None

    @common.function
    def _update_state(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`call` as a graph function; returns what `call` returns."""
        return self._update_state(*args, **kwargs)

    def tf_summaries(self, train_step: Any = None, step_metrics: Any = ()) -> list[Any]:
        """Summaries of `result()`: against `train_step` (if given) and each step metric.

        Tags: `prefix/name`, and `prefix_vs_<step metric>/name` (a step
        metric with this metric's name is skipped).
        """
        result = self.result()
        summaries = []
        if train_step is not None:
            tag = common.join_scope(self._prefix, self.name)
            summaries.append(_summary(self._SUMMARY, tag, result, train_step))
        prefix = f"{self._prefix}_" if self._prefix else ""
        for step_metric in step_metrics:
            if step_metric.name == self.name:
                continue
            step = tf.cast(step_metric.result(), tf.int64)
            tag = _step_tag(prefix, step_metric, self.name)
            summaries.append(_summary(self._SUMMARY, tag, result, step))
        return summaries


class TFHistogramStepMetric(TFStepMetric):
    """A `TFStepMetric` summarised as histograms."""

    _SUMMARY = "histogram"


class TFMultiMetricStepMetric(TFStepMetric):
    """A `TFStepMetric` whose result is a nest of values, one scalar summary each.

    Args:
      name, prefix: as `TFStepMetric`.
      metric_names: the names of the values (flattened order); a missing or
        None name becomes `Metric<i>` (or the only name, numbered).
    """

    def __init__(self, name: str, prefix: str = "Metrics", metric_names: Any = ()):
        super().__init__(name, prefix)
        self._metric_names = metric_names

    @property
    def metric_names(self) -> Any:
        return self._metric_names

    def _value_name(self, index: int, count: int) -> str:
        names = self._metric_names
        if index < len(names) and count == len(names) and names[index] is not None:
            return names[index]
        base = names[0] if len(names) == 1 else "Metric"
        return f"{base}{index}"

    def tf_summaries(self, train_step: Any = None, step_metrics: Any = ()) -> list[Any]:
        results = tf.nest.flatten(self.result())
        if len(results) == 1:
            results = results[0]  # one tensor: one summary per entry
        count = len(results)
        summaries = []
        base_tag = common.join_scope(self._prefix, self.name)
        if train_step is not None:
            for index, result in enumerate(results):
                tag = common.join_scope(base_tag, self._value_name(index, count))
                summaries.append(_summary("scalar", tag, result, train_step))
        prefix = f"{self._prefix}_" if self._prefix else ""
        for index, result in enumerate(results):
            for step_metric in step_metrics:
                if step_metric.name == self.name:
                    continue
                step = tf.cast(step_metric.result(), tf.int64)
                tag = _step_tag(prefix, step_metric, self.name, self._value_name(index, count))
                summaries.append(_summary("scalar", tag, result, step))
        return summaries

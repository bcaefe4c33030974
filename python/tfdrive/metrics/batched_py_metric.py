"""BatchedPyMetric: one instance of an unbatched py metric per env of a batch.

Each batched `Trajectory` is split along its first dimension and entry `i`
goes to metric `i`; `result()` aggregates the per-env metrics with the
metric class's `aggregate` (the mean of their results, by default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfdrive.metrics import py_metric
from tfdrive.utils import nest_utils


class BatchedPyMetric(py_metric.PyStepMetric):
    """Batches any py metric that takes single (unbatched) trajectories.

    Args:
      metric_class: the py metric class to instantiate per env.
      metric_args: keyword arguments for `metric_class`; None for none.
      name: the metric's name; None: the name of a `metric_class` instance.
      batch_size: the number of envs; None: taken from the first trajectory.
      dtype: the dtype of `result()` before the first trajectory (0.0).
      prefix: the summary tag prefix.
    """

    def __init__(
        self,
        metric_class: type[Any],
        metric_args: Any = None,
        name: str | None = None,
        batch_size: int | None = None,
        dtype: Any = np.float32,
        prefix: str = "Metrics",
    ):
        self._metric_class = metric_class
        self._metric_args = {} if metric_args is None else metric_args
        if not name:
            name = metric_class(**self._metric_args).name
        super().__init__(name, prefix=prefix)
        self._built = False
        self._dtype = dtype
        if batch_size is not None:
            self.build(batch_size)

    def build(self, batch_size: int) -> None:
        """Creates (and resets) one metric per env."""
        self._metrics = [self._metric_class(**self._metric_args) for _ in range(batch_size)]
        for metric in self._metrics:
            metric.reset()
        self._built = True

    def call(self, batched_trajectory: Any) -> None:
        """Feeds entry `i` of `batched_trajectory` to metric `i`.

        Raises:
          ValueError: if the batch size differs from the one built.
        """
        trajectories = nest_utils.unstack_nested_arrays(batched_trajectory)
        if not self._built:
            self.build(len(trajectories))
        if len(trajectories) != len(self._metrics):
            raise ValueError(
                f"Batch size {len(trajectories)} does not match previously set batch size "
                f"{len(self._metrics)}. Make sure your batch size is set correctly in "
                "BatchedPyMetric initialization and that the batch size remains constant."
            )
        for metric, trajectory in zip(self._metrics, trajectories, strict=True):
            metric(trajectory)

    def reset(self) -> None:
        if self._built:
            for metric in self._metrics:
                metric.reset()

    def result(self) -> Any:
        """`metric_class.aggregate` of the per-env metrics; 0 of `dtype` before any."""
        if self._built:
            return self._metric_class.aggregate(self._metrics)
        return np.array(0.0, dtype=self._dtype)

    @staticmethod
    def aggregate(metrics: Any) -> Any:
        raise NotImplementedError("aggregate() is not implemented for BatchedPyMetric.")

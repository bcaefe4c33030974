"""TFPyMetric: a py metric used as a TF metric, through `tf.py_function`.

Calls, results and resets run the py metric in Python (eagerly or from a
graph); they must not run concurrently: overlapping calls raise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from tfdrive.metrics import tf_metric


@contextlib.contextmanager
def _exclusive(lock: threading.Lock) -> Iterator[None]:
    """Runs the block holding `lock`; RuntimeError if another call holds it."""
    if not lock.acquire(blocking=False):
        raise RuntimeError("Detected concurrent execution of TFPyMetric ops.")
    try:
        yield
    finally:
        lock.release()


class TFPyMetric(tf_metric.TFStepMetric):
    """Wraps a (batched) py metric as a TF metric.

    Args:
      py_metric: the py metric; it gets numpy trajectories.
      name: the metric's name; None: the py metric's.
      dtype: the dtype of `result()` (a scalar).
    """

    def __init__(self, py_metric: Any, name: str | None = None, dtype: Any = tf.float32):
        super().__init__(name=name or py_metric.name, prefix=py_metric.prefix)
        self._py_metric = py_metric
        self._dtype = dtype
        self._lock = threading.Lock()

    def call(self, trajectory: Any) -> Any:
        """Feeds `trajectory` (as numpy) to the py metric; returns it (after the update)."""

        def update(*flat):
            with _exclusive(self._lock):
                packed = tf.nest.pack_sequence_as(trajectory, [x.numpy() for x in flat])
                return self._py_metric(packed)

        op = tf.py_function(update, tf.nest.flatten(trajectory), [], name="metric_call_py_func")
        with tf.control_dependencies([op]):
            return tf.nest.map_structure(tf.identity, trajectory)

    def result(self) -> tf.Tensor:
        def read():
            with _exclusive(self._lock):
                return self._py_metric.result()

        value = tf.py_function(read, [], self._dtype, name="metric_result_py_func")
        if not tf.executing_eagerly():
            value.set_shape(())
        return value

    def reset(self) -> Any:
        def reset():
            with _exclusive(self._lock):
                return self._py_metric.reset()

        return tf.py_function(reset, [], [], name="metric_reset_py_func")

"""The metric interface: named, resettable observers with a `result()`.

With TensorFlow installed, a `PyMetric` is a `tf.Module` (as TF-Agents' is),
so metrics can be saved in a `tf.train.Checkpoint`; without it, a plain
object, and everything but checkpointing works the same.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    import tensorflow as _tf
except ImportError:  # numpy-only install: metrics work, but are not checkpointable.
    _tf = None

_Base: type = _tf.Module if _tf is not None else object
# abc.ABCMeta, combined with tf.Module's own metaclass where that is another one.
_Meta: type = (
    abc.ABCMeta
    if issubclass(abc.ABCMeta, type(_Base))
    else type("_AbstractModuleMeta", (abc.ABCMeta, type(_Base)), {})
)


class PyMetric(_Base, metaclass=_Meta):  # type: ignore[misc, valid-type]
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

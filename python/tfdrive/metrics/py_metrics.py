"""Episode metrics with TF-Agents' `py_metrics` semantics, computed in Rust.

Every metric here is an ordinary observer (a callable taking a
`Trajectory`), so TF-Agents' own drivers can use it; tfdrive's `PyDriver`
recognises its native core (`_native_observer`) and updates it in Rust,
without a Python call per step.

Streaming metrics (`AverageReturnMetric`, `AverageEpisodeLengthMetric`,
`MaxReturnMetric`, `MinReturnMetric`) keep one accumulator per env and the
values of the last `buffer_size` finished episodes; `batch_size` is taken
from the first trajectory (0-d fields: 1, `[B]` fields: B) unless given.
Episodes that cross `run()` calls are accumulated across them. Counters
(`EnvironmentSteps`, `NumberOfEpisodes`) count transitions over the batch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfdrive import _core
from tfdrive.metrics import py_metric


def _positive_int(value: Any, name: str, allowed: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or value != int(value)
        or value < 1
    ):
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return int(value)


def _buffer_size(buffer_size: Any) -> int | None:
    if buffer_size is None or (isinstance(buffer_size, float) and math.isinf(buffer_size)):
        return None
    return _positive_int(buffer_size, "buffer_size", "a positive integer or np.inf")


def _batch_size(batch_size: Any) -> int | None:
    if batch_size is None or batch_size == 0:  # infer from the first trajectory, as TF-Agents does
        return None
    return _positive_int(batch_size, "batch_size", "a positive integer or None")


class _NativeStepMetric(py_metric.PyStepMetric):
    """A step metric whose state lives in `tfdrive._core.EpisodeMetricCore`."""

    _KIND: str

    def __init__(self, name: str, buffer_size: Any = None, batch_size: Any = None):
        super().__init__(name)
        self._native_observer = _core.EpisodeMetricCore(
            self._KIND, _buffer_size(buffer_size), _batch_size(batch_size)
        )

    def call(self, trajectory: Any) -> None:
        """Updates the metric from `trajectory.step_type`, `next_step_type` and `reward`."""
        self._native_observer.observe(
            trajectory.step_type, trajectory.next_step_type, trajectory.reward
        )

    def reset(self) -> None:
        self._native_observer.reset()


class StreamingMetric(_NativeStepMetric):
    """Keeps the values of the last `buffer_size` finished episodes.

    `result()` aggregates them (np.float32); 0.0 before any episode ends.
    """

    def __init__(
        self, name: str = "StreamingMetric", buffer_size: Any = 10, batch_size: Any = None
    ):
        super().__init__(name, buffer_size, batch_size)

    @property
    def data(self) -> np.ndarray:
        """The finished episodes' values in the window, oldest first (float64 `[n]`)."""
        return self._native_observer.values()

    @property
    def batch_size(self) -> int | None:
        return self._native_observer.batch_size

    def _aggregate(self, values: np.ndarray) -> np.float32:
        return np.mean(values, dtype=np.float32)

    def result(self) -> np.float32:
        values = self._native_observer.values()
        if values.size == 0:
            return np.array(0.0, dtype=np.float32)
        return self._aggregate(values)


class AverageReturnMetric(StreamingMetric):
    """Mean undiscounted return of the last `buffer_size` episodes."""

    _KIND = "average_return"

    def __init__(self, name: str = "AverageReturn", buffer_size: Any = 10, batch_size: Any = None):
        super().__init__(name, buffer_size, batch_size)


class AverageEpisodeLengthMetric(StreamingMetric):
    """Mean length (steps, boundaries excluded) of the last `buffer_size` episodes."""

    _KIND = "average_episode_length"

    def __init__(
        self, name: str = "AverageEpisodeLength", buffer_size: Any = 10, batch_size: Any = None
    ):
        super().__init__(name, buffer_size, batch_size)


class MaxReturnMetric(StreamingMetric):
    """Largest undiscounted return of the last `buffer_size` episodes."""

    _KIND = "max_return"

    def __init__(self, name: str = "MaxReturn", buffer_size: Any = 10, batch_size: Any = None):
        super().__init__(name, buffer_size, batch_size)

    def _aggregate(self, values: np.ndarray) -> np.float32:
        return np.float32(np.max(values))


class MinReturnMetric(StreamingMetric):
    """Smallest undiscounted return of the last `buffer_size` episodes."""

    _KIND = "min_return"

    def __init__(self, name: str = "MinReturn", buffer_size: Any = 10, batch_size: Any = None):
        super().__init__(name, buffer_size, batch_size)

    def _aggregate(self, values: np.ndarray) -> np.float32:
        return np.float32(np.min(values))


class EnvironmentSteps(_NativeStepMetric):
    """Counts environment steps: transitions that are not boundaries (np.int64)."""

    _KIND = "environment_steps"

    def __init__(self, name: str = "EnvironmentSteps"):
        super().__init__(name)

    def reset(self, environment_steps: int = 0) -> None:
        self._native_observer.reset()
        self._native_observer.count = int(environment_steps)

    def result(self) -> np.int64:
        return np.int64(self._native_observer.count)


class NumberOfEpisodes(_NativeStepMetric):
    """Counts finished episodes: transitions whose next step is LAST (np.int64)."""

    _KIND = "number_of_episodes"

    def __init__(self, name: str = "NumberOfEpisodes"):
        super().__init__(name)

    def result(self) -> np.int64:
        return np.int64(self._native_observer.count)


class CounterMetric(py_metric.PyMetric):
    """Counts its own calls (`metric()`); e.g. train or eval iterations."""

    def __init__(self, name: str = "Counter"):
        super().__init__(name)
        self._count = np.int64(0)

    def reset(self) -> None:
        self._count = np.int64(0)

    def call(self) -> None:
        self._count += 1

    def result(self) -> np.int64:
        return self._count

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

import copy
import io
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tfdrive import _core
from tfdrive.metrics import py_metric

try:
    import tensorflow as _tf
except ImportError:  # numpy-only install: no checkpoints.
    _tf = None


class NumpyDeque:
    """A FIFO of numbers in a numpy ring buffer (TF-Agents' `NumpyDeque`).

    Args:
      maxlen: the most values kept; adding more evicts the oldest. `np.inf`:
        unbounded (the array doubles when full).
      dtype: the values' numpy dtype.
    """

    def __init__(self, maxlen: Any, dtype: Any):
        self._start_index = np.int64(0)
        self._len = np.int64(0)
        self._maxlen = np.array(maxlen)
        size = 10 if np.isinf(self._maxlen) else int(self._maxlen)
        self._buffer = np.zeros(shape=(size,), dtype=dtype)

    def clear(self) -> None:
        self._start_index = np.int64(0)
        self._len = np.int64(0)

    def add(self, value: Any) -> None:
        """Appends `value`, evicting the oldest value when full."""
        if np.isinf(self._maxlen):
            index = int(self._len)  # unbounded: never wraps, start stays 0
            if index >= self._buffer.shape[0]:
                grown = np.zeros((2 * self._buffer.shape[0],), self._buffer.dtype)
                grown[:index] = self._buffer
                self._buffer = grown
        else:
            index = int((self._start_index + self._len) % self._maxlen)
        self._buffer[index] = value
        if self._len < self._maxlen:
            self._len += 1
        else:
            self._start_index = np.mod(self._start_index + 1, self._maxlen)

    def extend(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    @property
    def last(self) -> Any:
        """The newest value; RuntimeError when empty."""
        if not self._len > 0:
            raise RuntimeError("Attempting to access empty NumpyDeque.")
        return self._buffer[int((self._start_index + self._len - 1) % self._maxlen)]

    def __len__(self) -> int:
        return int(self._len)

    def mean(self, dtype: Any = None) -> Any:
        """The mean of the stored values (order does not matter)."""
        return np.mean(self._buffer[: int(self._len)], dtype=dtype)


def _encode_state(state: dict[str, Any]) -> bytes:
    """A metric state dict (numbers, arrays, None) as `.npz` bytes, without pickling."""
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in state.items() if v is not None}
    arrays["_none"] = np.array(sorted(k for k, v in state.items() if v is None), dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _decode_state(blob: bytes) -> dict[str, Any]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as saved:
        state: dict[str, Any] = {k: None for k in saved["_none"].tolist()}
        for k in saved.files:
            if k != "_none":
                value = saved[k]
                state[k] = value.item() if value.ndim == 0 else value
    return state


if _tf is not None:

    class _CheckpointedState(_tf.train.experimental.PythonState):
        """A metric's state in a checkpoint: read with `get`, restored with `set`."""

        def __init__(self, get: Callable[[], dict], set_: Callable[[dict], None]):
            self._get = get
            self._set = set_

        def serialize(self) -> bytes:
            return _encode_state(self._get())

        def deserialize(self, string_value: bytes) -> None:
            self._set(_decode_state(string_value))


def _checkpointed(get: Callable[[], dict], set_: Callable[[dict], None]) -> Any:
    """A checkpoint dependency for a metric's state (None without TensorFlow)."""
    return None if _tf is None else _CheckpointedState(get, set_)


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
        self._track_native_state()

    def _track_native_state(self) -> None:
        # Checkpoints save the native core's state through this dependency.
        self._native_state = _checkpointed(
            lambda: self._native_observer.get_state(),
            lambda state: self._native_observer.set_state(state),
        )

    # Pickling and deep copies carry the native state (the core pickles itself).

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self._name, "prefix": self._prefix, "core": self._native_observer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        py_metric.PyMetric.__init__(self, state["name"], state["prefix"])
        self._native_observer = state["core"]
        self._track_native_state()

    def __deepcopy__(self, memo: dict) -> _NativeStepMetric:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return clone

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

    def result(self) -> np.float32 | np.ndarray:
        """The aggregate of the window's values; a 0-d float32 zero before any episode."""
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
        self._count_state = _checkpointed(
            lambda: {"count": self._count},
            lambda state: setattr(self, "_count", np.int64(state["count"])),
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self._name, "prefix": self._prefix, "count": self._count}

    def __setstate__(self, state: dict[str, Any]) -> None:
        CounterMetric.__init__(self, state["name"])
        self._prefix = state["prefix"]
        self._count = np.int64(state["count"])

    def __deepcopy__(self, memo: dict) -> CounterMetric:
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__setstate__(self.__getstate__())
        return clone

    def reset(self) -> None:
        self._count = np.int64(0)

    def call(self) -> None:
        self._count += 1

    def result(self) -> np.int64:
        return self._count

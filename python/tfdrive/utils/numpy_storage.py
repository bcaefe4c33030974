"""Numpy arrays saved in `tf.train.Checkpoint`s (TF-Agents' `numpy_storage`).

`NumpyState`: an object whose numpy-array attributes are checkpointed; a
restore re-creates them, even on a fresh object. `NumpyStorage`: a nest of
items stored across one preallocated array per spec leaf.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import tensorflow as tf


class NumpyState(tf.train.experimental.PythonState):
    """Attributes holding numpy arrays or scalars, saved and restored by checkpoints.

    Assign numpy values as attributes (`state.x = np.ones(3)`); a checkpoint
    saves all of them as one `.npz` blob, and restoring sets them back (at
    `restore()` time, eagerly, also in graph mode), creating attributes the
    object did not have. Only numpy arrays and numpy scalars may be assigned:
    anything else raises `NotImplementedError`.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and not isinstance(value, (np.ndarray, np.generic)):
            raise NotImplementedError(
                f"Assigned {value!r} to the {name} property of {self!r}, which is not a NumPy "
                "array. NumpyState holds only numpy arrays and scalars."
            )
        super().__setattr__(name, value)

    def _arrays(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def serialize(self) -> bytes:
        """All numpy attributes as one `.npz` blob (no pickling)."""
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in self._arrays().items()}
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def deserialize(self, string_value: bytes) -> None:
        """Sets the attributes saved by `serialize`; 0-d arrays come back as numpy scalars."""
        with np.load(io.BytesIO(string_value), allow_pickle=False) as saved:
            for name in saved.files:
                value = saved[name]
                setattr(self, name, value[()] if value.ndim == 0 else value)


class NumpyStorage(tf.Module):
    """Items of `data_spec` stored in one `[capacity, *leaf.shape]` array per leaf.

    Args:
      data_spec: an `ArraySpec` or nest of them (no batch dimension).
      capacity: the number of slots.

    The arrays are allocated on first use, so a restored checkpoint fills
    them without allocating twice. Checkpointed through `NumpyState`.

    Raises:
      ValueError: if a leaf of `data_spec` is not an `ArraySpec` (tfdrive's or
        TF-Agents').
    """

    def __init__(self, data_spec: Any, capacity: int):
        self._capacity = capacity
        flat_specs = tf.nest.flatten(data_spec)
        if not all(_is_array_spec(spec) for spec in flat_specs):
            raise ValueError(
                "The data_spec parameter must be an instance or nest of array_spec.ArraySpec. "
                f"Got: {data_spec}"
            )
        self._data_spec = data_spec
        self._flat_specs = flat_specs
        self._np_state = NumpyState()
        self._buffer_names = tuple(f"buffer{i}" for i in range(len(flat_specs)))
        for name in self._buffer_names:
            # A 0-d placeholder marks "not allocated yet" (real buffers have a rank >= 1).
            setattr(self._np_state, name, np.int64(0))

    def _array(self, index: int) -> np.ndarray:
        """The array backing leaf `index`, allocated (zeros) on first use."""
        name = self._buffer_names[index]
        array = getattr(self._np_state, name)
        if np.ndim(array) == 0:
            spec = self._flat_specs[index]
            array = np.zeros((self._capacity, *spec.shape), dtype=spec.dtype)
            setattr(self._np_state, name, array)
        return array

    def get(self, idx: Any) -> Any:
        """The item at slot `idx` (views into the arrays for an int `idx`)."""
        flat = [self._array(i)[idx] for i in range(len(self._flat_specs))]
        return tf.nest.pack_sequence_as(self._data_spec, flat)

    def set(self, table_idx: Any, value: Any) -> None:
        """Stores the item `value` (`data_spec`'s nest) at slot `table_idx`."""
        for i, leaf in enumerate(tf.nest.flatten(value)):
            self._array(i)[table_idx] = leaf


def _is_array_spec(spec: Any) -> bool:
    """An ArraySpec of tfdrive or TF-Agents: a numpy-dtyped spec, not a TensorSpec."""
    return (
        hasattr(spec, "shape")
        and hasattr(spec, "dtype")
        and isinstance(spec.dtype, np.dtype)
        and not isinstance(spec, tf.TypeSpec)
    )

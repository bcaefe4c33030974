"""A trajectory buffer filled natively by the driver and read as numpy arrays.

`TrajectoryBuffer(data_spec, batch_size, max_length)` preallocates, for every
leaf of `data_spec` (flattened in `tf.nest` order), one numpy array
`[batch_size, max_length, *leaf_shape]` of the leaf's dtype: `B` rows (one
per environment of a batched env) of `T = max_length` time slots. Each
`add_batch` appends one item to every row at the same slot, as TF-Agents'
`TFUniformReplayBuffer` does; the copy runs in Rust
(`tfdrive._core.TrajectoryBufferCore`).

Overflow: each row is a ring. Once `max_length` items are stored, every new
batch overwrites the oldest one, so the buffer holds the last
`min(batches added, max_length)` items per row (`capacity = B * T` frames).

As an observer, the buffer is filled by tfdrive's `PyDriver` natively (it
recognises `_native_observer`; no Python call or `Trajectory` per step), and
by any other driver (TF-Agents' included) through `buffer(trajectory)`,
which is `add_batch`.

Reading: `gather_all()` copies the contents, oldest first, as `[B, n, ...]`
arrays; `as_numpy()` returns read-only views of the storage without copying
(see there for wrap-around); `sample()` draws uniformly with a seedable
`np.random.Generator`; `as_dataset()` wraps sampling in a `tf.data.Dataset`.

Importing this module needs only numpy; TensorFlow is imported by
`as_dataset` alone.
"""

from __future__ import annotations

import collections
import numbers
from collections import abc
from typing import Any

import numpy as np

from tfdrive import _core
from tfdrive.utils import nest

__all__ = ["BufferInfo", "TrajectoryBuffer"]

BufferInfo = collections.namedtuple("BufferInfo", ["ids", "probabilities"])
BufferInfo.__doc__ = """Auxiliary data of sampled items (as TF-Agents' `BufferInfo`).

`ids`: int64, the ids of the items: an item's id counts the batches added
before it since construction or `clear()` (equal for every row).
`probabilities`: float32, the probability of drawing each sample.
"""


def _leaf_dtype(spec: Any, name: str) -> np.dtype:
    dtype = getattr(spec, "dtype", None)
    if dtype is None:
        raise TypeError(f"data_spec leaf `{name}` is not a spec (it has no dtype): {spec!r}")
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def _leaf_shape(spec: Any, name: str) -> tuple[int, ...]:
    shape = getattr(spec, "shape", None)
    if shape is None:
        raise TypeError(f"data_spec leaf `{name}` is not a spec (it has no shape): {spec!r}")
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    if any(d is None for d in dims):
        raise ValueError(
            f"data_spec leaf `{name}` has shape {shape}; the buffer needs fully defined shapes"
        )
    return tuple(int(d) for d in dims)


def _leaf_names(structure: Any) -> list[str]:
    """The paths of `structure`'s leaves in `tf.nest` order, e.g. `observation['pos']`."""
    return nest.leaf_paths(structure, root="data_spec")


def _dict_keys(structure: Any) -> list[str] | None:
    """The dict keys of `structure` in flatten order, as the native core logs them.

    Each dict's sorted keys come before its children's. None when the
    structure has a mapping that is not a dict with str keys, or an attrs
    class: those are flattened by Python and their keys cannot be compared.
    """
    if not nest.is_nested(structure):
        return []
    if isinstance(structure, abc.Mapping):
        if not isinstance(structure, dict) or not all(isinstance(k, str) for k in structure):
            return None
        keys = sorted(structure)
        children = [structure[key] for key in keys]
    elif hasattr(type(structure), "__attrs_attrs__") or not isinstance(structure, (tuple, list)):
        return None
    else:
        keys, children = [], list(structure)
    for child in children:
        child_keys = _dict_keys(child)
        if child_keys is None:
            return None
        keys.extend(child_keys)
    return keys


def _unwrapped(structure: Any) -> Any:
    """`structure` rebuilt from plain nest types.

    TF's trackable proxies (`_TupleWrapper`, `_DictWrapper`, `ListWrapper`:
    what a nest becomes as an attribute of a `tf.Module`) are replaced by the
    namedtuple, tuple, dict or list they wrap; leaves are kept.
    """
    structure = getattr(structure, "__wrapped__", structure)
    if not nest.is_nested(structure) or hasattr(type(structure), "__attrs_attrs__"):
        return structure
    kind = type(structure)
    if isinstance(structure, abc.Mapping):
        items = [(key, _unwrapped(value)) for key, value in structure.items()]
        return kind(items) if kind in (dict, collections.OrderedDict) else dict(items)
    children = [_unwrapped(child) for child in structure]
    if isinstance(structure, tuple) and hasattr(type(structure), "_fields"):
        return type(structure)(*children)
    return tuple(children) if isinstance(structure, tuple) else list(children)


def _key_mismatch(value: Any, spec: Any, path: str) -> str | None:
    """Where `value`'s dict keys first differ from `spec`'s (a description), or None.

    Assumes the two nests already have the same layout (leaf counts).
    """
    value = getattr(value, "__wrapped__", value)
    if isinstance(spec, abc.Mapping):
        if not isinstance(value, abc.Mapping):
            return None
        if set(value) != set(spec):
            return (
                f"{path} has keys {sorted(map(repr, value))} where the spec has "
                f"{sorted(map(repr, spec))}"
            )
        pairs = [(f"{path}[{key!r}]", value[key], spec[key]) for key in spec]
    elif hasattr(type(spec), "__attrs_attrs__"):
        names = [a.name for a in type(spec).__attrs_attrs__]
        pairs = [(f"{path}.{n}", getattr(value, n, None), getattr(spec, n)) for n in names]
    elif nest.is_nested(spec) and nest.is_nested(value) and len(value) == len(spec):
        fields = getattr(type(spec), "_fields", None)
        labels = [f".{f}" for f in fields] if fields else [f"[{i}]" for i in range(len(spec))]
        pairs = [(path + label, v, s) for label, v, s in zip(labels, value, spec, strict=True)]
    else:
        return None
    for child_path, child_value, child_spec in pairs:
        found = _key_mismatch(child_value, child_spec, child_path)
        if found:
            return found
    return None


def _positive_int(value: Any, name: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral | np.integer)
        or int(value) < 1
    ):
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _generator(rng: Any, default: np.random.Generator) -> np.random.Generator:
    if rng is None:
        return default
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class TrajectoryBuffer:
    """A `[B, T]` ring of trajectories in preallocated numpy arrays.

    Args:
      data_spec: the spec of one item, without the batch dimension: a nest
        (usually a `Trajectory`, e.g. `policy.trajectory_spec` or
        `agent.collect_data_spec`) of `ArraySpec`s or `TensorSpec`s (tfdrive's
        or TF-Agents'), with fully defined shapes and non-object dtypes.
      batch_size: B, the number of rows: the batch size of the env whose
        trajectories are added (1 for an unbatched env).
      max_length: T, the number of items kept per row. Once a row holds T
        items, each new one overwrites the oldest.

    Storage: one C-contiguous array `[B, T, *leaf.shape]` of `leaf.dtype` per
    flattened spec leaf (`tf.nest` order), allocated here and only written
    by the native core; Python sees it read-only.

    Raises:
      ValueError: if `batch_size` or `max_length` is not a positive integer,
        or a spec shape is not fully defined.
      TypeError: if a leaf of `data_spec` is not a spec, or its dtype is an
        object dtype.
    """

    def __init__(self, data_spec: Any, batch_size: int, max_length: int = 1000):
        self._data_spec = data_spec
        # The nest types of what the buffer returns: without TF's trackable
        # wrappers (a spec read off a tf.Module, e.g. an agent's collect_data_spec).
        self._structure = _unwrapped(data_spec)
        self._batch_size = _positive_int(batch_size, "batch_size")
        self._max_length = _positive_int(max_length, "max_length")
        flat_specs = nest.flatten(self._structure)
        self._names = _leaf_names(self._structure)
        if len(self._names) != len(flat_specs):  # pragma: no cover - nest kinds out of sync
            raise TypeError(f"cannot name the leaves of data_spec {data_spec!r}")
        self._dtypes = [_leaf_dtype(s, n) for s, n in zip(flat_specs, self._names, strict=True)]
        self._shapes = [_leaf_shape(s, n) for s, n in zip(flat_specs, self._names, strict=True)]
        self._storage = [
            np.zeros((self._batch_size, self._max_length, *shape), dtype)
            for shape, dtype in zip(self._shapes, self._dtypes, strict=True)
        ]
        self._native_observer = self._new_core()
        for array in self._storage:
            array.flags.writeable = False
        self._rng = np.random.default_rng()

    def _new_core(self) -> Any:
        """The native core writing into `self._storage`."""
        return _core.TrajectoryBufferCore(
            self._storage,
            self._names,
            self._batch_size,
            self._max_length,
            dict_keys=_dict_keys(self._structure),
        )

    # Properties -----------------------------------------------------------

    @property
    def data_spec(self) -> Any:
        """The spec of one item (without the batch dimension)."""
        return self._data_spec

    @property
    def batch_size(self) -> int:
        """B: the number of rows (envs)."""
        return self._batch_size

    @property
    def max_length(self) -> int:
        """T: the number of items kept per row."""
        return self._max_length

    @property
    def capacity(self) -> int:
        """The most items (frames) the buffer holds: `batch_size * max_length`."""
        return self._batch_size * self._max_length

    @property
    def size(self) -> int:
        """n: items stored per row (`<= max_length`); the T extent of `gather_all()`."""
        return self._native_observer.len

    @property
    def start(self) -> int:
        """The storage slot (index along T) of the oldest item; 0 until the buffer wraps."""
        return self._native_observer.start

    def num_frames(self) -> int:
        """Items stored over all rows: `batch_size * size` (`<= capacity`)."""
        return self._batch_size * self._native_observer.len

    def __len__(self) -> int:
        """`num_frames()`: items stored over all rows."""
        return self.num_frames()

    # Pickling and copies ---------------------------------------------------
    def __getstate__(self) -> dict:
        """The buffer without its native core: the storage arrays and the ring's position."""
        state = self.__dict__.copy()
        core = state.pop("_native_observer")
        state["_position"] = (core.cursor, core.len, core.writes)
        return state

    def __setstate__(self, state: dict) -> None:
        """Rebuilds the native core on (owning, C-contiguous) copies of the storage."""
        state = dict(state)
        cursor, length, writes = state.pop("_position")
        self.__dict__.update(state)
        self._storage = [np.array(array, copy=True, order="C") for array in self._storage]
        self._native_observer = self._new_core()
        self._native_observer.set_position(cursor, length, writes)
        for array in self._storage:
            array.flags.writeable = False

    def __repr__(self) -> str:
        return (
            f"TrajectoryBuffer(batch_size={self._batch_size}, max_length={self._max_length}, "
            f"size={self.size}, leaves={self._names})"
        )

    # Writing --------------------------------------------------------------

    def add_batch(self, items: Any) -> None:
        """Appends one item per row.

        Args:
          items: a nest with `data_spec`'s structure whose leaves are
            `[batch_size, *leaf.shape]` arrays of the leaf's dtype, or
            `leaf.shape` (no batch dimension) when `batch_size == 1`. Numpy
            arrays, numpy scalars and tensors must have the leaf's dtype;
            Python numbers are converted to it. (Lists are nests, as in
            `tf.nest`: pass arrays.)

        Raises:
          ValueError: if the structure differs from `data_spec` (dict keys
            included), or a leaf's shape is wrong (the message names the spec
            leaf and both shapes).
          TypeError: if a leaf's dtype is wrong (the message names the leaf).
          Nothing is written when an error is raised.
        """
        try:
            nest.assert_same_structure(items, self._structure, check_types=False)
        except (ValueError, TypeError) as err:
            raise ValueError(f"items do not match the buffer's data_spec: {err}") from None
        # Leaves are stored by position: a dict with other keys would land in
        # the wrong leaves, so keys must match exactly.
        mismatch = _key_mismatch(items, self._structure, "items")
        if mismatch:
            raise ValueError(
                f"items do not match the buffer's data_spec: {mismatch}.\n"
                f"data_spec: {self._data_spec!r}\nitems: {items!r}"
            )
        self._native_observer.add_leaves(nest.flatten(items))

    def __call__(self, trajectory: Any) -> None:
        """`add_batch(trajectory)`: lets the buffer serve as a driver observer."""
        self.add_batch(trajectory)

    def clear(self) -> None:
        """Empties the buffer (ids restart at 0); the storage is not zeroed."""
        self._native_observer.clear()

    # Reading --------------------------------------------------------------

    def _pack(self, flat: list[np.ndarray]) -> Any:
        return nest.pack_sequence_as(self._structure, flat)

    def _slots(self) -> np.ndarray:
        """The storage slots of the stored items, oldest first (int64 `[n]`)."""
        core = self._native_observer
        return (core.start + np.arange(core.len, dtype=np.int64)) % self._max_length

    def gather_all(self) -> Any:
        """All stored items, oldest first: a copy.

        Returns:
          A nest like `data_spec` of `[batch_size, size, *leaf.shape]` arrays
          of the leaves' dtypes; `size` is 0 for an empty buffer.
        """
        slots = self._slots()
        return self._pack([array[:, slots] for array in self._storage])

    def as_numpy(self, ordered: bool = True) -> Any:
        """The stored items as `[batch_size, size, *leaf.shape]` arrays.

        Until the buffer wraps around (fewer than `max_length` batches added
        since the last `clear()`, or a multiple of `max_length` exactly),
        these are read-only views of the storage: no copy is made, and
        they show whatever is written to those slots later (so read them
        before adding more, or copy).

        Args:
          ordered: True (default): items oldest first; after a wrap-around
            they are not contiguous in the storage, and a copy is returned
            (as `gather_all()`). False: always views, in storage order: item
            `i` (oldest first) is at index `(start + i) % max_length` where
            `start` is the `start` property (0 until the buffer wraps).

        Returns:
          A nest like `data_spec` of read-only views (or a copy, see above).
        """
        core = self._native_observer
        n, start = core.len, core.start
        if not ordered:
            return self._pack([array[:, :n] for array in self._storage])
        if start + n <= self._max_length:
            return self._pack([array[:, start : start + n] for array in self._storage])
        return self.gather_all()

    def _draw(
        self, sample_batch_size: int | None, num_steps: int | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Rows `[k, 1]`, logical indices `[k, s]`, ids `[k, s]` and the probability."""
        core = self._native_observer
        n = core.len
        if n == 0:
            raise ValueError(
                "TrajectoryBuffer is empty. Make sure to add items before sampling the buffer."
            )
        steps = 1 if num_steps is None else _positive_int(num_steps, "num_steps")
        if steps > n:
            raise ValueError(
                f"num_steps={steps} is more than the {n} items stored per row "
                f"(max_length={self._max_length})"
            )
        count = (
            1
            if sample_batch_size is None
            else _positive_int(sample_batch_size, "sample_batch_size")
        )
        num_starts = n - steps + 1
        rows = rng.integers(0, self._batch_size, size=count)
        starts = rng.integers(0, num_starts, size=count)
        logical = starts[:, None] + np.arange(steps)
        ids = (core.writes - n + logical).astype(np.int64)
        return rows[:, None], logical, ids, 1.0 / (num_starts * self._batch_size)

    def _read(self, rows: np.ndarray, logical: np.ndarray) -> list[np.ndarray]:
        slots = (self._native_observer.start + logical) % self._max_length
        return [array[rows, slots] for array in self._storage]

    def sample(
        self,
        sample_batch_size: int | None = None,
        num_steps: int | None = None,
        rng: Any = None,
    ) -> Any:
        """Items drawn uniformly from the buffer (copies).

        Each sample picks a row uniformly, then (without `num_steps`) one of
        its `size` items uniformly, or (with `num_steps`) a window of
        `num_steps` consecutive items, oldest first, uniformly among the
        `size - num_steps + 1` windows that lie inside the stored items (a
        window never crosses the write position). Samples are independent
        (drawn with replacement). Windows may span episode boundaries; check
        `step_type` if that matters.

        Args:
          sample_batch_size: k, the number of samples; None for one sample
            without the batch dimension.
          num_steps: the window length; None for single items without a time
            dimension.
          rng: a `np.random.Generator`, or a seed for one
            (`np.random.default_rng(rng)`: the same seed gives the same
            samples from the same contents); None uses the buffer's own
            unseeded generator.

        Returns:
          A nest like `data_spec` of arrays `[k, num_steps, *leaf.shape]`,
          without `k` when `sample_batch_size` is None and without
          `num_steps` when it is None.

        Raises:
          ValueError: if the buffer is empty, or `num_steps` exceeds `size`.
        """
        return self.get_next(sample_batch_size, num_steps, rng=rng)[0]

    def get_next(
        self,
        sample_batch_size: int | None = None,
        num_steps: int | None = None,
        time_stacked: bool = True,
        rng: Any = None,
    ) -> tuple[Any, BufferInfo]:
        """`sample()` plus TF-Agents' `BufferInfo`, as `ReplayBuffer.get_next`.

        Returns:
          `(items, BufferInfo(ids, probabilities))`: `items` as `sample()`
          returns them, or with `time_stacked=False` and `num_steps`, a tuple
          of `num_steps` nests `[k, *leaf.shape]`; `ids` (int64) shaped like
          the sampled items' outer dimensions; `probabilities` (float32,
          `[k]` or `[]`) the chance of drawing each sample:
          `1 / (batch_size * number of windows)`.
        """
        rows, logical, ids, probability = self._draw(
            sample_batch_size, num_steps, _generator(rng, self._rng)
        )
        flat = self._read(rows, logical)  # [k, s, ...]
        if num_steps is None:
            flat = [a[:, 0] for a in flat]
            ids = ids[:, 0]
        if sample_batch_size is None:
            flat = [a[0, ...] for a in flat]
            ids = ids[0, ...]
        outer = () if sample_batch_size is None else (int(sample_batch_size),)
        info = BufferInfo(ids=ids, probabilities=np.full(outer, probability, np.float32))
        if num_steps is not None and not time_stacked:
            axis = 0 if sample_batch_size is None else 1
            items = tuple(
                self._pack([np.take(a, t, axis=axis) for a in flat]) for t in range(num_steps)
            )
            return items, info
        return self._pack(flat), info

    # tf.data --------------------------------------------------------------

    def as_dataset(
        self,
        sample_batch_size: int | None = None,
        num_steps: int | None = None,
        num_parallel_calls: Any = None,
        sequence_preprocess_fn: Any = None,
        single_deterministic_pass: bool = False,
        seed: Any = None,
    ) -> Any:
        """A `tf.data.Dataset` over the buffer, as TF-Agents' `as_dataset`.

        Elements are `(items, BufferInfo(ids, probabilities))` with
        `tf.TensorSpec`s of the leaves' dtypes and shapes
        `[sample_batch_size, num_steps, *leaf.shape]` (each outer dimension
        only when given). The buffer is read when elements are produced, so
        items added later show up in later elements.

        Default: an endless stream of `get_next(sample_batch_size, num_steps)`
        draws; `seed` seeds a fresh generator each time the dataset is
        iterated (None: the buffer's own generator). With
        `single_deterministic_pass=True`, every stored item once, row by
        row, oldest first: single items; or, with `num_steps`,
        non-overlapping windows (a row's last, shorter window is dropped);
        with `sample_batch_size`, groups of that many rows (the last group
        may be smaller; then the batch dimension is None) per time index.
        `probabilities` is then `()`, as in TF-Agents.

        Args:
          sample_batch_size: see `sample()`.
          num_steps: see `sample()`.
          num_parallel_calls: accepted for compatibility; ignored.
          sequence_preprocess_fn: not supported (must be None), as in
            TF-Agents' `TFUniformReplayBuffer`.
          single_deterministic_pass: see above.
          seed: see above.

        Raises:
          NotImplementedError: if `sequence_preprocess_fn` is given.
          ValueError: when iterated (as a TensorFlow error) if the buffer is
            empty or holds fewer than `num_steps` items per row.
        """
        import tensorflow as tf

        del num_parallel_calls
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("sequence_preprocess_fn is not supported.")
        if sample_batch_size is not None:
            sample_batch_size = _positive_int(sample_batch_size, "sample_batch_size")
        if num_steps is not None:
            num_steps = _positive_int(num_steps, "num_steps")
        batch_dim: tuple[int | None, ...] = (
            () if sample_batch_size is None else (sample_batch_size,)
        )
        if single_deterministic_pass and sample_batch_size is not None:
            if self._batch_size % sample_batch_size:
                batch_dim = (None,)
        time_dim = () if num_steps is None else (num_steps,)
        outer = batch_dim + time_dim
        items_signature = self._pack(
            [
                tf.TensorSpec(outer + shape, tf.as_dtype(dtype), name=None)
                for shape, dtype in zip(self._shapes, self._dtypes, strict=True)
            ]
        )
        if single_deterministic_pass:
            signature = (
                items_signature,
                BufferInfo(ids=tf.TensorSpec(outer, tf.int64), probabilities=()),
            )
            generator = self._deterministic_pass_generator(sample_batch_size, num_steps)
        else:
            signature = (
                items_signature,
                BufferInfo(
                    ids=tf.TensorSpec(outer, tf.int64),
                    probabilities=tf.TensorSpec(batch_dim, tf.float32),
                ),
            )

            def generator():
                rng = self._rng if seed is None else np.random.default_rng(seed)
                while True:
                    yield self.get_next(sample_batch_size, num_steps, rng=rng)

        return tf.data.Dataset.from_generator(generator, output_signature=signature)

    def _deterministic_pass_generator(self, sample_batch_size: int | None, num_steps: int | None):
        """The generator of `as_dataset(single_deterministic_pass=True)`."""

        def generator():
            core = self._native_observer
            n = core.len
            if n == 0:
                raise ValueError(
                    "TrajectoryBuffer is empty. Make sure to add items before asking for data."
                )
            steps = 1 if num_steps is None else num_steps
            starts = range(0, n - steps + 1, steps)
            first_id = core.writes - n
            group = 1 if sample_batch_size is None else sample_batch_size
            for first_row in range(0, self._batch_size, group):
                rows = np.arange(first_row, min(first_row + group, self._batch_size))[:, None]
                for start in starts:
                    logical = np.broadcast_to(np.arange(start, start + steps), (len(rows), steps))
                    flat = self._read(rows, logical)  # [m, steps, ...]
                    ids = (first_id + logical).astype(np.int64)
                    if num_steps is None:
                        flat = [a[:, 0] for a in flat]
                        ids = ids[:, 0]
                    if sample_batch_size is None:
                        flat = [a[0, ...] for a in flat]
                        ids = ids[0, ...]
                    yield self._pack(flat), BufferInfo(ids, ())

        return generator

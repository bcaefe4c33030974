"""TFUniformReplayBuffer: batched adds into `tf.Variable` rows, uniform sampling.

Storage is `B = batch_size` segments of `L = max_length` rows (capacity
`B * L`): item `i` of row `b` of every added batch goes to row
`b * L + id % L`, where `id` counts the batches added (each segment is a
ring, the newest batch overwriting the oldest). Every stored item carries
its id, so samples report them (`BufferInfo.ids`) as a prioritized buffer
would.

All state is in variables (tables of `replay_buffers.table`, a last-id
counter), so the buffer works eagerly, inside `tf.function` and in TF1
graphs, and is saved by `tf.train.Checkpoint`.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.replay_buffers import replay_buffer, table
from tfdrive.specs import tensor_spec
from tfdrive.utils import common, nest_utils

BufferInfo = collections.namedtuple("BufferInfo", ["ids", "probabilities"])
BufferInfo.__doc__ = """Auxiliary data of sampled items.

`ids`: int64, the id (batch count) of every sampled item, shaped like the
items' outer dimensions. `probabilities`: float32 `[sample_batch_size]` (or
`[]`), the chance of drawing each sample; `()` in a deterministic pass.
"""


@configurable
class TFUniformReplayBuffer(replay_buffer.ReplayBuffer):
    """A replay buffer of tensors with batched adds and uniform sampling.

    Args:
      data_spec: a `TensorSpec` or nest of them: one item, no batch dimension.
      batch_size: B, the batch dimension of every `add_batch`.
      max_length: L, the items kept per batch row.
      scope: the name scope of the variables and ops.
      device: the device of the variables and ops.
      table_fn: `table_fn(spec, capacity)` builds the storage tables.
      dataset_drop_remainder: in a deterministic pass, drop a last batch of
        fewer than `sample_batch_size` rows (and a last window shorter than
        `num_steps`), so shapes stay static.
      dataset_window_shift: in a deterministic pass with `num_steps`, the
        shift between consecutive windows; None: windows do not overlap.
      stateful_dataset: see `ReplayBuffer`.
    """

    def __init__(
        self,
        data_spec: Any,
        batch_size: int,
        max_length: int = 1000,
        scope: str = "TFUniformReplayBuffer",
        device: str = "cpu:*",
        table_fn: Any = table.Table,
        dataset_drop_remainder: bool = False,
        dataset_window_shift: Any = None,
        stateful_dataset: bool = False,
    ):
        self._batch_size = batch_size
        self._max_length = max_length
        capacity = batch_size * max_length
        super().__init__(data_spec, capacity, stateful_dataset)
        self._id_spec = tensor_spec.TensorSpec([], dtype=tf.int64, name="id")
        self._capacity_value = np.int64(capacity)
        self._batch_offsets = tf.range(batch_size, dtype=tf.int64) * max_length
        self._scope = scope
        self._device = device
        self._table_fn = table_fn
        self._dataset_drop_remainder = dataset_drop_remainder
        self._dataset_window_shift = dataset_window_shift
        with tf.device(device), tf.compat.v1.variable_scope(scope):
            self._capacity = tf.constant(capacity, dtype=tf.int64)
            self._data_table = table_fn(data_spec, self._capacity_value)
            self._id_table = table_fn(self._id_spec, self._capacity_value)
            # The id of the last batch added; -1 when empty.
            self._last_id = common.create_variable("last_id", -1)
            self._last_id_cs = tf.CriticalSection(name="last_id")

    def variables(self) -> list[tf.Variable]:
        """The storage tables' variables, then the last-id counter."""
        return self._data_table.variables() + self._id_table.variables() + [self._last_id]

    @property
    def device(self) -> str:
        return self._device

    @property
    def table_fn(self) -> Any:
        return self._table_fn

    @property
    def scope(self) -> str:
        return self._scope

    # ReplayBuffer's methods.

    def _num_frames(self) -> tf.Tensor:
        """int64: items stored over all rows, at most the capacity."""
        frames = (self._get_last_id() + 1) * self._batch_size
        return tf.minimum(frames, self._capacity)

    def _add_batch(self, items: Any) -> Any:
        """Writes one item per row.

        Args:
          items: `data_spec`'s nest of `[batch_size, *leaf.shape]` tensors.

        Raises:
          ValueError / TypeError: if `items` do not match `data_spec`'s
            structure, or their outer ranks differ.
        """
        nest_utils.assert_same_structure(items, self._data_spec)
        # All leaves must share one outer rank (checked against the specs).
        nest_utils.get_outer_rank(
            tf.nest.map_structure(tf.convert_to_tensor, items), self._data_spec
        )
        with tf.device(self._device), tf.name_scope(self._scope):
            id_ = self._increment_last_id()
            rows = self._batch_offsets + tf.math.mod(id_, self._max_length)
            write_ids = self._id_table.write(rows, id_)
            write_data = self._data_table.write(rows, items)
            return tf.group(write_ids, write_data)

    def _get_next(
        self, sample_batch_size: Any = None, num_steps: Any = None, time_stacked: bool = True
    ) -> tuple[Any, BufferInfo]:
        """Uniform samples: a row, then a start id among those with `num_steps` valid ids.

        Raises (when run):
          tf.errors.InvalidArgumentError: if the buffer holds fewer than
            `num_steps` (or 1) items per row.
        """
        with tf.device(self._device), tf.name_scope(self._scope), tf.name_scope("get_next"):
            min_id, max_id = _valid_range_ids(self._get_last_id(), self._max_length, num_steps)
            outer = () if sample_batch_size is None else (sample_batch_size,)
            assert_nonempty = tf.compat.v1.assert_greater(
                max_id,
                min_id,
                message=(
                    "TFUniformReplayBuffer is empty. Make sure to add items "
                    "before sampling the buffer."
                ),
            )
            with tf.control_dependencies([assert_nonempty]):
                num_ids = max_id - min_id
                probability = tf.cond(
                    pred=tf.equal(num_ids, 0),
                    true_fn=lambda: 0.0,
                    false_fn=lambda: 1.0 / tf.cast(num_ids * self._batch_size, tf.float32),
                )
                ids = tf.random.uniform(outer, minval=min_id, maxval=max_id, dtype=tf.int64)
            offsets = (
                tf.random.uniform(outer, minval=0, maxval=self._batch_size, dtype=tf.int64)
                * self._max_length
            )
            if num_steps is None:
                rows = tf.math.mod(ids, self._max_length) + offsets
                data, data_ids = self._data_table.read(rows), self._id_table.read(rows)
            elif time_stacked:
                steps = tf.range(num_steps, dtype=tf.int64)
                if sample_batch_size:
                    steps, ids, offsets = steps[None, :], ids[:, None], offsets[:, None]
                rows = tf.math.mod(ids + steps, self._max_length) + offsets
                data, data_ids = self._data_table.read(rows), self._id_table.read(rows)
            else:
                rows_per_step = [
                    tf.math.mod(ids + step, self._max_length) + offsets for step in range(num_steps)
                ]
                data = tuple(self._data_table.read(rows) for rows in rows_per_step)
                data_ids = tuple(self._id_table.read(rows) for rows in rows_per_step)
            probabilities = tf.fill(outer, probability)
        return data, BufferInfo(ids=data_ids, probabilities=probabilities)

    def as_dataset(  # type: ignore[override]  # TF-Agents' signature: no sequence_preprocess_fn
        self,
        sample_batch_size: Any = None,
        num_steps: Any = None,
        num_parallel_calls: Any = None,
        single_deterministic_pass: bool = False,
    ) -> tf.data.Dataset:
        """See `ReplayBuffer.as_dataset` (no `sequence_preprocess_fn` here).

        Uniform (default): an endless dataset of `get_next(sample_batch_size,
        num_steps)` samples, reading the buffer as elements are produced.

        `single_deterministic_pass=True`: every stored item once, row by row,
        oldest first; with `num_steps`, windows of that many items (shifted by
        `dataset_window_shift`, or not overlapping); with
        `sample_batch_size`, groups of that many rows read frame by frame
        (shape `[group, num_steps, ...]`). `probabilities` is `()`.
        """
        return super().as_dataset(
            sample_batch_size,
            num_steps,
            num_parallel_calls,
            single_deterministic_pass=single_deterministic_pass,
        )

    def _as_dataset(
        self,
        sample_batch_size: Any = None,
        num_steps: Any = None,
        sequence_preprocess_fn: Any = None,
        num_parallel_calls: Any = None,
    ) -> tf.data.Dataset:
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("sequence_preprocess_fn is not supported.")

        def sample(_):
            return self.get_next(sample_batch_size, num_steps, time_stacked=True)

        return tf.data.Dataset.counter().map(sample, num_parallel_calls=num_parallel_calls)

    def _single_deterministic_pass_dataset(
        self,
        sample_batch_size: Any = None,
        num_steps: Any = None,
        sequence_preprocess_fn: Any = None,
        num_parallel_calls: Any = None,
    ) -> tf.data.Dataset:
        """Raises ValueError when `dataset_drop_remainder` would drop every item."""
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("sequence_preprocess_fn is not supported.")
        drop = self._dataset_drop_remainder
        static_batch = tf.get_static_value(sample_batch_size)
        static_steps = tf.get_static_value(num_steps)
        static_rows = tf.get_static_value(self._batch_size)
        static_length = tf.get_static_value(self._max_length)
        if drop and None not in (static_batch, static_rows) and static_batch > static_rows:
            raise ValueError(
                f"sample_batch_size ({static_batch}) > self.batch_size ({static_rows}) and "
                "dataset_drop_remainder is True.  In this case, ALL data will be dropped by "
                "the deterministic dataset."
            )
        if drop and None not in (static_steps, static_length) and static_steps > static_length:
            raise ValueError(
                f"num_steps_size ({static_steps}) > self.max_length ({static_length}) and "
                "dataset_drop_remainder is True.  In this case, ALL data will be dropped by "
                "the deterministic dataset."
            )
        shift = self._dataset_window_shift

        def windows(dataset: tf.data.Dataset, drop_remainder: bool) -> tf.data.Dataset:
            return dataset.window(num_steps, shift=shift).flat_map(
                lambda window: window.batch(num_steps, drop_remainder=drop_remainder)
            )

        def indices(_):
            # Built when the dataset is iterated, so it sees the buffer's contents then.
            with tf.device(self._device), tf.name_scope(self._scope):
                first, end = _valid_range_ids(self._get_last_id(), self._max_length)
                tf.compat.v1.assert_less(
                    first,
                    end,
                    message=(
                        "TFUniformReplayBuffer is empty. Make sure to add items "
                        "before asking the buffer for data."
                    ),
                )
                frames = tf.range(first, end)
                if sample_batch_size is None:

                    def row(b):
                        ids = tf.data.Dataset.from_tensor_slices(b * self._max_length + frames)
                        return ids if num_steps is None else windows(ids, drop)

                    return tf.data.Dataset.range(self._batch_size).flat_map(row)

                # [frames, group] indices: one frame of a group of rows per element.
                def group(rows):
                    return tf.data.Dataset.from_tensor_slices(
                        frames[:, None] + rows * self._max_length
                    )

                ids = (
                    tf.data.Dataset.range(self._batch_size)
                    .batch(sample_batch_size, drop_remainder=drop)
                    .flat_map(group)
                )
                if num_steps is not None:
                    ids = windows(ids, True).map(tf.transpose)  # [group, num_steps]
                return ids

        def read(ids):
            with tf.device(self._device), tf.name_scope(self._scope):
                data = self._data_table.read(ids % self._capacity)
            return data, BufferInfo(ids=ids, probabilities=())

        dataset = tf.data.Dataset.range(1).flat_map(indices)
        # Parallel reads keep the stream's order, so the pass stays deterministic.
        return dataset.map(read, num_parallel_calls=num_parallel_calls)

    def _gather_all(self) -> Any:
        """Every stored item, oldest first: leaves `[batch_size, items per row, ...]`."""
        with tf.device(self._device), tf.name_scope(self._scope), tf.name_scope("gather_all"):
            first, end = _valid_range_ids(self._get_last_id(), self._max_length)
            ids = tf.range(first, end)
            rows = tf.math.mod(tf.stack([ids] * self._batch_size), self._max_length)
            rows += self._batch_offsets[:, None]
            return self._data_table.read(rows)

    def _clear(self, clear_all_variables: bool = False) -> Any:
        """Forgets the contents (the last id goes back to -1).

        Args:
          clear_all_variables: also zero the tables (by default the rows are
            only made unreachable, which is cheaper).
        """
        tables = self._data_table.variables() + self._id_table.variables()

        def reset():
            ops = [self._last_id.assign(-1)]
            if clear_all_variables:
                ops += [v.assign(tf.zeros_like(v)) for v in tables]
            return tf.group(*ops, name="clear")

        return self._last_id_cs.execute(reset)

    # The last-id counter, read and bumped under a critical section.

    def _increment_last_id(self, increment: int = 1) -> tf.Tensor:
        return self._last_id_cs.execute(lambda: self._last_id.assign_add(increment).value())

    def _get_last_id(self) -> tf.Tensor:
        return self._last_id_cs.execute(lambda: self._last_id.value())

    def _get_rows_for_id(self, id_: Any) -> tf.Tensor:
        """The storage rows of batch `id_`, one per batch row."""
        return self._batch_offsets + tf.math.mod(id_, self._max_length)


def _valid_range_ids(last_id: Any, max_length: int, num_steps: Any = None) -> tuple[Any, Any]:
    """`[min_id, max_id)`: the ids a run of `num_steps` (default 1) items may start at.

    Before the ring wraps (`last_id < max_length`) runs start at 0; after it,
    at the oldest id still stored, `last_id + 1 - max_length`. Either way a
    run must end at `last_id` at the latest.
    """
    if num_steps is None:
        num_steps = tf.constant(1, tf.int64)
    end = last_id + 1 - num_steps + 1
    filling = last_id < max_length
    first = tf.where(filling, tf.constant(0, tf.int64), last_id + 1 - max_length)
    return first, tf.where(filling, tf.maximum(end, 0), end)

"""PyUniformReplayBuffer: a numpy FIFO of items, sampled uniformly.

Items (batches of exactly one) go into a `utils.numpy_storage.NumpyStorage`
ring of `capacity` slots; once full, each add overwrites the oldest item.
Reads and writes hold one lock, so the buffer may be shared by threads. The
storage and the counters are checkpointed by `tf.train.Checkpoint`.

Subclasses change how items are stored by overriding `_encoded_data_spec`,
`_encode`, `_decode` and `_on_delete` (see `py_hashed_replay_buffer`).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive.replay_buffers import replay_buffer
from tfdrive.specs import array_spec
from tfdrive.utils import nest_utils, numpy_storage


class PyUniformReplayBuffer(replay_buffer.ReplayBuffer):
    """A numpy replay buffer with uniform sampling.

    Args:
      data_spec: an `ArraySpec` or nest of them: one item.
      capacity: the most items kept.
    """

    def __init__(self, data_spec: Any, capacity: int):
        super().__init__(data_spec, capacity)
        self._storage = numpy_storage.NumpyStorage(self._encoded_data_spec(), capacity)
        self._lock = threading.Lock()
        self._np_state = numpy_storage.NumpyState()
        self._np_state.size = np.int64(0)  # items stored
        self._np_state.cur_id = np.int64(0)  # the slot the next item goes to
        self._np_state.item_count = np.int64(0)  # items ever added

    # The storage encoding (identity here).

    def _encoded_data_spec(self) -> Any:
        """The spec of an item as stored (after `_encode`)."""
        return self._data_spec

    def _encode(self, item: Any) -> Any:
        """The item as stored."""
        return item

    def _decode(self, item: Any) -> Any:
        """The item as read back from its stored form."""
        return item

    def _on_delete(self, encoded_item: Any) -> None:
        """Called with a stored item about to be overwritten."""

    @property
    def size(self) -> np.int64:
        """The number of items stored."""
        return self._np_state.size

    def _num_frames(self) -> Any:
        raise NotImplementedError("num_frames is not yet implemented in PyUniformReplayBuffer")

    def _add_batch(self, items: Any) -> None:
        """Adds one item, given with a batch dimension of 1.

        Raises:
          NotImplementedError: for a batch of any other size (as TF-Agents).
        """
        outer_shape = nest_utils.get_outer_array_shape(items, self._data_spec)
        if outer_shape[0] != 1:
            raise NotImplementedError(
                "PyUniformReplayBuffer only supports a batch size of 1, but received `items` "
                f"with batch size {outer_shape[0]}."
            )
        item = nest_utils.unbatch_nested_array(items)
        with self._lock:
            state = self._np_state
            if state.size == self._capacity:
                self._on_delete(self._storage.get(state.cur_id))
            self._storage.set(state.cur_id, self._encode(item))
            state.size = np.minimum(state.size + 1, self._capacity)
            state.cur_id = (state.cur_id + 1) % self._capacity
            state.item_count += 1

    def _get_next(
        self, sample_batch_size: Any = None, num_steps: Any = None, time_stacked: bool = True
    ) -> Any:
        """Uniform samples drawn with `np.random` (returns items only, no info).

        A run of `num_steps` items never crosses the write position. From an
        empty buffer it returns uninitialised arrays of the spec's shapes, as
        TF-Agents does.
        """
        steps = 1 if num_steps is None else num_steps

        def one() -> Any:
            with self._lock:
                size = self._np_state.size
                if size <= 0:
                    empty = tf.nest.map_structure(
                        lambda spec: np.empty(spec.shape, dtype=spec.dtype), self._data_spec
                    )
                    if num_steps is None:
                        return empty
                    sequence = [empty] * num_steps
                    return nest_utils.stack_nested_arrays(sequence) if time_stacked else sequence
                start = np.random.randint(size - steps + 1)
                if size == self._capacity:  # Oldest item at cur_id.
                    start += self._np_state.cur_id
                if num_steps is None:
                    return self._decode(self._storage.get(start % self._capacity))
                sequence = [
                    self._decode(self._storage.get((start + n) % self._capacity))
                    for n in range(num_steps)
                ]
            return nest_utils.stack_nested_arrays(sequence) if time_stacked else sequence

        if sample_batch_size is None:
            return one()
        return nest_utils.stack_nested_arrays([one() for _ in range(sample_batch_size)])

    def _as_dataset(
        self,
        sample_batch_size: Any = None,
        num_steps: Any = None,
        sequence_preprocess_fn: Any = None,
        num_parallel_calls: Any = None,
    ) -> tf.data.Dataset:
        """An endless dataset of uniform samples (items only, no `BufferInfo`).

        Raises:
          NotImplementedError: if `sequence_preprocess_fn` or
            `num_parallel_calls` is given.
        """
        if sequence_preprocess_fn is not None:
            raise NotImplementedError("sequence_preprocess_fn is not supported.")
        if num_parallel_calls is not None:
            raise NotImplementedError(
                "PyUniformReplayBuffer does not support num_parallel_calls (must be None)."
            )
        spec = self._data_spec
        if sample_batch_size is not None:
            spec = array_spec.add_outer_dims_nest(spec, (sample_batch_size,))
        if num_steps is not None:
            spec = (spec,) * num_steps
        flat_specs = tf.nest.flatten(spec)
        signature = tuple(tf.TensorSpec(s.shape, tf.as_dtype(s.dtype)) for s in flat_specs)

        def samples():
            while True:
                if sample_batch_size is None:
                    item = self._get_next(num_steps=num_steps, time_stacked=False)
                else:
                    item = nest_utils.stack_nested_arrays(
                        [
                            self._get_next(num_steps=num_steps, time_stacked=False)
                            for _ in range(sample_batch_size)
                        ]
                    )
                yield tuple(tf.nest.flatten(item))

        time_axis = 0 if sample_batch_size is None else 1

        def stack_time(*steps_):
            return tf.nest.map_structure(lambda *xs: tf.stack(xs, axis=time_axis), *steps_)

        dataset = tf.data.Dataset.from_generator(samples, output_signature=signature).map(
            lambda *flat: tf.nest.pack_sequence_as(spec, flat)
        )
        return dataset if num_steps is None else dataset.map(stack_time)

    def _gather_all(self) -> Any:
        """Every slot (all `capacity` of them, stored or not), leaves `[1, capacity, ...]`."""
        items = [self._decode(self._storage.get(i)) for i in range(self._capacity)]
        stacked = nest_utils.stack_nested_arrays(items)
        return tf.nest.map_structure(lambda array: np.expand_dims(array, 0), stacked)

    def _clear(self) -> None:
        self._np_state.size = np.int64(0)
        self._np_state.cur_id = np.int64(0)

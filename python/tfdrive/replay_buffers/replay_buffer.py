"""The replay buffer interface (TF-Agents' `ReplayBuffer`).

A replay buffer stores items shaped like `data_spec` (a nest of specs) and
hands them back: sampled (`get_next`, `as_dataset`), all at once
(`gather_all`), or in one deterministic pass
(`as_dataset(single_deterministic_pass=True)`). Subclasses implement the
underscored methods; the public ones here validate and dispatch.

It is a `tf.Module`, so its variables and Python state are tracked by
`tf.train.Checkpoint`.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.utils import common


def _holds_list(structure: Any) -> bool:
    """Whether a `list` appears anywhere in the nest `structure`.

    `tf.data` treats lists as single tensors, `tf.nest` as nests: a spec with
    lists cannot round-trip through a dataset.
    """
    if isinstance(structure, list):
        return True
    if isinstance(structure, dict):
        return any(_holds_list(v) for v in structure.values())
    if isinstance(structure, tuple):
        return any(_holds_list(v) for v in structure)
    return False


class ReplayBuffer(tf.Module):
    """Base class of replay buffers.

    Args:
      data_spec: a spec, or nest of specs, of one stored item.
      capacity: the most items the buffer holds.
      stateful_dataset: whether `as_dataset` builds a dataset with stateful
        ops (then the dataset is marked as allowed to hold them).

    Eagerly, methods act at once and return values; in graph mode they return
    ops that act when run.
    """

    def __init__(self, data_spec: Any, capacity: Any, stateful_dataset: bool = False):
        super().__init__()
        common.check_tf1_allowed()
        self._data_spec = data_spec
        self._capacity = capacity
        self._stateful_dataset = stateful_dataset

    @property
    def data_spec(self) -> Any:
        """The spec of one stored item (no batch dimension)."""
        return self._data_spec

    @property
    def capacity(self) -> Any:
        """The most items the buffer holds."""
        return self._capacity

    @property
    def stateful_dataset(self) -> bool:
        """Whether `as_dataset` marks its dataset as holding stateful ops."""
        return self._stateful_dataset

    def num_frames(self) -> Any:
        """The number of items stored."""
        return self._num_frames()

    def add_batch(self, items: Any) -> Any:
        """Adds `items`: `data_spec`'s nest with a batch dimension in front of every leaf."""
        return self._add_batch(items)

    def get_next(
        self, sample_batch_size: Any = None, num_steps: Any = None, time_stacked: bool = True
    ) -> Any:
        """Samples items (deprecated in TF-Agents in favour of `as_dataset`).

        Args:
          sample_batch_size: None for one item shaped like `data_spec`, or B
            for a batch: every leaf gets a leading `[B]`.
          num_steps: None for single items, or T for runs of T consecutive
            items: a `[T]` dimension after the batch one (time_stacked), or a
            tuple of T items (time_stacked=False).
          time_stacked: see `num_steps`.

        Returns:
          `(items, info)`: the sampled items and buffer-specific auxiliary
          information (for uniform buffers a `BufferInfo(ids, probabilities)`).
        """
        return self._get_next(sample_batch_size, num_steps, time_stacked)

    def as_dataset(
        self,
        sample_batch_size: Any = None,
        num_steps: Any = None,
        num_parallel_calls: Any = None,
        sequence_preprocess_fn: Any = None,
        single_deterministic_pass: bool = False,
    ) -> tf.data.Dataset:
        """A `tf.data.Dataset` of `(items, info)` elements read from the buffer.

        Args:
          sample_batch_size: None (no batch dimension) or the batch size.
          num_steps: None (single items) or the length of runs of consecutive
            items (a time dimension after the batch one).
          num_parallel_calls: elements prepared in parallel; None: sequential.
          sequence_preprocess_fn: applied to sequences before they are cut
            into `num_steps` runs, where the buffer supports it.
          single_deterministic_pass: True: every stored item once, in a fixed
            order, instead of endless uniform samples.

        Raises:
          ValueError: if `data_spec` holds lists (tf.data would read them as
            tensors); use tuples.
          NotImplementedError: for arguments the buffer does not support.
        """
        if _holds_list(self._data_spec):
            raise ValueError(
                "Cannot perform gather; data spec contains lists and this conflicts with "
                "gathering operator.  Convert any lists to tuples.  For example, if your spec "
                "looks like [a, b, c], change it to (a, b, c).  Spec structure is:\n  "
                f"{tf.nest.map_structure(lambda spec: spec.dtype, self._data_spec)}"
            )
        build = (
            self._single_deterministic_pass_dataset
            if single_deterministic_pass
            else self._as_dataset
        )
        dataset = build(
            sample_batch_size=sample_batch_size,
            num_steps=num_steps,
            sequence_preprocess_fn=sequence_preprocess_fn,
            num_parallel_calls=num_parallel_calls,
        )
        if self._stateful_dataset:
            options = tf.data.Options()
            if hasattr(options, "experimental_allow_stateful"):
                options.experimental_allow_stateful = True
                dataset = dataset.with_options(options)
        return dataset

    def gather_all(self) -> Any:
        """Every stored item: leaves shaped `[B, T, ...]` (batch, time)."""
        return self._gather_all()

    def clear(self) -> Any:
        """Empties the buffer."""
        return self._clear()

    # What subclasses implement.

    def _num_frames(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement num_frames")

    def _add_batch(self, items: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement add_batch")

    def _get_next(self, sample_batch_size: Any, num_steps: Any, time_stacked: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_next")

    def _as_dataset(
        self,
        sample_batch_size: Any,
        num_steps: Any,
        sequence_preprocess_fn: Any,
        num_parallel_calls: Any,
    ) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement as_dataset")

    def _single_deterministic_pass_dataset(
        self,
        sample_batch_size: Any,
        num_steps: Any,
        sequence_preprocess_fn: Any,
        num_parallel_calls: Any,
    ) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} does not implement as_dataset(single_deterministic_pass=True)"
        )

    def _gather_all(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement gather_all")

    def _clear(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement clear")

"""Table: rows of nested tensors kept in `tf.Variable`s (TF-Agents' `table.Table`).

For a `tensor_spec` nest and a `capacity` C, every spec leaf gets one variable
`[C, *leaf.shape]` of the leaf's dtype, zero-initialised; a row index reads or
writes one item across all of them. Not thread-safe: callers serialise writes.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.utils import common


class Table(tf.Module):
    """Rows of `tensor_spec`-shaped items in variables.

    Args:
      tensor_spec: a nest of `TensorSpec`s, one per stored tensor; each leaf's
        name (or 'slot') names its variable and its slot.
      capacity: the number of rows.
      scope: the variable scope of the storage (names contain it).
    """

    def __init__(self, tensor_spec: Any, capacity: Any, scope: str = "Table"):
        super().__init__(name=scope)
        self._tensor_spec = tensor_spec
        self._capacity = capacity
        graph = tf.compat.v1.get_default_graph()
        # Slot names are unique per graph so two leaves with one name stay apart.
        self._slots = tf.nest.map_structure(
            lambda spec: graph.unique_name(spec.name or "slot"), tensor_spec
        )

        def storage(spec: Any, slot: str) -> tf.Variable:
            return common.create_variable(
                name=slot,
                initializer=tf.zeros([capacity] + spec.shape.as_list(), dtype=spec.dtype),
                shape=None,
                dtype=spec.dtype,
                unique_name=False,
            )

        with tf.compat.v1.variable_scope(scope):
            self._storage = tf.nest.map_structure(storage, tensor_spec, self._slots)
        self._slot_storage = dict(
            zip(tf.nest.flatten(self._slots), tf.nest.flatten(self._storage), strict=True)
        )

    @property
    def slots(self) -> Any:
        """The slot names, in `tensor_spec`'s structure."""
        return self._slots

    def variables(self) -> list[tf.Variable]:
        """The storage variables, in `tf.nest` order."""
        return tf.nest.flatten(self._storage)

    def read(self, rows: Any, slots: Any = None) -> Any:
        """The values at `rows`.

        Args:
          rows: a scalar row (items without a batch dimension) or an int
            tensor of rows of any shape (its shape is prepended to every
            leaf).
          slots: a nest of slot names to read (the result has its structure);
            None reads every slot in `tensor_spec`'s structure.
        """
        slots = slots or self._slots
        values = [self._slot_storage[slot].sparse_read(rows) for slot in tf.nest.flatten(slots)]
        return tf.nest.pack_sequence_as(slots, values)

    def write(self, rows: Any, values: Any, slots: Any = None) -> Any:
        """Writes `values` (`slots`' structure; a leading dim per row) at `rows`; returns the op."""
        slots = slots or self._slots
        ops = [
            tf.compat.v1.scatter_update(self._slot_storage[slot], rows, value).op
            for slot, value in zip(tf.nest.flatten(slots), tf.nest.flatten(values), strict=False)
        ]
        return tf.group(*ops)

"""`ExpandDims`: a Keras layer inserting a size-1 axis into each (batched) input."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive._keras import keras

__all__ = ["ExpandDims"]


class ExpandDims(keras.layers.Layer):
    """Inserts a size-1 axis; the batch dim (axis 0 of the input) is never counted.

    For inputs ``(batch,) + shape``: ``axis >= 0`` inserts before ``shape[axis]``,
    ``axis = -1`` appends (``(batch,) + shape + (1,)``), ``axis < -1`` counts
    from the right as `tf.expand_dims` does.

    Args:
      axis: Python int, the position of the new axis within ``shape``.
      **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, axis: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def _input_axis(self) -> int:
        return self.axis if self.axis < 0 else self.axis + 1

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        input_shape = tf.TensorShape(input_shape)
        if input_shape.rank is None:
            return input_shape
        dims = input_shape.as_list()
        axis = self._input_axis()
        position = axis if axis >= 0 else len(dims) + axis + 1
        return tf.TensorShape(dims[:position] + [1] + dims[position:])

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.expand_dims(inputs, self._input_axis())

    def get_config(self) -> dict:
        return dict(super().get_config(), axis=self.axis)


# Lets `type(layer).from_config(layer.get_config())` and deserialization find it.
keras.utils.get_custom_objects()["ExpandDims"] = ExpandDims

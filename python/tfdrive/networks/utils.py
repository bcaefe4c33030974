"""Helpers shared by tfdrive's networks: batch squashing, MLP stacks, output checks."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfdrive._keras import keras
from tfdrive.networks.layers import PermanentVariableRateDropout

__all__ = [
    "BatchSquash",
    "check_single_floating_network_output",
    "clone_initializer",
    "default_kernel_initializer",
    "maybe_permanent_dropout",
    "mlp_layers",
]


def check_single_floating_network_output(
    output_spec: Any, expected_output_shape: Sequence[int], label: str
) -> None:
    """Raises unless `output_spec` is one floating `TensorSpec` of `expected_output_shape`.

    Raises:
      ValueError: Naming `label`, the expected inner shape and the spec seen.
    """
    expected_output_shape = tuple(int(x) for x in expected_output_shape)
    if not (
        isinstance(output_spec, tf.TensorSpec)
        and output_spec.shape == expected_output_shape
        and output_spec.dtype.is_floating
    ):
        raise ValueError(
            f"Expected {label} to emit a floating point tensor with inner dims "
            f"{expected_output_shape}; but saw network output spec: {output_spec}"
        )


def _shape(tensor: Any) -> tf.Tensor:
    """The dynamic shape of a dense or sparse tensor."""
    if isinstance(tensor, tf.SparseTensor):
        return tensor.dense_shape
    return tf.shape(tensor)


def _reshape(tensor: Any, shape: Any) -> Any:
    if isinstance(tensor, tf.SparseTensor):
        return tf.sparse.reshape(tensor, shape)
    return tf.reshape(tensor, shape)


class BatchSquash:
    """Folds the first `batch_dims` dims of a tensor into one, and unfolds them back.

    ``flatten`` turns ``[d0, ..., d(k-1)] + inner`` into ``[d0 * ... * d(k-1)] +
    inner`` (``[1] + shape`` for ``batch_dims=0``; unchanged for 1) and
    remembers the outer shape; ``unflatten`` restores it on a tensor
    ``[N] + other_inner``. Works on `tf.Tensor` and `tf.SparseTensor`.

    Args:
      batch_dims: Number of outer dims to fold.

    Raises:
      ValueError: `batch_dims` is negative.
    """

    def __init__(self, batch_dims: int):
        if batch_dims < 0:
            raise ValueError("Batch dims must be non-negative.")
        self._batch_dims = batch_dims
        self._original_tensor_shape = None

    def flatten(self, tensor: Any) -> Any:
        """Folds the batch dims of `tensor` into one, remembering them."""
        with tf.name_scope("batch_flatten"):
            if self._batch_dims == 1:
                return tensor
            self._original_tensor_shape = _shape(tensor)
            inner = tensor.shape[self._batch_dims :]
            if inner.is_fully_defined():
                return _reshape(tensor, [-1] + inner.as_list())
            shape = _shape(tensor)
            reshaped = _reshape(
                tensor, tf.concat([tf.constant([-1], shape.dtype), shape[self._batch_dims :]], 0)
            )
            outer = tensor.shape[: self._batch_dims]
            if isinstance(tensor, tf.Tensor) and outer.is_fully_defined():
                # The folded size is known statically even if the inner dims are not.
                folded = int(np.prod(outer.as_list(), dtype=np.int64))
                return tf.ensure_shape(reshaped, [folded] + inner.as_list())
            return reshaped

    def unflatten(self, tensor: Any) -> Any:
        """Restores the batch dims remembered by `flatten` on `tensor` ``[N] + inner``.

        Raises:
          ValueError: `flatten` was not called first.
        """
        with tf.name_scope("batch_unflatten"):
            if self._batch_dims == 1:
                return tensor
            if self._original_tensor_shape is None:
                raise ValueError("Please call flatten before unflatten.")
            outer = self._original_tensor_shape[: self._batch_dims]
            inner = tf.cast(_shape(tensor)[1:], outer.dtype)
            return _reshape(tensor, tf.concat([outer, inner], axis=0))


def default_kernel_initializer() -> Any:
    """TF-Agents' kernel initializer: truncated normal with variance ``2 / fan_in``."""
    return tf.compat.v1.variance_scaling_initializer(
        scale=2.0, mode="fan_in", distribution="truncated_normal"
    )


def clone_initializer(initializer: Any) -> Any:
    """A fresh copy of a Keras initializer object; anything else is returned as is.

    Keras initializers are stateless: one instance reused for two kernels of
    the same shape would give them identical values.
    """
    if isinstance(initializer, keras.initializers.Initializer):
        return type(initializer).from_config(initializer.get_config())
    return initializer


def maybe_permanent_dropout(params: Any) -> PermanentVariableRateDropout | None:
    """A dropout layer from a rate or a dict of its arguments; None for a falsy rate."""
    if not isinstance(params, dict):
        params = {"rate": params} if params else None
    return None if params is None else PermanentVariableRateDropout(**params)


def check_parallel_lists(
    fc_layer_params: Sequence[Any], dropout_layer_params: Any, weight_decay_params: Any
) -> tuple[list, list]:
    """Dropout and weight-decay lists matching `fc_layer_params` (Nones when not given).

    Raises:
      ValueError: A given list has a different length than `fc_layer_params`.
    """
    count = len(fc_layer_params)
    if dropout_layer_params is None:
        dropout_layer_params = [None] * count
    elif len(dropout_layer_params) != count:
        raise ValueError(
            "Dropout and full connected layer parameter lists have different lengths "
            f"({len(dropout_layer_params)} vs. {count}.)"
        )
    if weight_decay_params is None:
        weight_decay_params = [None] * count
    elif len(weight_decay_params) != count:
        raise ValueError(
            "Weight decay and fully connected layer parameter lists have different lengths "
            f"({len(weight_decay_params)} vs. {count}.)"
        )
    return list(dropout_layer_params), list(weight_decay_params)


def mlp_layers(
    conv_layer_params: Sequence[tuple[int, Any, Any]] | None = None,
    fc_layer_params: Sequence[int] | None = None,
    dropout_layer_params: Sequence[Any] | None = None,
    activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
    kernel_initializer: Any = None,
    weight_decay_params: Sequence[float | None] | None = None,
    name: str | None = None,
) -> list:
    """Keras layers ``Conv2D* -> Flatten -> (Dense -> Dropout?)*``.

    Args:
      conv_layer_params: ``(filters, kernel_size, strides)`` per `Conv2D`.
      fc_layer_params: Units per `Dense` layer.
      dropout_layer_params: Per dense layer, None (no dropout), a rate, or a
        dict of `PermanentVariableRateDropout` arguments (``permanent=True``
        keeps dropout at inference).
      activation_fn: Activation of the conv and dense layers.
      kernel_initializer: Kernel initializer (cloned per layer); default
        truncated normal with variance ``2 / fan_in``.
      weight_decay_params: Per dense layer, an L2 factor or None.
      name: Prefix of the layer names (``name/conv2d``, ``name/dense<i>``).

    Returns:
      The list of layers.

    Raises:
      ValueError: A dropout or weight-decay list has a different length than
        `fc_layer_params`.
    """
    if kernel_initializer is None:
        kernel_initializer = default_kernel_initializer()
    layers = [
        keras.layers.Conv2D(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            activation=activation_fn,
            kernel_initializer=clone_initializer(kernel_initializer),
            name=f"{name}/conv2d" if name else None,
        )
        for filters, kernel_size, strides in conv_layer_params or ()
    ]
    layers.append(keras.layers.Flatten())
    if fc_layer_params is None:
        return layers
    dropouts, decays = check_parallel_lists(
        fc_layer_params, dropout_layer_params, weight_decay_params
    )
    for i, (units, dropout, decay) in enumerate(zip(fc_layer_params, dropouts, decays)):
        layers.append(
            keras.layers.Dense(
                units,
                activation=activation_fn,
                kernel_initializer=clone_initializer(kernel_initializer),
                kernel_regularizer=None if decay is None else keras.regularizers.l2(decay),
                name=f"{name}/dense{i}" if name else None,
            )
        )
        maybe_dropout = maybe_permanent_dropout(dropout)
        if maybe_dropout is not None:
            layers.append(maybe_dropout)
    return layers

"""`EncodingNetwork`: preprocessing -> combiner -> conv -> Flatten -> dense feature encoder.

The layers, each optional except `Flatten`::

    preprocessing_layers   one per observation (sub)nest
    preprocessing_combiner e.g. Concatenate(axis=-1) or Add(), for nested inputs
    Conv2D / Conv1D        conv_layer_params
    Flatten
    Dense (+ Dropout)      fc_layer_params (dropout_layer_params, weight_decay_params)

Inputs have outer dims (``[B]``, ``[B, T]``, ...) ahead of
``input_tensor_spec``; with ``batch_squash`` they are folded into one before
the layers and restored after, so the output is ``outer dims + [units]``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import network, utils
from tfdrive.utils import nest_utils

__all__ = ["CONV_TYPE_1D", "CONV_TYPE_2D", "EncodingNetwork"]

CONV_TYPE_2D = "2d"
CONV_TYPE_1D = "1d"

_log = logging.getLogger(__name__)


def _is_dense_features_v1(layer: Any) -> bool:
    module = type(layer).__module__ or ""
    return type(layer).__name__ == "DenseFeatures" and module.endswith(
        "feature_column.dense_features"
    )


def _copy_layer(layer: Any) -> Any:
    """A fresh, unbuilt layer with `layer`'s configuration (weights are not shared).

    Raises:
      TypeError: `layer` is not a Keras layer.
      ValueError: `layer` is a V1 `DenseFeatures`, which cannot be copied this way.
    """
    if not isinstance(layer, keras.layers.Layer):
        network.check_not_keras3(layer, "preprocessing_layers")
        raise TypeError(f"layer is not a keras layer: {layer}")
    if _is_dense_features_v1(layer):
        raise ValueError(
            "DenseFeatures V1 is not supported. Use tf.compat.v2.keras.layers.DenseFeatures "
            "instead."
        )
    if layer.built:
        _log.warning(
            "Beware: Copying a layer that has already been built: '%s'.  This can lead to "
            "subtle bugs because the original layer's weights will not be used in the copy.",
            layer.name,
        )
    return type(layer).from_config(layer.get_config())


def _conv_layers(
    conv_layer_params: Sequence[tuple],
    conv_type: str,
    activation_fn: Callable,
    kernel_initializer: Any,
    dtype: tf.DType,
) -> list:
    """Conv layers from ``(filters, kernel_size, strides[, dilation_rate])`` tuples.

    Raises:
      ValueError: Unknown `conv_type`, or a tuple of other than 3 or 4 entries.
    """
    no_dilation: tuple[int, ...]
    if conv_type == CONV_TYPE_2D:
        conv_class, no_dilation = keras.layers.Conv2D, (1, 1)
    elif conv_type == CONV_TYPE_1D:
        conv_class, no_dilation = keras.layers.Conv1D, (1,)
    else:
        raise ValueError(f"unsupported conv type of {conv_type}. Use 1d or 2d")
    layers = []
    for config in conv_layer_params:
        if len(config) == 4:
            filters, kernel_size, strides, dilation_rate = config
        elif len(config) == 3:
            (filters, kernel_size, strides), dilation_rate = config, no_dilation
        else:
            raise ValueError("only 3 or 4 elements permitted in conv_layer_params tuples")
        layers.append(
            conv_class(
                filters=filters,
                kernel_size=kernel_size,
                strides=strides,
                dilation_rate=dilation_rate,
                activation=activation_fn,
                kernel_initializer=kernel_initializer,
                dtype=dtype,
            )
        )
    return layers


@configurable
class EncodingNetwork(network.Network):
    """Feed-forward encoder of (nested) observations into one feature tensor.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      preprocessing_layers: Optional nest of Keras layers, structured like
        `input_tensor_spec` or shallower (a layer then gets a whole subnest).
        They are copied (never built in place); pass unbuilt layers.
      preprocessing_combiner: Optional Keras layer joining the flat list of
        preprocessed tensors (required when there is more than one input).
        Copied like the preprocessing layers.
      conv_layer_params: ``(filters, kernel_size, strides)`` or ``(filters,
        kernel_size, strides, dilation_rate)`` per conv layer.
      fc_layer_params: Units per dense layer.
      dropout_layer_params: Per dense layer: None, a rate, or a dict of
        `PermanentVariableRateDropout` arguments.
      activation_fn: Activation of the conv and dense layers.
      weight_decay_params: Per dense layer: an L2 factor or None.
      kernel_initializer: Conv and dense kernel initializer; default truncated
        normal with variance ``2 / fan_in``.
      batch_squash: Fold all outer dims into one around the layers, so
        ``[B, T, ...]`` inputs work.
      dtype: dtype of the conv and dense layers.
      name: Network name.
      conv_type: ``'2d'`` (`Conv2D`) or ``'1d'`` (`Conv1D`).

    Raises:
      ValueError: `preprocessing_layers` does not fit `input_tensor_spec`'s
        structure; a nested input without combiner; a V1 ``DenseFeatures``;
        dropout / weight-decay lists of a different length than
        `fc_layer_params`; bad conv parameters or `conv_type`.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[tuple] | None = None,
        fc_layer_params: Sequence[int] | None = None,
        dropout_layer_params: Sequence[Any] | None = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        weight_decay_params: Sequence[float | None] | None = None,
        kernel_initializer: Any = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        name: str = "EncodingNetwork",
        conv_type: str = CONV_TYPE_2D,
    ):
        if preprocessing_layers is None:
            flat_preprocessing_layers = None
        else:
            flat_preprocessing_layers = [
                _copy_layer(layer) for layer in tf.nest.flatten(preprocessing_layers)
            ]
            # The layers' nest must be a prefix of the inputs' nest.
            input_nest = input_tensor_spec
            if not tf.nest.is_nested(input_tensor_spec):
                input_nest = [input_tensor_spec]
            nest_utils.flatten_up_to(preprocessing_layers, input_nest)
        if len(tf.nest.flatten(input_tensor_spec)) > 1 and preprocessing_combiner is None:
            raise ValueError(
                "preprocessing_combiner layer is required when more than 1 "
                "input_tensor_spec is provided."
            )
        if preprocessing_combiner is not None:
            preprocessing_combiner = _copy_layer(preprocessing_combiner)
        if not kernel_initializer:
            kernel_initializer = utils.default_kernel_initializer()

        layers = []
        if conv_layer_params:
            layers.extend(
                _conv_layers(conv_layer_params, conv_type, activation_fn, kernel_initializer, dtype)
            )
        layers.append(keras.layers.Flatten())
        if fc_layer_params:
            dropouts, decays = utils.check_parallel_lists(
                fc_layer_params, dropout_layer_params, weight_decay_params
            )
            for units, dropout, decay in zip(fc_layer_params, dropouts, decays):
                layers.append(
                    keras.layers.Dense(
                        units,
                        activation=activation_fn,
                        kernel_initializer=kernel_initializer,
                        kernel_regularizer=None if decay is None else keras.regularizers.l2(decay),
                        dtype=dtype,
                    )
                )
                maybe_dropout = utils.maybe_permanent_dropout(dropout)
                if maybe_dropout is not None:
                    layers.append(maybe_dropout)

        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        # Only the structure of the preprocessing layers is kept (the copies
        # are tracked through the flat list).
        object.__setattr__(
            self,
            "_preprocessing_nest",
            tf.nest.map_structure(lambda _: None, preprocessing_layers),
        )
        self._flat_preprocessing_layers = flat_preprocessing_layers
        self._preprocessing_combiner = preprocessing_combiner
        self._postprocessing_layers = layers
        self._batch_squash = batch_squash
        self.built = True  # `variables` is readable before the first call (as empty).

    def call(self, observation, step_type=None, network_state=(), training=False):
        del step_type  # The encoder is stateless.
        if self._batch_squash:
            outer_rank = nest_utils.get_outer_rank(observation, self.input_tensor_spec)
            squash = utils.BatchSquash(outer_rank)
            observation = tf.nest.map_structure(squash.flatten, observation)
        if self._flat_preprocessing_layers is None:
            processed = observation
        else:
            inputs = nest_utils.flatten_up_to(self._preprocessing_nest, observation)
            processed = [
                layer(x, training=training)
                for x, layer in zip(inputs, self._flat_preprocessing_layers)
            ]
            if len(processed) == 1 and self._preprocessing_combiner is None:
                processed = processed[0]  # A single input needs no combiner.
        states = processed
        if self._preprocessing_combiner is not None:
            states = self._preprocessing_combiner(states)
        for layer in self._postprocessing_layers:
            states = layer(states, training=training)
        if self._batch_squash:
            states = tf.nest.map_structure(squash.unflatten, states)
        return states, network_state

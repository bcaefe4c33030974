"""`ValueNetwork`: observations -> an encoder -> one scalar value per observation.

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense (+ Dropout)...] (an `EncodingNetwork`) -> Dense(1) -> squeeze.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import encoding_network, network

__all__ = ["ValueNetwork"]


def value_layer(dtype: tf.DType = tf.float32) -> Any:
    """The final Dense(1) of the value networks: kernel uniform in ±0.03, zero bias."""
    return keras.layers.Dense(
        1,
        activation=None,
        kernel_initializer=tf.random_uniform_initializer(minval=-0.03, maxval=0.03),
        dtype=dtype,
    )


@configurable
class ValueNetwork(network.Network):
    """Maps observations to values: float ``outer_dims`` (e.g. ``[B]`` or ``[B, T]``).

    Called as ``net(observation, step_type=None, network_state=(),
    training=False)``; returns ``(values, network_state)``. Outer rank must be
    at least 1.

    Variables: the encoder's (conv kernels and biases, then dense ones), then
    the value layer's kernel ``[k, 1]`` and bias ``[1]``.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      preprocessing_layers: Nest of Keras layers (like the observation) applied
        to each observation first; the network uses its own (unbuilt) copies.
      preprocessing_combiner: Keras layer (copied) joining the flat list of
        preprocessed observations into one tensor; needed for a nest of
        observations.
      conv_layer_params: ``(filters, kernel_size, stride[, dilation])`` per
        Conv2D layer.
      fc_layer_params: Units per dense layer.
      dropout_layer_params: Per dense layer, a dropout rate, a dict of
        `Dropout` arguments or None; as long as `fc_layer_params`.
      activation_fn: Activation of the conv and dense layers.
      kernel_initializer: Initializer of their kernels (default Glorot uniform).
      batch_squash: Whether outer dims are folded into one batch dim for the
        encoder.
      dtype: dtype of the conv and dense layers.
      name: The network's name.

    Raises:
      ValueError: From the encoder, for a nest of observations without
        `preprocessing_combiner` or mismatched dropout parameters.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        fc_layer_params: Sequence[int] | None = (75, 40),
        dropout_layer_params: Sequence[Any] | None = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        kernel_initializer: Any = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        name: str = "ValueNetwork",
    ):
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        if not kernel_initializer:
            kernel_initializer = tf.compat.v1.glorot_uniform_initializer()
        self._encoder = encoding_network.EncodingNetwork(
            input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            fc_layer_params=fc_layer_params,
            dropout_layer_params=dropout_layer_params,
            activation_fn=activation_fn,
            kernel_initializer=kernel_initializer,
            batch_squash=batch_squash,
            dtype=dtype,
        )
        # TF-Agents builds this layer in float32 whatever `dtype` is.
        self._postprocessing_layers = value_layer()

    def call(
        self,
        observation: Any,
        step_type: Any = None,
        network_state: Any = (),
        training: bool = False,
    ) -> tuple[tf.Tensor, Any]:
        features, network_state = self._encoder(
            observation, step_type=step_type, network_state=network_state, training=training
        )
        value = self._postprocessing_layers(features, training=training)
        return tf.squeeze(value, -1), network_state

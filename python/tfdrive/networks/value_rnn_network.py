"""`ValueRnnNetwork`: an LSTM encoder followed by one scalar value per observation.

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense...] -> LSTM -> [Dense...] (an `LSTMEncodingNetwork`) -> Dense(1) ->
squeeze.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import lstm_encoding_network, network
from tfdrive.networks.value_network import value_layer

__all__ = ["ValueRnnNetwork"]


@configurable
class ValueRnnNetwork(network.Network):
    """Maps observations and a recurrent state to values: float ``[B]`` or ``[B, T]``.

    Called as ``net(observation, step_type=None, network_state=(),
    training=False)``; the state of entries whose `step_type` is FIRST
    restarts from zeros. Returns ``(values, new_state)``; ``state_spec`` is the
    LSTM's (``[h, c]`` per cell).

    Variables: the encoder's (conv, input dense, LSTM kernel, recurrent kernel
    and bias, output dense), then the value layer's kernel ``[k, 1]`` and bias
    ``[1]``.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      preprocessing_layers: As in `ValueNetwork`.
      preprocessing_combiner: As in `ValueNetwork`.
      conv_layer_params: ``(filters, kernel_size, stride)`` per Conv2D layer.
      input_fc_layer_params: Units per dense layer before the LSTM.
      input_dropout_layer_params: Ignored (accepted for TF-Agents' signature;
        TF-Agents ignores it too).
      lstm_size: LSTM cell sizes (several cells stack).
      output_fc_layer_params: Units per dense layer after the LSTM.
      activation_fn: Activation of the conv and dense layers.
      dtype: dtype of the conv, LSTM and dense layers.
      name: The network's name.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        input_fc_layer_params: Sequence[int] | None = (75, 40),
        input_dropout_layer_params: Sequence[Any] | None = None,
        lstm_size: Sequence[int] | None = (40,),
        output_fc_layer_params: Sequence[int] | None = (75, 40),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        dtype: tf.DType = tf.float32,
        name: str = "ValueRnnNetwork",
    ):
        del input_dropout_layer_params
        lstm_encoder = lstm_encoding_network.LSTMEncodingNetwork(
            input_tensor_spec=input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            input_fc_layer_params=input_fc_layer_params,
            lstm_size=lstm_size,
            output_fc_layer_params=output_fc_layer_params,
            activation_fn=activation_fn,
            dtype=dtype,
            name=name,
        )
        postprocessing_layers = value_layer()
        super().__init__(
            input_tensor_spec=input_tensor_spec, state_spec=lstm_encoder.state_spec, name=name
        )
        self._lstm_encoder = lstm_encoder
        self._postprocessing_layers = postprocessing_layers

    def call(
        self,
        observation: Any,
        step_type: Any = None,
        network_state: Any = (),
        training: bool = False,
    ) -> tuple[tf.Tensor, Any]:
        features, network_state = self._lstm_encoder(
            observation, step_type=step_type, network_state=network_state, training=training
        )
        value = self._postprocessing_layers(features, training=training)
        return tf.squeeze(value, -1), network_state

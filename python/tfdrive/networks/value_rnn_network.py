"""`ValueRnnNetwork`: LSTM encoder followed by a scalar value head."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive.networks import layers, network
from tfdrive.networks.lstm_encoding_network import LSTMEncodingNetwork

__all__ = ["ValueRnnNetwork"]


class ValueRnnNetwork(network.Network):
    """Observation -> MLP -> LSTM -> MLP -> Dense(1): values ``[B]`` or ``[B, T]``.

    State as in `LSTMEncodingNetwork` (reset to zeros on FIRST steps).

    Args:
      input_tensor_spec: `TensorSpec` of one observation.
      input_fc_layer_params / output_fc_layer_params: Dense sizes.
      lstm_size: LSTM sizes (default ``(40,)``).
      activation_fn: Dense activation (default relu).
      seed: Seed of the initial values.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Callable[[list], tf.Tensor] | None = None,
        conv_layer_params: Any = None,
        input_fc_layer_params: Sequence[int] = (75, 40),
        input_dropout_layer_params: Any = None,
        lstm_size: Sequence[int] = (40,),
        output_fc_layer_params: Sequence[int] = (75, 40),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        dtype: tf.DType = tf.float32,
        name: str = "ValueRnnNetwork",
        seed: int | None = None,
    ):
        del input_dropout_layer_params
        lstm_encoder = LSTMEncodingNetwork(
            input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            input_fc_layer_params=input_fc_layer_params,
            lstm_size=lstm_size,
            output_fc_layer_params=output_fc_layer_params,
            activation_fn=activation_fn,
            seed=seed,
            name=name,
        )
        rng = layers.make_rng(None if seed is None else seed + 1)
        with tf.name_scope(name):
            postprocessing = layers.value_head(lstm_encoder.out_units, rng)
        super().__init__(
            input_tensor_spec=input_tensor_spec, state_spec=lstm_encoder.state_spec, name=name
        )
        self._lstm_encoder = lstm_encoder
        self._postprocessing_layers = postprocessing
        self._output_spec = tf.TensorSpec([], tf.float32)

    @property
    def layer_variables(self) -> list:
        return self._lstm_encoder.layer_variables + self._postprocessing_layers.layer_variables

    def call(self, observation, step_type=None, network_state=(), training=False):
        features, network_state = self._lstm_encoder(
            observation, step_type=step_type, network_state=network_state
        )
        return tf.squeeze(self._postprocessing_layers(features), -1), network_state

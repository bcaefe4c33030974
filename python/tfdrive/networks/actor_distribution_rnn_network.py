"""`ActorDistributionRnnNetwork`: LSTM encoder with one projection head per action."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive.networks import layers, network
from tfdrive.networks.actor_distribution_network import make_projection_networks
from tfdrive.networks.lstm_encoding_network import LSTMEncodingNetwork

__all__ = ["ActorDistributionRnnNetwork"]


class ActorDistributionRnnNetwork(network.DistributionNetwork):
    """Observation -> MLP -> LSTM -> MLP -> action distribution(s).

    Heads as in `ActorDistributionNetwork`. ``state_spec`` is the LSTM's
    (``[h, c]`` for one layer); the state of entries whose step is FIRST is
    reset to zeros inside the network. Accepts ``[B]`` (one step) or
    ``[B, T]`` (sequences) outer dims.

    Args:
      input_tensor_spec: `TensorSpec` of one observation.
      output_tensor_spec: Nest of `BoundedTensorSpec`s of the actions.
      input_fc_layer_params / output_fc_layer_params: Dense sizes before and
        after the LSTM.
      lstm_size: LSTM sizes, e.g. ``(40,)``; required.
      activation_fn: Dense activation (default relu).
      seed: Seed of the initial values.

    Raises:
      ValueError: Without `lstm_size`, or with `input_dropout_layer_params`.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        output_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Callable[[list], tf.Tensor] | None = None,
        conv_layer_params: Any = None,
        input_fc_layer_params: Sequence[int] = (200, 100),
        input_dropout_layer_params: Any = None,
        lstm_size: Sequence[int] | None = None,
        output_fc_layer_params: Sequence[int] = (200, 100),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        dtype: tf.DType = tf.float32,
        discrete_projection_net: Any = None,
        continuous_projection_net: Any = None,
        rnn_construction_fn: Any = None,
        rnn_construction_kwargs: Any = None,
        name: str = "ActorDistributionRnnNetwork",
        seed: int | None = None,
    ):
        if input_dropout_layer_params:
            raise ValueError("Dropout layer is not supported.")
        layers.reject_unsupported(
            discrete_projection_net=discrete_projection_net,
            continuous_projection_net=continuous_projection_net,
        )
        lstm_encoder = LSTMEncodingNetwork(
            input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            input_fc_layer_params=input_fc_layer_params,
            lstm_size=lstm_size,
            output_fc_layer_params=output_fc_layer_params,
            activation_fn=activation_fn,
            rnn_construction_fn=rnn_construction_fn,
            seed=seed,
            name=name,
        )
        rng = layers.make_rng(None if seed is None else seed + 1)
        projection_networks = make_projection_networks(
            lstm_encoder.out_units, output_tensor_spec, rng
        )
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            state_spec=lstm_encoder.state_spec,
            output_spec=tf.nest.map_structure(lambda p: p.output_spec, projection_networks),
            name=name,
        )
        self._lstm_encoder = lstm_encoder
        self._projection_networks = projection_networks
        self._output_tensor_spec = output_tensor_spec

    @property
    def output_tensor_spec(self) -> Any:
        return self._output_tensor_spec

    @property
    def layer_variables(self) -> list:
        heads = [v for p in tf.nest.flatten(self._projection_networks) for v in p.layer_variables]
        return self._lstm_encoder.layer_variables + heads

    def call(self, observation, step_type=None, network_state=(), training=False):
        features, network_state = self._lstm_encoder(
            observation, step_type=step_type, network_state=network_state
        )
        outer_rank = features.shape.rank - 1  # [B] or [B, T] ahead of the features
        outer_shape = tf.shape(features)[:outer_rank]
        static = features.shape[:outer_rank].as_list()
        outer = static if None not in static else outer_shape
        x = tf.reshape(features, [-1, self._lstm_encoder.out_units])
        outputs = tf.nest.map_structure(lambda p: p(x, outer), self._projection_networks)
        return outputs, network_state

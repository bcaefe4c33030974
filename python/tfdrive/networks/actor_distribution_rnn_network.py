"""`ActorDistributionRnnNetwork`: an LSTM encoder followed by one action distribution per spec.

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense...] -> LSTM (or a user's RNN) -> [Dense...] (an `LSTMEncodingNetwork`),
then the projection networks of `ActorDistributionNetwork`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import actor_distribution_network, lstm_encoding_network, network
from tfdrive.utils import nest_utils

__all__ = ["ActorDistributionRnnNetwork"]

# The default heads: Categorical logits, and Normal with initial std 0.35.
_categorical_projection_net = actor_distribution_network._categorical_projection_net
_normal_projection_net = actor_distribution_network._normal_projection_net


@configurable
class ActorDistributionRnnNetwork(network.DistributionNetwork):
    """Maps observations and a recurrent state to a (nest of) action distribution(s).

    Called as ``net(observations, step_type, network_state, training=False)``
    with outer dims ``[B]`` (one step) or ``[B, T]`` (sequences); the state of
    entries whose `step_type` is FIRST restarts from zeros. Returns
    ``(distributions, new_state)``, distributions as in
    `ActorDistributionNetwork` with batch shape the outer dims. ``state_spec``
    is the RNN's: ``[h, c]`` `TensorSpec`s for one LSTM, one such pair per cell
    for stacked ones.

    Variables: the encoder's (conv, input dense, LSTM kernel, recurrent kernel
    and bias, output dense), then each head's.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      output_tensor_spec: Nest of `BoundedTensorSpec`s of the actions.
      preprocessing_layers: As in `ActorDistributionNetwork`.
      preprocessing_combiner: As in `ActorDistributionNetwork`.
      conv_layer_params: ``(filters, kernel_size, stride)`` per Conv2D layer.
      input_fc_layer_params: Units per dense layer before the LSTM.
      input_dropout_layer_params: Must be empty: dropout is not supported here.
      lstm_size: LSTM cell sizes (several cells stack); exactly one of it and
        `rnn_construction_fn` is required.
      output_fc_layer_params: Units per dense layer after the LSTM.
      activation_fn: Activation of the conv and dense layers.
      dtype: dtype of the layers.
      discrete_projection_net: ``f(spec) -> projection network`` for discrete specs.
      continuous_projection_net: ``f(spec) -> projection network`` for
        continuous specs.
      rnn_construction_fn: Builds the RNN layer instead of `lstm_size`:
        ``rnn_construction_fn(**rnn_construction_kwargs)``, a Keras RNN with
        ``return_state=True`` and ``return_sequences=True``.
      rnn_construction_kwargs: Keyword arguments of `rnn_construction_fn`.
      name: The network's name.

    Raises:
      ValueError: If `input_dropout_layer_params` is given, or (from the
        encoder) neither or both of `lstm_size` and `rnn_construction_fn` are.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        output_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        input_fc_layer_params: Sequence[int] | None = (200, 100),
        input_dropout_layer_params: Sequence[Any] | None = None,
        lstm_size: Sequence[int] | None = None,
        output_fc_layer_params: Sequence[int] | None = (200, 100),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        dtype: tf.DType = tf.float32,
        discrete_projection_net: Callable[[Any], Any] = _categorical_projection_net,
        continuous_projection_net: Callable[[Any], Any] = _normal_projection_net,
        rnn_construction_fn: Callable[..., Any] | None = None,
        rnn_construction_kwargs: dict | None = None,
        name: str = "ActorDistributionRnnNetwork",
    ):
        if input_dropout_layer_params:
            raise ValueError("Dropout layer is not supported.")
        lstm_encoder = lstm_encoding_network.LSTMEncodingNetwork(
            input_tensor_spec=input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            input_fc_layer_params=input_fc_layer_params,
            lstm_size=lstm_size,
            output_fc_layer_params=output_fc_layer_params,
            activation_fn=activation_fn,
            rnn_construction_fn=rnn_construction_fn,
            rnn_construction_kwargs=dict(rnn_construction_kwargs or {}),
            dtype=dtype,
            name=name,
        )
        projection_networks = actor_distribution_network.make_projection_networks(
            output_tensor_spec, discrete_projection_net, continuous_projection_net
        )
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            state_spec=lstm_encoder.state_spec,
            output_spec=tf.nest.map_structure(lambda net: net.output_spec, projection_networks),
            name=name,
        )
        self._lstm_encoder = lstm_encoder
        self._projection_networks = projection_networks
        self._output_tensor_spec = output_tensor_spec

    @property
    def output_tensor_spec(self) -> Any:
        """The nest of action specs the distributions sample."""
        return self._output_tensor_spec

    def call(
        self,
        observation: Any,
        step_type: Any,
        network_state: Any = (),
        training: bool = False,
    ) -> tuple[Any, Any]:
        features, network_state = self._lstm_encoder(
            observation, step_type=step_type, network_state=network_state, training=training
        )
        outer_rank = nest_utils.get_outer_rank(observation, self.input_tensor_spec)
        distributions = tf.nest.map_structure(
            lambda net: net(features, outer_rank, training=training)[0],
            self._projection_networks,
        )
        return distributions, network_state

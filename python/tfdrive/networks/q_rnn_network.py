"""`QRnnNetwork`: an LSTM encoder whose last layer gives one Q-value per discrete action.

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense...] -> LSTM (or a user's RNN) -> [Dense...] -> Dense(num_actions):
an `LSTMEncodingNetwork` with the Q layer appended to its output layers.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import lstm_encoding_network, q_network

__all__ = ["QRnnNetwork"]


@configurable
class QRnnNetwork(lstm_encoding_network.LSTMEncodingNetwork):
    """Maps observations and a recurrent state to Q-values ``outer_dims + [num_actions]``.

    Called as ``net(observation, step_type, network_state=(),
    training=False)`` with outer dims ``[B]`` (one step) or ``[B, T]``; the
    state of entries whose `step_type` is FIRST restarts from zeros. Returns
    ``(q_values, new_state)``; ``state_spec`` is the RNN's.

    Variables: the LSTM encoder's, then the Q layer's kernel
    ``[k, num_actions]`` and bias ``[num_actions]`` (kernel uniform in ±0.03,
    bias -0.2).

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      action_spec: One `BoundedTensorSpec` (or a nest holding one) of shape
        ``()`` or ``(1,)``.
      preprocessing_layers: Nest of Keras layers applied to each observation
        first; the network uses its own (unbuilt) copies.
      preprocessing_combiner: Keras layer (copied) joining the flat list of
        preprocessed observations; needed for a nest of observations.
      conv_layer_params: ``(filters, kernel_size, stride)`` per Conv2D layer.
      input_fc_layer_params: Units per dense layer before the LSTM.
      lstm_size: LSTM cell sizes (several cells stack); exactly one of it and
        `rnn_construction_fn` is required.
      output_fc_layer_params: Units per dense layer after the LSTM.
      activation_fn: Activation of the conv and dense layers.
      rnn_construction_fn: Builds the RNN layer instead of `lstm_size`:
        ``rnn_construction_fn(**rnn_construction_kwargs)``.
      rnn_construction_kwargs: Keyword arguments of `rnn_construction_fn`.
      dtype: dtype of the conv, LSTM, dense and Q layers.
      name: The network's name.

    Raises:
      ValueError: If `action_spec` is not one bounded spec of shape ``()`` or
        ``(1,)``; from the encoder, if neither or both of `lstm_size` and
        `rnn_construction_fn` are given.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        action_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        input_fc_layer_params: Sequence[int] | None = (75, 40),
        lstm_size: Sequence[int] | None = None,
        output_fc_layer_params: Sequence[int] | None = (75, 40),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        rnn_construction_fn: Callable[..., Any] | None = None,
        rnn_construction_kwargs: dict | None = None,
        dtype: tf.DType = tf.float32,
        name: str = "QRnnNetwork",
    ):
        q_network.validate_specs(action_spec, input_tensor_spec)
        units = q_network.num_actions(tf.nest.flatten(action_spec)[0])
        q_projection = q_network.q_value_layer(units, dtype=dtype, name="num_action_project/dense")
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            input_fc_layer_params=input_fc_layer_params,
            lstm_size=lstm_size,
            output_fc_layer_params=output_fc_layer_params,
            activation_fn=activation_fn,
            rnn_construction_fn=rnn_construction_fn,
            rnn_construction_kwargs=rnn_construction_kwargs,
            dtype=dtype,
            name=name,
        )
        # The encoder's output layers run in order after the LSTM: the Q layer
        # becomes the last of them.
        self._output_encoder.append(q_projection)

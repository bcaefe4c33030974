"""`LSTMEncodingNetwork`: MLP -> LSTM (state reset on FIRST) -> MLP."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfdrive.networks import layers, network

__all__ = ["LSTMEncodingNetwork"]


class LSTMEncodingNetwork(network.Network):
    """Encodes observations with an LSTM; the recurrent part of the RNN networks.

    Input ``[B] + spec`` (one step) or ``[B, T] + spec`` (a sequence); output
    ``[B, u]`` or ``[B, T, u]`` features. Before each step, the state of
    batch entries whose ``step_type`` is FIRST is reset to zeros, so the
    state carried across episodes in a driver never leaks. ``state_spec``
    is ``[h, c]`` (`TensorSpec([lstm_size])` each, names
    ``network_state_0/1``) for one LSTM layer, a tuple of such lists for
    several.

    Hidden dense kernels use variance scaling (scale 2, fan-in, truncated
    normal); LSTM kernels Glorot-uniform, recurrent kernels orthogonal,
    forget-gate bias 1.

    Raises:
      ValueError: Without `lstm_size`, or for outer ranks other than 1 or 2.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Callable[[list], tf.Tensor] | None = None,
        conv_layer_params: Any = None,
        input_fc_layer_params: Sequence[int] = (75, 40),
        lstm_size: Sequence[int] | None = None,
        output_fc_layer_params: Sequence[int] = (75, 40),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        rnn_construction_fn: Any = None,
        rnn_construction_kwargs: Any = None,
        dtype: tf.DType = tf.float32,
        name: str = "LSTMEncodingNetwork",
        seed: int | None = None,
    ):
        layers.reject_unsupported(
            preprocessing_layers=preprocessing_layers,
            conv_layer_params=conv_layer_params,
            rnn_construction_fn=rnn_construction_fn,
        )
        if not lstm_size:
            raise ValueError("Need to provide either custom rnn_construction_fn or lstm_size.")
        layers.require_combiner(input_tensor_spec, preprocessing_combiner)
        rng = layers.make_rng(seed)

        def fan_in_init(shape: Sequence[int]) -> np.ndarray:
            return layers.variance_scaling(shape, 2.0, rng)

        in_units = layers.input_units(input_tensor_spec, preprocessing_combiner)
        with tf.name_scope(name):
            input_encoder = layers.MLP(
                in_units, input_fc_layer_params, activation_fn, fan_in_init, name="input"
            )
            lstm = layers.StackedLSTM(input_encoder.out_units, lstm_size, rng, name="lstm")
            output_encoder = layers.MLP(
                lstm.out_units, output_fc_layer_params, activation_fn, fan_in_init, name="output"
            )
        counter = iter(range(1000))
        state_spec = tf.nest.map_structure(
            lambda size: tf.TensorSpec([size], tf.float32, name=f"network_state_{next(counter)}"),
            lstm.state_size,
        )
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=state_spec, name=name)
        self._combiner = preprocessing_combiner
        self._input_encoder = input_encoder
        self._lstm = lstm
        self._output_encoder = output_encoder
        self.out_units = output_encoder.out_units
        self._output_spec = tf.TensorSpec([self.out_units], tf.float32)

    @property
    def layer_variables(self) -> list:
        return (
            self._input_encoder.layer_variables
            + self._lstm.layer_variables
            + self._output_encoder.layer_variables
        )

    def call(self, observation, step_type=None, network_state=(), training=False):
        flat_obs = tf.nest.flatten(observation)
        spec0 = tf.nest.flatten(self._input_tensor_spec)[0]
        outer_rank = tf.convert_to_tensor(flat_obs[0]).shape.rank - spec0.shape.rank
        if outer_rank not in (1, 2):
            raise ValueError("Input observation must have a batch or batch x time outer shape.")
        has_time_dim = outer_rank == 2
        if not has_time_dim:
            observation = tf.nest.map_structure(lambda t: tf.expand_dims(t, 1), observation)
            step_type = tf.expand_dims(step_type, 1)
        x, outer_shape = layers.flatten_observation(
            observation, self._input_tensor_spec, self._combiner
        )
        x = layers.unflatten(self._input_encoder(x), outer_shape)
        x, network_state = self._lstm(x, tf.convert_to_tensor(step_type), network_state)
        x = self._output_encoder(x)
        if not has_time_dim:
            x = tf.squeeze(x, [1])
        return x, network_state

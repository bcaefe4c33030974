"""`LSTMEncodingNetwork`: encoder -> LSTM (state reset on FIRST) -> dense layers.

The layers::

    EncodingNetwork   preprocessing, combiner, conv, Flatten, input_fc_layer_params
    DynamicUnroll     of an LSTMCell (StackedRNNCells for several lstm_size
                      entries), or the layer rnn_construction_fn builds
    Dense             output_fc_layer_params

Input ``[B] + spec`` (one step) or ``[B, T] + spec`` (a sequence); output
``[B, units]`` or ``[B, T, units]``. Before each step the state of the batch
entries whose ``step_type`` is FIRST is reset to zeros, so state carried
across episodes by a driver never leaks into the next one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import encoding_network, network, utils
from tfdrive.networks.layers import DynamicUnroll
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = ["KERAS_LSTM_FUSED", "LSTMEncodingNetwork"]

# Keras' LSTMCell implementation that computes the four gates in one matmul.
KERAS_LSTM_FUSED = 2


@configurable
class LSTMEncodingNetwork(network.Network):
    """Recurrent encoder of (nested) observations.

    ``state_spec`` is the cell's ``state_size`` as `TensorSpec`s named
    ``network_state_<i>``: ``[h, c]`` for one LSTM layer, one such list per
    layer for several.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      preprocessing_layers: Optional nest of Keras layers (see `EncodingNetwork`).
      preprocessing_combiner: Optional Keras layer joining preprocessed inputs.
      conv_layer_params: ``(filters, kernel_size, strides)`` per conv layer.
      input_fc_layer_params: Units of the dense layers before the LSTM.
      lstm_size: Units per LSTM layer.
      output_fc_layer_params: Units of the dense layers after the LSTM.
      activation_fn: Activation of the conv and dense layers.
      rnn_construction_fn: Instead of `lstm_size`, builds the recurrent layer
        as ``rnn_construction_fn(**rnn_construction_kwargs)``: a Keras RNN
        layer with ``return_state`` and ``return_sequences``, or a
        `DynamicUnroll`.
      rnn_construction_kwargs: Keyword arguments of `rnn_construction_fn`.
      dtype: dtype of the layers.
      name: Network name.

    Raises:
      ValueError: Neither or both of `lstm_size` and `rnn_construction_fn`.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[tuple] | None = None,
        input_fc_layer_params: Sequence[int] | None = (75, 40),
        lstm_size: Sequence[int] | None = None,
        output_fc_layer_params: Sequence[int] | None = (75, 40),
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        rnn_construction_fn: Callable[..., Any] | None = None,
        rnn_construction_kwargs: dict | None = None,
        dtype: tf.DType = tf.float32,
        name: str = "LSTMEncodingNetwork",
    ):
        if lstm_size is None and rnn_construction_fn is None:
            raise ValueError("Need to provide either custom rnn_construction_fn or lstm_size.")
        if lstm_size and rnn_construction_fn:
            raise ValueError("Cannot provide both custom rnn_construction_fn and lstm_size.")
        kernel_initializer = utils.default_kernel_initializer()
        input_encoder = encoding_network.EncodingNetwork(
            input_tensor_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            fc_layer_params=input_fc_layer_params,
            activation_fn=activation_fn,
            kernel_initializer=kernel_initializer,
            dtype=dtype,
        )
        if rnn_construction_fn:
            lstm_network = rnn_construction_fn(**(rnn_construction_kwargs or {}))
        else:
            assert lstm_size is not None  # checked above: one of the two is given
            cells = [
                keras.layers.LSTMCell(size, dtype=dtype, implementation=KERAS_LSTM_FUSED)
                for size in lstm_size
            ]
            cell = cells[0] if len(cells) == 1 else keras.layers.StackedRNNCells(cells)
            lstm_network = DynamicUnroll(cell)
        output_encoder = [
            keras.layers.Dense(
                units, activation=activation_fn, kernel_initializer=kernel_initializer, dtype=dtype
            )
            for units in output_fc_layer_params or ()
        ]
        counter = iter(range(1 << 30))
        state_spec = tf.nest.map_structure(
            lambda size: tensor_spec.TensorSpec(
                size, dtype=dtype, name=f"network_state_{next(counter)}"
            ),
            lstm_network.cell.state_size,
        )
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=state_spec, name=name)
        self._conv_layer_params = conv_layer_params
        self._input_encoder = input_encoder
        self._lstm_network = lstm_network
        self._output_encoder = output_encoder

    def call(self, observation, step_type, network_state=(), training=False):
        """Encodes ``[B]`` or ``[B, T]`` observations; returns ``(features, new_state)``.

        Raises:
          ValueError: The observation's outer rank is not 1 or 2.
        """
        outer_rank = nest_utils.get_outer_rank(observation, self.input_tensor_spec)
        if outer_rank not in (1, 2):
            raise ValueError("Input observation must have a batch or batch x time outer shape.")
        has_time_dim = outer_rank == 2
        if not has_time_dim:
            observation = tf.nest.map_structure(lambda t: tf.expand_dims(t, 1), observation)
            step_type = tf.nest.map_structure(lambda t: tf.expand_dims(t, 1), step_type)
        state, _ = self._input_encoder(
            observation, step_type=step_type, network_state=(), training=training
        )
        unrolls = isinstance(self._lstm_network, DynamicUnroll)
        kwargs = {}
        if unrolls:
            kwargs["reset_mask"] = tf.equal(step_type, ts.StepType.FIRST, name="mask")
        output = self._lstm_network(
            inputs=state, initial_state=network_state, training=training, **kwargs
        )
        if unrolls:
            state, network_state = output
        else:
            # Keras RNN layers return [outputs, *flat_states].
            state = output[0]
            network_state = tf.nest.pack_sequence_as(
                self._lstm_network.cell.state_size, tf.nest.flatten(output[1:])
            )
        for layer in self._output_encoder:
            state = layer(state, training=training)
        if not has_time_dim:
            state = tf.squeeze(state, [1])
        return state, network_state

"""`ValueNetwork`: an MLP mapping observations to one scalar value each."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive.networks import layers, network

__all__ = ["ValueNetwork"]


class ValueNetwork(network.Network):
    """Observation -> MLP -> Dense(1) -> squeeze: values shaped like the outer dims.

    Outputs float32 ``[B]`` (or ``[B, T]``). The final layer's kernel starts
    uniform in ``±0.03``; hidden kernels Glorot-uniform.

    Args:
      input_tensor_spec: `TensorSpec` of one observation (a nest needs
        `preprocessing_combiner`).
      preprocessing_combiner: As in `ActorDistributionNetwork`.
      fc_layer_params: Hidden layer sizes.
      activation_fn: Hidden activation (default relu).
      seed: Seed of the initial values.
      name: Module name.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Callable[[list], tf.Tensor] | None = None,
        conv_layer_params: Any = None,
        fc_layer_params: Sequence[int] = (75, 40),
        dropout_layer_params: Any = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        kernel_initializer: Any = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        name: str = "ValueNetwork",
        seed: int | None = None,
    ):
        layers.reject_unsupported(
            preprocessing_layers=preprocessing_layers,
            conv_layer_params=conv_layer_params,
            dropout_layer_params=dropout_layer_params,
            kernel_initializer=kernel_initializer,
        )
        layers.require_combiner(input_tensor_spec, preprocessing_combiner)
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        rng = layers.make_rng(seed)
        in_units = layers.input_units(input_tensor_spec, preprocessing_combiner)
        with self.name_scope:
            self._encoder = layers.MLP(
                in_units,
                fc_layer_params,
                activation_fn,
                lambda s: layers.glorot_uniform(s, rng),
                name="encoder",
            )
            self._postprocessing_layers = layers.value_head(self._encoder.out_units, rng)
        self._combiner = preprocessing_combiner
        self._output_spec = tf.TensorSpec([], tf.float32)

    @property
    def layer_variables(self) -> list:
        return self._encoder.layer_variables + self._postprocessing_layers.layer_variables

    def call(self, observation, step_type=None, network_state=(), training=False):
        x, outer_shape = layers.flatten_observation(
            observation, self._input_tensor_spec, self._combiner
        )
        value = self._postprocessing_layers(self._encoder(x))
        return layers.unflatten(tf.squeeze(value, -1), outer_shape), network_state

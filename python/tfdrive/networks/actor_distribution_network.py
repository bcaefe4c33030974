"""`ActorDistributionNetwork`: an MLP encoder with one projection head per action."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfdrive.networks import layers, network
from tfdrive.networks.categorical_projection_network import CategoricalProjectionNetwork
from tfdrive.networks.normal_projection_network import NormalProjectionNetwork

__all__ = ["ActorDistributionNetwork", "make_projection_networks"]


def make_projection_networks(
    in_units: int,
    output_tensor_spec: Any,
    rng: np.random.Generator,
    init_action_stddev: float = 0.35,
) -> Any:
    """One head per action spec: categorical for integer specs, Normal for float ones."""

    def make(spec: Any) -> Any:
        if spec.dtype.is_integer:
            return CategoricalProjectionNetwork(in_units, spec, rng=rng)
        return NormalProjectionNetwork(
            in_units,
            spec,
            init_means_output_factor=0.1,
            std_bias_initializer_value=float(np.log(np.exp(init_action_stddev) - 1.0)),
            rng=rng,
        )

    return tf.nest.map_structure(make, output_tensor_spec)


class ActorDistributionNetwork(network.DistributionNetwork):
    """Observation -> MLP -> a (nest of) action distribution(s).

    Each discrete action spec gets a `Categorical` head (logits
    ``[B] + spec.shape + [n]``), each continuous one a Normal head with
    tanh-squashed means and a state-independent softplus std (initial std
    0.35). Outer dims ``[B]`` and ``[B, T]`` are both accepted.

    Args:
      input_tensor_spec: `TensorSpec` of one observation (a nest needs
        `preprocessing_combiner`).
      output_tensor_spec: Nest of `BoundedTensorSpec`s of the actions.
      preprocessing_combiner: Callable joining the list of flattened
        observation leaves (each ``[N, k_i]`` float32) into ``[N, k]``, e.g.
        ``lambda xs: tf.concat(xs, -1)``.
      fc_layer_params: Hidden layer sizes.
      activation_fn: Hidden activation (default relu).
      kernel_initializer: Unused placeholder for TF-Agents compatibility
        (must be None); hidden kernels are Glorot-uniform.
      seed: Seed of the initial values; None draws it from TensorFlow's
        random stream (so `tf.random.set_seed` makes them reproducible).
      name: Module name.

    Raises:
      NotImplementedError: For TF-Agents options tfdrive does not implement
        (preprocessing_layers, conv_layer_params, dropout_layer_params,
        kernel_initializer, seed_stream_class, custom projection nets).
      ValueError: A nested observation without `preprocessing_combiner`.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        output_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Callable[[list], tf.Tensor] | None = None,
        conv_layer_params: Any = None,
        fc_layer_params: Sequence[int] = (200, 100),
        dropout_layer_params: Any = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        kernel_initializer: Any = None,
        seed_stream_class: Any = None,
        seed: int | None = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        discrete_projection_net: Any = None,
        continuous_projection_net: Any = None,
        name: str = "ActorDistributionNetwork",
    ):
        layers.reject_unsupported(
            preprocessing_layers=preprocessing_layers,
            conv_layer_params=conv_layer_params,
            dropout_layer_params=dropout_layer_params,
            kernel_initializer=kernel_initializer,
            seed_stream_class=seed_stream_class,
            discrete_projection_net=discrete_projection_net,
            continuous_projection_net=continuous_projection_net,
        )
        layers.require_combiner(input_tensor_spec, preprocessing_combiner)
        rng = layers.make_rng(seed)
        in_units = layers.input_units(input_tensor_spec, preprocessing_combiner)
        with tf.name_scope(name):
            encoder = layers.MLP(
                in_units,
                fc_layer_params,
                activation_fn,
                lambda s: layers.glorot_uniform(s, rng),
                name="encoder",
            )
            projection_networks = make_projection_networks(
                encoder.out_units, output_tensor_spec, rng
            )
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            state_spec=(),
            output_spec=tf.nest.map_structure(lambda p: p.output_spec, projection_networks),
            name=name,
        )
        self._combiner = preprocessing_combiner
        self._encoder = encoder
        self._projection_networks = projection_networks
        self._output_tensor_spec = output_tensor_spec

    @property
    def output_tensor_spec(self) -> Any:
        return self._output_tensor_spec

    @property
    def layer_variables(self) -> list:
        heads = [v for p in tf.nest.flatten(self._projection_networks) for v in p.layer_variables]
        return self._encoder.layer_variables + heads

    def call(self, observations, step_type=None, network_state=(), training=False, mask=None):
        x, outer_shape = layers.flatten_observation(
            observations, self._input_tensor_spec, self._combiner
        )
        x = self._encoder(x)
        outputs = tf.nest.map_structure(
            lambda p: p(x, outer_shape, mask=mask), self._projection_networks
        )
        return outputs, network_state

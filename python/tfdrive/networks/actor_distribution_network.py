"""`ActorDistributionNetwork`: observations -> an encoder -> one action distribution per spec.

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense (+ Dropout)...] (an `EncodingNetwork`), then per action spec a
projection network: categorical for discrete specs, Normal for continuous
ones, unless other factories are given.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import (
    categorical_projection_network,
    encoding_network,
    network,
    normal_projection_network,
)
from tfdrive.specs import tensor_spec
from tfdrive.utils import nest_utils

__all__ = ["ActorDistributionNetwork"]


def _categorical_projection_net(
    action_spec: Any, logits_init_output_factor: float = 0.1
) -> categorical_projection_network.CategoricalProjectionNetwork:
    """The default head of a discrete action spec."""
    return categorical_projection_network.CategoricalProjectionNetwork(
        action_spec, logits_init_output_factor=logits_init_output_factor
    )


def _normal_projection_net(
    action_spec: Any,
    init_action_stddev: float = 0.35,
    init_means_output_factor: float = 0.1,
    seed_stream_class: Callable[..., Any] = tfp.util.SeedStream,
    seed: int | None = None,
) -> normal_projection_network.NormalProjectionNetwork:
    """The default head of a continuous action spec: initial std `init_action_stddev`."""
    # softplus(b) == init_action_stddev.
    std_bias_initializer_value = np.log(np.exp(init_action_stddev) - 1)
    return normal_projection_network.NormalProjectionNetwork(
        action_spec,
        init_means_output_factor=init_means_output_factor,
        std_bias_initializer_value=std_bias_initializer_value,
        scale_distribution=False,
        seed_stream_class=seed_stream_class,
        seed=seed,
    )


def make_projection_networks(
    output_tensor_spec: Any,
    discrete_projection_net: Callable[[Any], Any],
    continuous_projection_net: Callable[..., Any],
    **normal_kwargs: Any,
) -> Any:
    """One projection network per action spec (a nest like `output_tensor_spec`).

    `normal_kwargs` (seeding) go to `continuous_projection_net` only when it is
    the default `_normal_projection_net`: a user's factory takes the spec alone.
    """

    def make(spec: Any) -> Any:
        if tensor_spec.is_discrete(spec):
            return discrete_projection_net(spec)
        if continuous_projection_net is _normal_projection_net:
            return continuous_projection_net(spec, **normal_kwargs)
        return continuous_projection_net(spec)

    return tf.nest.map_structure(make, output_tensor_spec)


@configurable
class ActorDistributionNetwork(network.DistributionNetwork):
    """Maps observations to a (nest of) action distribution(s).

    Called as ``net(observations, step_type, network_state, training=False,
    mask=None)`` with observations of any outer dims ``[B]``, ``[B, T]``, ...;
    returns ``(distributions, network_state)``, one distribution per action
    spec with batch shape the outer dims (a Categorical for discrete specs, a
    Normal / MultivariateNormalDiag with tanh-squashed means and an
    input-independent std, initially 0.35, for continuous ones). `mask` goes
    to every projection network (categorical heads only accept it).

    Variables: the encoder's (conv kernels and biases, then dense ones), then
    each head's in ``tf.nest.flatten`` order of the action specs.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      output_tensor_spec: Nest of `BoundedTensorSpec`s of the actions.
      preprocessing_layers: Nest of Keras layers (like the observation) applied
        to each observation first; the network uses its own (unbuilt) copies.
      preprocessing_combiner: Keras layer (copied) joining the flat list of
        preprocessed observations into one tensor, e.g.
        ``keras.layers.Concatenate(axis=-1)``; needed for a nest of observations.
      conv_layer_params: ``(filters, kernel_size, stride[, dilation])`` per
        Conv2D layer.
      fc_layer_params: Units per dense layer.
      dropout_layer_params: Per dense layer, a dropout rate, a dict of
        `Dropout` arguments (``permanent=True`` drops at inference too) or None;
        as long as `fc_layer_params`.
      activation_fn: Activation of the conv and dense layers.
      kernel_initializer: Initializer of their kernels (default Glorot uniform).
      seed_stream_class: Seed stream class of the continuous heads'
        initializers (`tfp.util.SeedStream`).
      seed: Seed of the continuous heads' kernel initializers (only with the
        default `continuous_projection_net`).
      batch_squash: Whether outer dims are folded into one batch dim for the
        encoder.
      dtype: dtype of the conv and dense layers.
      discrete_projection_net: ``f(spec) -> projection network`` for discrete specs.
      continuous_projection_net: ``f(spec) -> projection network`` for
        continuous specs.
      name: The network's name.

    Raises:
      ValueError: If a nest of observations has no `preprocessing_combiner`, or
        `dropout_layer_params` and `fc_layer_params` differ in length (from the
        encoder).
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        output_tensor_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        fc_layer_params: Sequence[int] | None = (200, 100),
        dropout_layer_params: Sequence[Any] | None = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        kernel_initializer: Any = None,
        seed_stream_class: Callable[..., Any] = tfp.util.SeedStream,
        seed: int | None = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        discrete_projection_net: Callable[[Any], Any] = _categorical_projection_net,
        continuous_projection_net: Callable[..., Any] = _normal_projection_net,
        name: str = "ActorDistributionNetwork",
    ):
        if not kernel_initializer:
            kernel_initializer = tf.compat.v1.glorot_uniform_initializer()
        encoder = encoding_network.EncodingNetwork(
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
        projection_networks = make_projection_networks(
            output_tensor_spec,
            discrete_projection_net,
            continuous_projection_net,
            seed=seed,
            seed_stream_class=seed_stream_class,
        )
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            state_spec=(),
            output_spec=tf.nest.map_structure(lambda net: net.output_spec, projection_networks),
            name=name,
        )
        self._encoder = encoder
        self._projection_networks = projection_networks
        self._output_tensor_spec = output_tensor_spec

    @property
    def output_tensor_spec(self) -> Any:
        """The nest of action specs the distributions sample."""
        return self._output_tensor_spec

    def call(
        self,
        observations: Any,
        step_type: Any,
        network_state: Any,
        training: bool = False,
        mask: Any = None,
    ) -> tuple[Any, Any]:
        features, network_state = self._encoder(
            observations, step_type=step_type, network_state=network_state, training=training
        )
        outer_rank = nest_utils.get_outer_rank(observations, self.input_tensor_spec)

        def project(projection_network: Any) -> Any:
            distribution, _ = projection_network(features, outer_rank, training=training, mask=mask)
            return distribution

        return tf.nest.map_structure(project, self._projection_networks), network_state

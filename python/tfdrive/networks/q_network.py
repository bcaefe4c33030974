"""`QNetwork`: observations -> an encoder -> one Q-value per discrete action (for DQN).

Layers: [preprocessing layers -> combiner] -> [Conv2D...] -> Flatten ->
[Dense (+ Dropout)...] (an `EncodingNetwork`) -> Dense(num_actions).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import encoding_network, network
from tfdrive.specs import tensor_spec

__all__ = ["QNetwork", "num_actions", "q_value_layer", "validate_specs"]


def validate_specs(action_spec: Any, observation_spec: Any) -> None:
    """Checks that `action_spec` is one action of shape ``()`` or ``(1,)``.

    Args:
      action_spec: Nest of action specs.
      observation_spec: Unused (not validated).

    Raises:
      ValueError: If `action_spec` is not exactly one spec, or its shape is
        neither ``()`` nor ``(1,)``.
    """
    del observation_spec
    flat_action_spec = tf.nest.flatten(action_spec)
    if len(flat_action_spec) != 1:
        raise ValueError("Network only supports action_specs with a single action.")
    if flat_action_spec[0].shape not in [(), (1,)]:
        raise ValueError("Network only supports action_specs with shape in [(), (1,)])")


def num_actions(action_spec: Any) -> int:
    """``maximum - minimum + 1`` of one validated action spec, as a Python int.

    Raises:
      ValueError: If the spec is not a bounded spec.
    """
    if not tensor_spec.is_bounded(action_spec):
        raise ValueError(
            f"action_spec must be a bounded spec (BoundedTensorSpec) to count the actions; "
            f"got {action_spec}."
        )
    # Bounds of a (1,)-shaped spec may be arrays of one entry.
    return int(np.asarray(action_spec.maximum - action_spec.minimum + 1).reshape(-1)[0])


def q_value_layer(
    units: int,
    activation: Callable[[tf.Tensor], tf.Tensor] | None = None,
    dtype: tf.DType = tf.float32,
    name: str | None = None,
) -> Any:
    """The Q-value layer: Dense(units), kernel uniform in ±0.03, bias -0.2."""
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=tf.random_uniform_initializer(minval=-0.03, maxval=0.03),
        bias_initializer=tf.constant_initializer(-0.2),
        dtype=dtype,
        name=name,
    )


@configurable
class QNetwork(network.Network):
    """Maps observations to Q-values: float ``outer_dims + [num_actions]``.

    ``num_actions = maximum - minimum + 1`` of the (single) action spec.
    Called as ``net(observation, step_type=None, network_state=(),
    training=False)``; returns ``(q_values, network_state)``.

    Variables: the encoder's (conv kernels and biases, then dense ones), then
    the Q layer's kernel ``[k, num_actions]`` and bias ``[num_actions]``.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      action_spec: One `BoundedTensorSpec` (or a nest holding one) of shape
        ``()`` or ``(1,)``.
      preprocessing_layers: Nest of Keras layers (like the observation) applied
        to each observation first; the network uses its own (unbuilt) copies.
      preprocessing_combiner: Keras layer (copied) joining the flat list of
        preprocessed observations into one tensor; needed for a nest of
        observations.
      conv_layer_params: ``(filters, kernel_size, stride[, dilation])`` per
        Conv2D layer.
      fc_layer_params: Units per dense layer.
      dropout_layer_params: Per dense layer, a dropout rate (or None); as long
        as `fc_layer_params`.
      activation_fn: Activation of the conv and dense layers.
      kernel_initializer: Initializer of their kernels (default: the
        encoder's variance scaling).
      batch_squash: Whether outer dims are folded into one batch dim for the
        encoder.
      dtype: dtype of the conv, dense and Q layers.
      q_layer_activation_fn: Activation of the Q layer (default none).
      name: The network's name.

    Raises:
      ValueError: If `action_spec` is not one bounded spec of shape ``()`` or
        ``(1,)``; from the encoder, for a nest of observations without
        `preprocessing_combiner`.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        action_spec: Any,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        fc_layer_params: Sequence[int] | None = (75, 40),
        dropout_layer_params: Sequence[Any] | None = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = keras.activations.relu,
        kernel_initializer: Any = None,
        batch_squash: bool = True,
        dtype: tf.DType = tf.float32,
        q_layer_activation_fn: Callable[[tf.Tensor], tf.Tensor] | None = None,
        name: str = "QNetwork",
    ):
        validate_specs(action_spec, input_tensor_spec)
        units = num_actions(tf.nest.flatten(action_spec)[0])
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
        q_layer = q_value_layer(units, activation=q_layer_activation_fn, dtype=dtype)
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        self._encoder = encoder
        self._q_value_layer = q_layer

    def call(
        self,
        observation: Any,
        step_type: Any = None,
        network_state: Any = (),
        training: bool = False,
    ) -> tuple[tf.Tensor, Any]:
        features, network_state = self._encoder(
            observation, step_type=step_type, network_state=network_state, training=training
        )
        return self._q_value_layer(features, training=training), network_state

"""`CategoricalQNetwork`: observations -> logits of a return distribution per action (C51).

The distributional DQN of Bellemare, Dabney and Munos (2017,
https://arxiv.org/abs/1707.06887): for each action, logits over `num_atoms`
fixed return values (the agent places them, e.g. ``np.linspace(-10, 10, 51)``).
A `QNetwork` with ``num_actions * num_atoms`` outputs, reshaped.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.networks import network, q_network
from tfdrive.specs import tensor_spec

__all__ = ["CategoricalQNetwork"]


@configurable
class CategoricalQNetwork(network.Network):
    """Maps observations to logits float ``outer_dims + [num_actions, num_atoms]``.

    ``num_actions = maximum - minimum + 1`` of the action spec. Called as
    ``net(observation, step_type=None, network_state=(), training=False)``;
    returns ``(logits, network_state)``, e.g. ``[B, 5, 51]`` for actions
    ``0..4`` and 51 atoms.

    Variables: the inner `QNetwork`'s (conv, dense, then the logits layer
    ``[k, num_actions * num_atoms]``).

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one observation.
      action_spec: A `BoundedTensorSpec` of shape ``()`` or ``(1,)``.
      num_atoms: Atoms per action distribution (51 gives C51).
      preprocessing_layers: Nest of Keras layers applied to each observation
        first; the network uses its own (unbuilt) copies.
      preprocessing_combiner: Keras layer (copied) joining the flat list of
        preprocessed observations; needed for a nest of observations.
      conv_layer_params: ``(filters, kernel_size, stride)`` per Conv2D layer.
      fc_layer_params: Units per dense layer.
      activation_fn: Activation of the conv and dense layers.
      name: The network's name.

    Raises:
      TypeError: If `action_spec` is not a bounded spec.
      ValueError: If its shape is neither ``()`` nor ``(1,)``.
    """

    def __init__(
        self,
        input_tensor_spec: Any,
        action_spec: Any,
        num_atoms: int = 51,
        preprocessing_layers: Any = None,
        preprocessing_combiner: Any = None,
        conv_layer_params: Sequence[Any] | None = None,
        fc_layer_params: Sequence[int] | None = None,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu,
        name: str = "CategoricalQNetwork",
    ):
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        if tf.nest.is_nested(action_spec) or not tensor_spec.is_bounded(action_spec):
            raise TypeError(f"action_spec must be a BoundedTensorSpec. Got: {action_spec}")
        q_network.validate_specs(action_spec, input_tensor_spec)
        self._num_actions = q_network.num_actions(action_spec)
        self._num_atoms = num_atoms
        # One output per (action, atom) pair, action-major.
        q_network_action_spec = tensor_spec.BoundedTensorSpec(
            (), tf.int32, minimum=0, maximum=self._num_actions * num_atoms - 1
        )
        self._q_network = q_network.QNetwork(
            input_tensor_spec=input_tensor_spec,
            action_spec=q_network_action_spec,
            preprocessing_layers=preprocessing_layers,
            preprocessing_combiner=preprocessing_combiner,
            conv_layer_params=conv_layer_params,
            fc_layer_params=fc_layer_params,
            activation_fn=activation_fn,
            name=name,
        )

    @property
    def num_atoms(self) -> int:
        return self._num_atoms

    def call(
        self,
        observation: Any,
        step_type: Any = None,
        network_state: Any = (),
        training: bool = False,
    ) -> tuple[tf.Tensor, Any]:
        logits, network_state = self._q_network(
            observation, step_type, network_state, training=training
        )
        # Keep the outer dims ([B] or [B, T]); split the last axis into
        # [num_actions, num_atoms].
        inner = [self._num_actions, self._num_atoms]
        outer = logits.shape[:-1]
        if outer.is_fully_defined():
            shape = outer.as_list() + inner
        else:
            shape = tf.concat([tf.shape(logits)[:-1], inner], axis=0)
        return tf.reshape(logits, shape), network_state

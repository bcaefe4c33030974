"""`Sequential`: a network that applies Keras layers and networks one after another.

Unlike ``keras.Sequential`` it needs no declared input shape, can be called
inside `tf.function`s and saved by the policy saver, and carries the
recurrent state of its stateful members: ``state_spec`` is a tuple with one
entry per stateful layer (``LSTMCell``, ``LSTM``/``GRU``/``RNN`` layers,
`DynamicUnroll`, stateful networks), `()` when there is none. Lists in a
member's state become tuples, since replay buffers do not take lists.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import tensorflow as tf

from tfdrive._keras import keras
from tfdrive.networks import network
from tfdrive.networks.layers import RNNWrapper

__all__ = ["Sequential"]


def _has_state(state: Any) -> bool:
    if state is None:
        return False
    if isinstance(state, (tuple, list)) and not state and not hasattr(state, "_fields"):
        return False
    return True


class Sequential(network.Network):
    """Composes layers: ``outputs, state = Sequential([l1, l2, l3])(inputs, state)``.

    Args:
      layers: Non-empty list or tuple of Keras layers and networks. Keras RNN
        layers (``LSTM``, ``GRU``, ``RNN``) are wrapped in `RNNWrapper`.
      input_spec: Optional nest of `tf.TypeSpec` of the first layer's input.
      name: Network name.

    Raises:
      ValueError: `layers` is empty.
      TypeError: An entry is not a Keras layer.
    """

    def __init__(self, layers: Sequence[Any], input_spec: Any = None, name: str | None = None):
        if not layers:
            raise ValueError(f"`layers` must not be empty; saw: {layers}")
        for layer in layers:
            if not isinstance(layer, keras.layers.Layer):
                network.check_not_keras3(layer, "layers")
                raise TypeError(
                    f"Expected all layers to be instances of keras Layer, but saw: '{layer}'"
                )
        layers = [
            RNNWrapper(layer) if isinstance(layer, keras.layers.RNN) else layer for layer in layers
        ]
        layer_specs = []
        self._layer_state_is_list = []
        for layer in layers:
            spec = network.get_state_spec(layer)
            is_list = isinstance(spec, list)
            self._layer_state_is_list.append(is_list)
            layer_specs.append(tuple(spec) if is_list else spec)
        layer_has_state = [bool(tf.nest.flatten(s)) for s in layer_specs]
        state_spec = tuple(s for s, has in zip(layer_specs, layer_has_state) if has)
        super().__init__(input_tensor_spec=input_spec, state_spec=state_spec, name=name)
        self._sequential_layers = layers
        self._layer_has_state = layer_has_state

    @property
    def layers(self) -> list:
        """The layers, in order (a copy of the list)."""
        return list(self._sequential_layers)

    def copy(self, **kwargs: Any) -> Sequential:
        """A new `Sequential` with deep copies of the layers, unless `layers` is given.

        The copies start from the same weights (when built) but do not share them.

        Raises:
          RuntimeError: Not executing eagerly (layers cannot be deep-copied then).
        """
        if not tf.executing_eagerly():
            raise RuntimeError("Not executing eagerly - cannot make deep copies of `layers`.")
        new_kwargs = dict(self._saved_kwargs, **kwargs)
        if "layers" not in kwargs:
            new_kwargs["layers"] = [copy.deepcopy(layer) for layer in self.layers]
        return type(self)(**new_kwargs)

    def call(self, inputs, network_state=(), **kwargs):
        if not tf.is_tensor(network_state) and not network_state:
            network_state = ((),) * len(self.state_spec)
        next_state = [()] * len(self.state_spec)
        # Only networks know about step_type; Keras layers would reject it.
        layer_kwargs = dict(kwargs)
        layer_kwargs.pop("step_type", None)
        index = 0  # Position among the stateful layers.
        for layer, has_state, is_list in zip(
            self._sequential_layers, self._layer_has_state, self._layer_state_is_list
        ):
            if network.is_network(layer):
                if not has_state:
                    inputs, _ = layer(inputs, **kwargs)
                    continue
                inputs, state = layer(inputs, network_state=network_state[index], **kwargs)
            elif not has_state:
                inputs = layer(inputs, **layer_kwargs)
                continue
            else:
                state = network_state[index]
                if state is None:
                    state = layer.get_initial_state(inputs)
                elif _has_state(state) and is_list:
                    state = list(state)
                inputs, state = layer(inputs, state, **layer_kwargs)
            next_state[index] = tuple(state) if is_list else state
            index += 1
        return inputs, tuple(next_state)

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        shape = tf.TensorShape(input_shape)
        for layer in self._sequential_layers:
            shape = layer.compute_output_shape(shape)
        return tf.TensorShape(shape)

    def compute_output_signature(self, input_signature: Any) -> Any:
        signature = input_signature
        for layer in self._sequential_layers:
            signature = layer.compute_output_signature(signature)
        return signature

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return _unique(w for layer in self._sequential_layers for w in layer.trainable_weights)

    @property
    def non_trainable_weights(self) -> list:
        return _unique(w for layer in self._sequential_layers for w in layer.non_trainable_weights)

    @property
    def trainable(self) -> bool:
        return any(layer.trainable for layer in self._sequential_layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self._sequential_layers:
            layer.trainable = value

    def get_config(self) -> dict:
        """``{index: {'class_name': ..., 'config': ...}}`` per layer."""
        return {
            i: {"class_name": type(layer).__name__, "config": copy.deepcopy(layer.get_config())}
            for i, layer in enumerate(self._sequential_layers)
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> Sequential:
        layers = [
            keras.layers.deserialize(entry, custom_objects=custom_objects)
            for entry in config.values()
        ]
        return cls(layers)


def _unique(variables) -> list:
    """Variables without repeats (a layer may appear twice), in first-seen order."""
    seen: dict[int, Any] = {}
    for v in variables:
        seen.setdefault(id(v), v)
    return list(seen.values())


keras.utils.get_custom_objects()["SequentialNetwork"] = Sequential

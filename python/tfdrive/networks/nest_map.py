"""`NestMap`: applies a nest of layers to a nest of inputs; `NestFlatten` to list them.

``NestMap({'a': layer_a, 'b': layer_b})`` maps ``{'a': x_a, 'b': x_b}`` to
``{'a': layer_a(x_a), 'b': layer_b(x_b)}``; its ``state_spec`` has the
layers' structure, each entry that layer's state spec (`()` if stateless).
Followed by `NestFlatten()` and a combiner (``keras.layers.Add()``,
``Concatenate()``) inside a `Sequential`, it preprocesses nested
observations.
"""

from __future__ import annotations

import copy
from typing import Any

import tensorflow as tf

from tfdrive._keras import keras
from tfdrive.networks import network, sequential
from tfdrive.utils import nest_utils

__all__ = ["NestFlatten", "NestMap"]


def NestFlatten() -> Any:  # noqa: N802 - TF-Agents' name.
    """A Keras layer returning the flat list of the leaves of its (nested) input."""
    return keras.layers.Lambda(tf.nest.flatten)


class NestMap(network.Network):
    """Processes a nest of inputs with a nest of layers of the same structure.

    Args:
      nested_layers: Nest of Keras layers and networks. Plain layers are
        wrapped in a one-layer `Sequential` (so RNN layers get an
        `RNNWrapper`).
      input_spec: Optional nest of `tf.TypeSpec`, structured like
        `nested_layers`.
      name: Network name.

    Raises:
      RuntimeError: Not executing eagerly.
      TypeError: A leaf of `nested_layers` is not a Keras layer, or
        `input_spec` is not structured like `nested_layers`.
    """

    def __init__(self, nested_layers: Any, input_spec: Any = None, name: str | None = None):
        if not tf.executing_eagerly():
            raise RuntimeError(
                "Not executing eagerly - cannot make deep copies of `nested_layers`."
            )
        flat_layers = tf.nest.flatten(nested_layers)
        for layer in flat_layers:
            if not isinstance(layer, keras.layers.Layer):
                network.check_not_keras3(layer, "nested_layers")
                raise TypeError(
                    f"Expected all layers to be instances of keras Layer, but saw: '{layer}'"
                )
        if input_spec is not None:
            nest_utils.assert_same_structure(
                nested_layers,
                input_spec,
                message="`nested_layers` and `input_spec` do not have matching structures",
            )
            flat_specs = tf.nest.flatten(input_spec)
        else:
            flat_specs = [None] * len(flat_layers)
        flat_layers = [
            layer if network.is_network(layer) else sequential.Sequential([layer], spec)
            for spec, layer in zip(flat_specs, flat_layers)
        ]
        # State specs may be deeper than the layer nest (an LSTM's is a pair),
        # so they are packed from the flat list rather than mapped.
        state_spec = tf.nest.pack_sequence_as(
            nested_layers, [layer.state_spec for layer in flat_layers]
        )
        super().__init__(input_tensor_spec=input_spec, state_spec=state_spec, name=name)
        self._flat_layers = flat_layers  # Tracked by Keras (variables, layers).
        # The plain nest, kept out of Keras' tracking, whose wrappers would
        # change the container types the structure checks compare.
        object.__setattr__(
            self, "_nested_layers", tf.nest.pack_sequence_as(nested_layers, flat_layers)
        )

    @property
    def nested_layers(self) -> Any:
        """The nest of (wrapped) layers; a new nest, the same layer objects."""
        return tf.nest.map_structure(lambda layer: layer, self._nested_layers)

    def copy(self, **kwargs: Any) -> NestMap:
        """A new `NestMap` with deep copies of the layers, unless `nested_layers` is given."""
        new_kwargs = dict(self._saved_kwargs, **kwargs)
        if "nested_layers" not in kwargs:
            new_kwargs["nested_layers"] = tf.nest.map_structure(copy.deepcopy, self._nested_layers)
        return type(self)(**new_kwargs)

    def call(self, inputs, network_state=(), **kwargs):
        nest_utils.assert_same_structure(
            self._nested_layers,
            inputs,
            allow_shallow_nest1=True,
            message="`self.nested_layers` and `inputs` do not have matching structures",
        )
        if network_state:
            nest_utils.assert_same_structure(
                self.state_spec,
                network_state,
                allow_shallow_nest1=True,
                message="network_state and state_spec do not have matching structure",
            )
            states = network_state
        else:
            states = tf.nest.map_structure(lambda _: (), self._nested_layers)
        flat_inputs = nest_utils.flatten_up_to(self._nested_layers, inputs)
        flat_states = nest_utils.flatten_up_to(self._nested_layers, states, check_types=False)
        results = [
            layer(x, network_state=state, **kwargs)
            for x, layer, state in zip(
                flat_inputs, tf.nest.flatten(self._nested_layers), flat_states
            )
        ]
        outputs = tf.nest.pack_sequence_as(self._nested_layers, [r[0] for r in results])
        next_state = tf.nest.pack_sequence_as(self._nested_layers, [r[1] for r in results])
        return outputs, next_state

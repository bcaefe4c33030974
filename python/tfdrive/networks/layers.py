"""Keras 2 layers that tfdrive's networks are assembled from, beside Keras' own.

TF-Agents keeps these in ``tf_agents.keras_layers``; they have the same
arguments and behaviour here:

* `PermanentVariableRateDropout`: dropout whose rate may be a callable and
  that, with ``permanent=True``, also drops at inference.
* `RNNWrapper`: a Keras RNN layer (``LSTM``, ``GRU``, ``RNN(cell)``) called as
  ``(outputs, state)`` with the state structured like ``cell.state_size``,
  on inputs with or without a time axis.
* `DynamicUnroll`: a Keras RNN cell unrolled over ``[B, T, ...]`` inputs, with
  the state reset to zeros wherever ``reset_mask`` (``[B, T]`` bool, usually
  "step is FIRST") is True.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive._keras import keras

__all__ = ["DynamicUnroll", "PermanentVariableRateDropout", "RNNWrapper"]


def _has_state(state: Any) -> bool:
    """False for None and empty (non-namedtuple) tuples and lists."""
    if state is None:
        return False
    if isinstance(state, (tuple, list)) and not state and not hasattr(state, "_fields"):
        return False
    return True


def _add_time_axis(inputs: Any, axis: int, dtype: Any = None) -> tuple[Any, bool]:
    """Converts `inputs` to tensors; adds a time axis at `axis` when all are rank <= 2.

    Returns ``(inputs, had_time_axis)``.
    """
    flat = [tf.convert_to_tensor(x, dtype_hint=dtype) for x in tf.nest.flatten(inputs)]
    has_time_axis = all(x.shape.rank is None or x.shape.rank > 2 for x in flat)
    if not has_time_axis:
        flat = [tf.expand_dims(x, axis) for x in flat]
    return tf.nest.pack_sequence_as(inputs, flat), has_time_axis


class PermanentVariableRateDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with a rate that may be a callable, optionally always on.

    Args:
      rate: Fraction of units to drop, or a callable returning it (read at
        every call, e.g. a schedule).
      permanent: When True, drop in inference too (``training`` is ignored),
        e.g. for Monte-Carlo dropout.
      **kwargs: `keras.layers.Dropout` arguments (``noise_shape``, ``seed``, ...).
    """

    def __init__(self, rate: Any, permanent: bool = False, **kwargs: Any):
        self._permanent = permanent
        super().__init__(rate, **kwargs)

    def call(self, inputs: tf.Tensor, training: Any = None) -> tf.Tensor:
        if self._permanent:
            training = True
        if training is None:
            training = keras.backend.learning_phase()
        if not training:
            return inputs
        rate = self.rate() if callable(self.rate) else self.rate
        return tf.nn.dropout(
            inputs, noise_shape=self._get_noise_shape(inputs), seed=self.seed, rate=rate
        )

    def get_config(self) -> dict:
        return dict(super().get_config(), permanent=self._permanent)


class RNNWrapper(keras.layers.Layer):
    """Calls a Keras RNN layer as ``(outputs, state)``, the state shaped like ``cell.state_size``.

    Inputs are ``[B, T, ...]``, or ``[B, ...]`` for a single step (outputs
    then have no time axis either).

    Args:
      layer: A `keras.layers.RNN` (or ``LSTM``, ``GRU``, ...) created with
        ``return_state=True`` and ``return_sequences=True``.
      **kwargs: `keras.layers.Layer` arguments.

    Raises:
      TypeError: `layer` is not a Keras RNN layer.
      NotImplementedError: `layer` does not return its state or its sequences.
    """

    def __init__(self, layer: Any, **kwargs: Any):
        if not isinstance(layer, keras.layers.RNN):
            raise TypeError(f"layer is not a subclass of tf.keras.layers.RNN.  Layer: {layer}")
        config = layer.get_config()
        if not config.get("return_state", False):
            raise NotImplementedError(
                "Provided a Keras RNN layer with return_state==False. "
                f"This configuration is not supported.  Layer: {layer}"
            )
        if not config.get("return_sequences", False):
            raise NotImplementedError(
                "Provided a Keras RNN layer with return_sequences==False. "
                f"This configuration is not supported.  Layer: {layer}"
            )
        self._layer = layer
        super().__init__(**kwargs)

    @property
    def dtype(self) -> Any:
        return self._layer.dtype

    @property
    def cell(self) -> Any:
        """The cell of the wrapped RNN layer."""
        return self._layer.cell

    @property
    def state_size(self) -> Any:
        return self._layer.cell.state_size

    @property
    def wrapped_layer(self) -> Any:
        return self._layer

    def get_config(self) -> dict:
        layer = {"class_name": type(self._layer).__name__, "config": self._layer.get_config()}
        return dict(super().get_config(), layer=layer)

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> RNNWrapper:
        config = dict(config)
        layer = keras.layers.deserialize(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self._layer.compute_output_shape(input_shape)

    @property
    def trainable_weights(self) -> list:
        return self._layer.trainable_weights if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return self._layer.non_trainable_weights if self.trainable else self._layer.weights

    @property
    def losses(self) -> list:
        return self._layer.losses + super().losses

    def build(self, input_shape: Any) -> None:
        if len(input_shape) <= 2:
            input_shape = (input_shape[0], None) + tuple(input_shape[1:])
        self._layer.build(input_shape)
        self.built = True

    def get_initial_state(self, inputs: Any = None) -> Any:
        inputs, _ = _add_time_axis(inputs, axis=1, dtype=self.dtype)
        return self._layer.get_initial_state(inputs)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        """Runs the RNN; returns ``(outputs, final_state)``.

        Args:
          inputs: Nest of ``[B, T, ...]`` (or ``[B, ...]``) tensors.
          initial_state: State like ``state_size`` with outer dim ``[B]``;
            zeros when empty.
          mask: Passed to the wrapped layer.
          training: Passed to the wrapped layer.
        """
        inputs, has_time_axis = _add_time_axis(inputs, axis=1, dtype=self.dtype)
        if not _has_state(initial_state):
            initial_state = self._layer.get_initial_state(inputs)
        outputs = self._layer(inputs, initial_state=initial_state, mask=mask, training=training)
        output, state = outputs[0], outputs[1:]
        # Keras returns the states flat; give them the structure of state_size.
        state = tf.nest.pack_sequence_as(self.state_size, tf.nest.flatten(state))
        if not has_time_axis:
            output = tf.nest.map_structure(lambda t: tf.squeeze(t, axis=1), output)
        return output, state


class DynamicUnroll(keras.layers.Layer):
    """Unrolls a Keras RNN cell over the time axis, resetting the state where told.

    Args:
      cell: A Keras RNN cell (``LSTMCell``, ``StackedRNNCells``, ...): has
        ``get_initial_state``, ``state_size`` and ``output_size``, and is
        called as ``cell(x_t, state, training=...) -> (y_t, new_state)``.
      parallel_iterations: Passed to `tf.while_loop`.
      swap_memory: Passed to `tf.while_loop`.
      **kwargs: `keras.layers.Layer` arguments (``dtype``, ``name``).

    Raises:
      TypeError: `cell` lacks ``get_initial_state``, ``output_size`` or
        ``state_size``.
    """

    def __init__(
        self, cell: Any, parallel_iterations: int = 20, swap_memory: Any = None, **kwargs: Any
    ):
        for attribute in ("get_initial_state", "output_size", "state_size"):
            if getattr(cell, attribute, None) is None:
                kind = "method" if attribute == "get_initial_state" else "property"
                raise TypeError(f"cell lacks {attribute} {kind}: {cell}")
        self.cell = cell
        self.parallel_iterations = parallel_iterations
        self.swap_memory = swap_memory
        super().__init__(**kwargs)

    def get_config(self) -> dict:
        cell = {"class_name": type(self.cell).__name__, "config": self.cell.get_config()}
        return dict(
            super().get_config(),
            cell=cell,
            parallel_iterations=self.parallel_iterations,
            swap_memory=self.swap_memory,
        )

    @classmethod
    def from_config(cls, config: dict, custom_objects: Any = None) -> DynamicUnroll:
        config = dict(config)
        cell = keras.layers.deserialize(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)

    @property
    def trainable_weights(self) -> list:
        return self.cell.trainable_weights if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        return self.cell.non_trainable_weights if self.trainable else self.cell.weights

    @property
    def losses(self) -> list:
        return self.cell.losses + super().losses

    @property
    def state_size(self) -> Any:
        return self.cell.state_size

    def build(self, input_shape: Any) -> None:
        self.cell.build(input_shape)
        self.built = True

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None):
        if inputs is not None:
            return self.cell.get_initial_state(inputs)
        return self.cell.get_initial_state(batch_size=batch_size, dtype=dtype or self.dtype)

    def call(self, inputs, initial_state=None, reset_mask=None, training=False):
        """Runs the cell over time; returns ``(outputs, final_state)``.

        Args:
          inputs: Nest of ``[B, T, ...]`` tensors; when every input has rank
            <= 2 it is one step (``[B, ...]``) and outputs have no time axis.
          initial_state: State like ``cell.state_size`` with outer dim
            ``[B]``; zeros when empty.
          reset_mask: Optional ``[B, T]`` bool; where True the state is
            replaced by zeros before that step.
          training: Passed to the cell.

        Raises:
          ValueError: Inputs disagree on the batch size, or no dtype is known.
        """
        if not _has_state(initial_state) and self.dtype is None:
            raise ValueError("Must provide either dtype or initial_state")
        flat = [tf.convert_to_tensor(x) for x in tf.nest.flatten(inputs)]
        has_time_axis = all(x.shape.rank is None or x.shape.rank > 2 for x in flat)
        if not has_time_axis:
            flat = [tf.expand_dims(x, 1) for x in flat]
            if reset_mask is not None:
                reset_mask = tf.expand_dims(reset_mask, 1)
        static_batch = {x.shape[0] for x in flat} - {None}
        if len(static_batch) > 1:
            raise ValueError(
                "batch_size is not the same for all the elements in the input. "
                f"Saw values {sorted(static_batch)}"
            )
        batch_size = static_batch.pop() if static_batch else tf.shape(flat[0])[0]
        if _has_state(initial_state):
            dtype = self.dtype or tf.nest.flatten(initial_state)[0].dtype
        else:
            dtype = self.dtype
        zero_state = self.cell.get_initial_state(batch_size=batch_size, dtype=dtype)
        state = initial_state if _has_state(initial_state) else zero_state
        # Time-major for the loop.
        flat = [tf.transpose(x, [1, 0] + list(range(2, x.shape.rank))) for x in flat]
        if not self.cell.built:
            # Variables must exist before the loop (none may be created inside it).
            step_shapes = [x.shape[1:] for x in flat]
            self.cell.build(step_shapes[0] if len(step_shapes) == 1 else step_shapes)
        step_inputs = tf.nest.pack_sequence_as(inputs, flat)
        resets = None if reset_mask is None else tf.transpose(reset_mask)
        steps = flat[0].shape[0]
        if steps is not None:
            outputs, state = self._unroll_static(
                step_inputs, resets, state, zero_state, steps, training
            )
        else:
            outputs, state = self._unroll_dynamic(step_inputs, resets, state, zero_state, training)
        # Back to batch-major.
        outputs = tf.nest.map_structure(
            lambda t: tf.transpose(t, [1, 0] + list(range(2, t.shape.rank))), outputs
        )
        if not has_time_axis:
            outputs = tf.nest.map_structure(lambda t: tf.squeeze(t, axis=1), outputs)
        return outputs, state

    def _step(self, x, reset, state, zero_state, training):
        if reset is not None:
            state = tf.nest.map_structure(
                lambda zero, s: tf.where(_broadcastable(reset, s), zero, s), zero_state, state
            )
        return self.cell(x, state, training=training)

    def _unroll_static(self, inputs, resets, state, zero_state, steps, training):
        outputs = []
        for t in range(steps):
            x = tf.nest.map_structure(lambda v, t=t: v[t], inputs)
            y, state = self._step(
                x, None if resets is None else resets[t], state, zero_state, training
            )
            outputs.append(y)
        return tf.nest.map_structure(lambda *ys: tf.stack(ys), *outputs), state

    def _unroll_dynamic(self, inputs, resets, state, zero_state, training):
        flat_inputs = tf.nest.flatten(inputs)
        steps = tf.shape(flat_inputs[0])[0]
        input_arrays = [
            tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x)
            for x in flat_inputs
        ]
        dtype = tf.nest.flatten(state)[0].dtype
        output_size = self.cell.output_size
        output_arrays = [
            tf.TensorArray(
                dtype,
                size=steps,
                element_shape=flat_inputs[0].shape[1:2].concatenate(tf.TensorShape(size)),
            )
            for size in tf.nest.flatten(output_size)
        ]

        def body(t, state, arrays):
            x = tf.nest.pack_sequence_as(inputs, [a.read(t) for a in input_arrays])
            reset = None if resets is None else resets[t]
            y, state = self._step(x, reset, state, zero_state, training)
            arrays = [a.write(t, v) for a, v in zip(arrays, tf.nest.flatten(y))]
            return t + 1, state, arrays

        _, state, output_arrays = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), state, output_arrays),
            parallel_iterations=self.parallel_iterations,
            swap_memory=bool(self.swap_memory),
            maximum_iterations=steps,
        )
        outputs = tf.nest.pack_sequence_as(output_size, [a.stack() for a in output_arrays])
        return outputs, state


def _broadcastable(mask: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """``[B]`` bool mask reshaped to broadcast against `like` (``[B, ...]``)."""
    return tf.reshape(
        mask, tf.concat([tf.shape(mask), tf.ones([like.shape.rank - 1], tf.int32)], 0)
    )

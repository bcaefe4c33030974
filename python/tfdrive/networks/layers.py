"""Dense and LSTM building blocks of tfdrive's networks, as plain `tf.Module`s.

No Keras: the same code runs on TF 2.15 (Keras 2) and TF >= 2.16 (Keras 3).
The variable layout follows Keras 2 (and hence TF-Agents), so weights copy
across one to one:

* `Dense`: ``kernel`` ``[in, out]`` and ``bias`` ``[out]``; ``y = act(x @ kernel + bias)``.
* `LSTMCell`: ``kernel`` ``[in, 4u]``, ``recurrent_kernel`` ``[u, 4u]``,
  ``bias`` ``[4u]``, gates ordered input, forget, cell, output; state
  ``[h, c]``.

Initial values come from a numpy generator (`make_rng`), so a seed fixes them.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfdrive.trajectories import time_step as ts

__all__ = [
    "Dense",
    "LSTMCell",
    "StackedLSTM",
    "glorot_uniform",
    "make_rng",
    "orthogonal",
    "variance_scaling",
    "MLP",
    "flatten_observation",
    "input_units",
    "reject_unsupported",
    "unflatten",
]


def make_rng(seed: int | None) -> np.random.Generator:
    """A numpy generator for initial values.

    With ``seed=None`` the generator is seeded from TensorFlow's random
    stream, so ``tf.random.set_seed(s)`` before building networks makes their
    initial values reproducible (as with Keras initializers).
    """
    if seed is None and tf.executing_eagerly():
        draw = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64).numpy()
        seed = [int(draw[0]), int(draw[1])]
    return np.random.default_rng(seed)


def glorot_uniform(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (float32)."""
    fan_in, fan_out = shape[0], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def variance_scaling(shape: Sequence[int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Truncated normal (±2 std) with variance ``scale / fan_in`` (float32)."""
    stddev = np.sqrt(scale / shape[0]) / 0.87962566103423978
    values = rng.standard_normal(size=shape)
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(values) > 2.0
    return (values * stddev).astype(np.float32)


def orthogonal(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """A (semi-)orthogonal matrix (float32)."""
    rows, cols = shape
    a = rng.standard_normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return q[:rows, :cols].astype(np.float32)


class Dense(tf.Module):
    """``act(x @ kernel + bias)`` over the last axis of `x` (any outer rank).

    Args:
      in_units: Size of the input's last axis.
      units: Size of the output's last axis.
      activation: Elementwise function or None.
      kernel: Initial kernel ``[in_units, units]`` (float32 array).
      bias: Initial bias ``[units]``; zeros if None.
    """

    def __init__(
        self,
        in_units: int,
        units: int,
        activation: Callable[[tf.Tensor], tf.Tensor] | None,
        kernel: np.ndarray,
        bias: np.ndarray | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.in_units = int(in_units)
        self.units = int(units)
        self.activation = activation
        with self.name_scope:
            self.kernel = tf.Variable(kernel, name="kernel")
            self.bias = tf.Variable(
                np.zeros([units], np.float32) if bias is None else bias, name="bias"
            )

    @property
    def layer_variables(self) -> list:
        return [self.kernel, self.bias]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        if x.shape.rank == 2:
            y = tf.matmul(x, self.kernel) + self.bias
        else:
            y = tf.tensordot(x, self.kernel, axes=1) + self.bias
        return self.activation(y) if self.activation is not None else y


class MLP(tf.Module):
    """A stack of `Dense` layers, each followed by `activation`."""

    def __init__(
        self,
        in_units: int,
        layer_params: Sequence[int],
        activation: Callable[[tf.Tensor], tf.Tensor],
        init: Callable[[Sequence[int]], np.ndarray],
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.layers = []
        size = int(in_units)
        with self.name_scope:
            for i, units in enumerate(layer_params or ()):
                self.layers.append(
                    Dense(size, units, activation, init([size, int(units)]), name=f"dense_{i}")
                )
                size = int(units)
        self.out_units = size

    @property
    def layer_variables(self) -> list:
        return [v for layer in self.layers for v in layer.layer_variables]

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def flatten_observation(
    observation: Any, input_spec: Any, combiner: Callable[[list], tf.Tensor] | None
) -> tuple[tf.Tensor, list]:
    """Casts the observation to float32 and flattens its inner dims.

    Args:
      observation: A tensor, or a nest when `combiner` is given, with outer
        dims ``[B]`` or ``[B, T]`` ahead of the spec's shape.
      input_spec: The matching (nest of) `TensorSpec`.
      combiner: Joins the flattened leaves of a nested observation (each
        ``[N, k_i]``) into one ``[N, k]`` tensor; None for a single tensor.

    Returns:
      ``(x, outer_shape)``: ``x`` is ``[N, k]`` float32 with N the product of
      the outer dims; ``outer_shape`` is the outer shape as a list.
    """
    flat_obs = tf.nest.flatten(observation)
    flat_spec = tf.nest.flatten(input_spec)
    first = tf.convert_to_tensor(flat_obs[0])
    outer_rank = first.shape.rank - flat_spec[0].shape.rank
    outer_shape = tf.shape(first)[:outer_rank]
    static_outer = first.shape[:outer_rank].as_list()
    parts = []
    for obs, spec in zip(flat_obs, flat_spec):
        obs = tf.cast(tf.convert_to_tensor(obs), tf.float32)
        inner = int(np.prod(spec.shape.as_list(), dtype=np.int64))
        parts.append(tf.reshape(obs, [-1, inner]))
    x = parts[0] if combiner is None else combiner(parts)
    return x, (static_outer if None not in static_outer else outer_shape)


def reject_unsupported(**options: Any) -> None:
    """Raises `NotImplementedError` for each TF-Agents option given a truthy value."""
    for key, value in options.items():
        if value:
            raise NotImplementedError(f"tfdrive networks do not support `{key}`.")


def require_combiner(input_tensor_spec: Any, combiner: Callable[[list], tf.Tensor] | None) -> None:
    """Raises `ValueError` for a nested `input_tensor_spec` without a combiner."""
    if len(tf.nest.flatten(input_tensor_spec)) > 1 and combiner is None:
        raise ValueError(
            "preprocessing_combiner is required for a nested input_tensor_spec: "
            f"{input_tensor_spec}"
        )


def value_head(in_units: int, rng: np.random.Generator) -> Dense:
    """The scalar value layer: ``Dense(1)``, kernel uniform in ``±0.03``, zero bias."""
    kernel = rng.uniform(-0.03, 0.03, size=[in_units, 1]).astype(np.float32)
    return Dense(in_units, 1, None, kernel, name="value")


def input_units(input_tensor_spec: Any, combiner: Callable[[list], tf.Tensor] | None) -> int:
    """Feature size after flattening (and combining) one observation."""
    sizes = [
        int(np.prod(s.shape.as_list(), dtype=np.int64)) for s in tf.nest.flatten(input_tensor_spec)
    ]
    if combiner is None:
        return sizes[0]
    probe = combiner([tf.zeros([1, n]) for n in sizes])
    return int(probe.shape[-1])


def unflatten(x: tf.Tensor, outer_shape: Any) -> tf.Tensor:
    """Reshapes ``[N] + inner`` to ``outer_shape + inner``."""
    inner = x.shape[1:].as_list()
    if isinstance(outer_shape, list):
        return tf.reshape(x, outer_shape + inner)
    return tf.reshape(x, tf.concat([outer_shape, inner], axis=0))


class LSTMCell(tf.Module):
    """One Keras-layout LSTM cell; state ``[h, c]``, each ``[B, units]``."""

    def __init__(
        self, in_units: int, units: int, rng: np.random.Generator, name: str | None = None
    ):
        super().__init__(name=name)
        self.units = int(units)
        bias = np.zeros([4 * units], np.float32)
        bias[units : 2 * units] = 1.0  # unit forget bias
        with self.name_scope:
            self.kernel = tf.Variable(glorot_uniform([in_units, 4 * units], rng), name="kernel")
            self.recurrent_kernel = tf.Variable(
                orthogonal([units, 4 * units], rng), name="recurrent_kernel"
            )
            self.bias = tf.Variable(bias, name="bias")

    @property
    def layer_variables(self) -> list:
        return [self.kernel, self.recurrent_kernel, self.bias]

    def __call__(self, x: tf.Tensor, state: list) -> tuple[tf.Tensor, list]:
        h, c = state
        z = tf.matmul(x, self.kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, [h, c]


class StackedLSTM(tf.Module):
    """LSTM cells applied in sequence, unrolled over time with reset on FIRST.

    State layout (as Keras / TF-Agents): one cell gives ``[h, c]``; several
    give a tuple of ``[h, c]`` lists, one per cell.
    """

    def __init__(
        self, in_units: int, lstm_size: Sequence[int], rng: np.random.Generator, name=None
    ):
        super().__init__(name=name)
        self.cells = []
        size = int(in_units)
        with self.name_scope:
            for i, units in enumerate(lstm_size):
                self.cells.append(LSTMCell(size, int(units), rng, name=f"lstm_cell_{i}"))
                size = int(units)
        self.out_units = size

    @property
    def layer_variables(self) -> list:
        return [v for cell in self.cells for v in cell.layer_variables]

    @property
    def state_size(self) -> Any:
        sizes = [[cell.units, cell.units] for cell in self.cells]
        return sizes[0] if len(sizes) == 1 else tuple(sizes)

    def _zero_state(self, batch_size: Any) -> list:
        return [
            [tf.zeros([batch_size, cell.units]), tf.zeros([batch_size, cell.units])]
            for cell in self.cells
        ]

    def _step(self, x: tf.Tensor, states: list, reset: tf.Tensor) -> tuple[tf.Tensor, list]:
        keep = tf.cast(tf.logical_not(reset), tf.float32)[:, None]
        new_states = []
        for cell, (h, c) in zip(self.cells, states):
            x, state = cell(x, [h * keep, c * keep])
            new_states.append(state)
        return x, new_states

    def __call__(
        self, inputs: tf.Tensor, step_type: tf.Tensor, state: Any
    ) -> tuple[tf.Tensor, Any]:
        """Runs ``inputs`` ``[B, T, k]``; state entries reset where step_type is FIRST.

        Returns ``([B, T, units], final_state)``.
        """
        batch_size = tf.shape(inputs)[0]
        if not tf.nest.flatten(state):
            states = self._zero_state(batch_size)
        else:
            states = [state] if len(self.cells) == 1 else list(state)
            states = [[tf.convert_to_tensor(h), tf.convert_to_tensor(c)] for h, c in states]
        reset = tf.equal(step_type, ts.StepType.FIRST)
        steps = inputs.shape[1]
        if steps is not None:
            outputs = []
            for t in range(steps):
                y, states = self._step(inputs[:, t], states, reset[:, t])
                outputs.append(y)
            output = tf.stack(outputs, axis=1)
        else:
            flat_states = tf.nest.flatten(states)

            def body(carry, elems):
                _, flat = carry
                x_t, reset_t = elems
                y, new = self._step(x_t, tf.nest.pack_sequence_as(states, flat), reset_t)
                return y, tf.nest.flatten(new)

            init_y = tf.zeros([batch_size, self.out_units])
            ys, flats = tf.scan(
                body,
                (tf.transpose(inputs, [1, 0, 2]), tf.transpose(reset, [1, 0])),
                initializer=(init_y, flat_states),
            )
            output = tf.transpose(ys, [1, 0, 2])
            states = tf.nest.pack_sequence_as(states, [f[-1] for f in flats])
        final = states[0] if len(self.cells) == 1 else tuple(states)
        return output, final

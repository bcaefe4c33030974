"""A sequential actor network for PPO (TF-Agents' `agents.ppo.ppo_actor_network`).

The network maps observations through tanh-activated dense layers to a
`MultivariateNormalDiag` over continuous actions: the mean is squashed into
the action bounds with tanh, the scale is a softplus of a learned,
state-independent bias (initially 0.35).
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._keras import keras
from tfdrive.networks import nest_map, sequential
from tfdrive.networks.normal_projection_network import BiasLayer

__all__ = ["PPOActorNetwork", "tanh_and_scale_to_spec"]

# The standard deviation the scale starts at: softplus(bias) == 0.35.
_INITIAL_STD = 0.35


def tanh_and_scale_to_spec(inputs: tf.Tensor, spec: Any) -> tf.Tensor:
    """Squashes `inputs` with tanh into `[spec.minimum, spec.maximum]`."""
    means = (spec.maximum + spec.minimum) / 2.0
    magnitudes = (spec.maximum - spec.minimum) / 2.0
    return means + magnitudes * tf.tanh(inputs)


class PPOActorNetwork:
    """Builds PPO actor networks.

    Args:
      seed_stream_class: the class drawing the layers' initializer seeds, called
        as `seed_stream_class(seed=..., salt=...)`; each call of the instance
        returns the next seed (`tfp.util.SeedStream` by default).
    """

    def __init__(self, seed_stream_class: Any = tfp.util.SeedStream):
        self.seed_stream_class = seed_stream_class

    def create_sequential_actor_net(
        self, fc_layer_units: Sequence[int], action_tensor_spec: Any, seed: int | None = None
    ) -> sequential.Sequential:
        """A `Sequential` network from observations to a `MultivariateNormalDiag`.

        Args:
          fc_layer_units: units of the hidden tanh dense layers (orthogonal
            initialization).
          action_tensor_spec: a bounded float `TensorSpec` of the actions; the
            distribution's event shape is its number of elements.
          seed: seed of the initializers (None: random).

        Returns:
          A `Sequential` whose output is a `MultivariateNormalDiag` with `loc`
          within the action bounds and `scale_diag = softplus(bias)`.
        """
        self._seed_stream = self.seed_stream_class(seed=seed, salt="tf_agents_sequential_layers")

        def next_seed():
            seed = self._seed_stream()
            # Keras initializers take seeds up to sys.maxsize.
            return None if seed is None else seed % sys.maxsize

        def create_dist(loc_and_scale):
            loc = tanh_and_scale_to_spec(loc_and_scale["loc"], action_tensor_spec)
            scale = tf.math.softplus(loc_and_scale["scale"])
            return tfp.distributions.MultivariateNormalDiag(
                loc=loc, scale_diag=scale, validate_args=True
            )

        dense = functools.partial(
            keras.layers.Dense,
            activation=tf.nn.tanh,
            kernel_initializer=keras.initializers.Orthogonal(seed=next_seed()),
        )
        means = keras.layers.Dense(
            action_tensor_spec.shape.num_elements(),
            kernel_initializer=keras.initializers.VarianceScaling(scale=0.1, seed=next_seed()),
            name="means_projection_layer",
        )
        std = BiasLayer(
            bias_initializer=keras.initializers.Constant(value=np.log(np.exp(_INITIAL_STD) - 1))
        )
        return sequential.Sequential(
            [dense(units) for units in fc_layer_units]
            + [means]
            # The scale does not depend on the state: zeros plus a learned bias.
            + [keras.layers.Lambda(lambda x: {"loc": x, "scale": tf.zeros_like(x)})]
            + [nest_map.NestMap({"loc": keras.layers.Lambda(lambda x: x), "scale": std})]
            + [keras.layers.Lambda(create_dist)]
        )

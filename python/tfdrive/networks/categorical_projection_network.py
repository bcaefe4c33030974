"""`CategoricalProjectionNetwork`: features -> a Categorical over a discrete action."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import network
from tfdrive.networks import utils as network_utils
from tfdrive.specs import distribution_spec, tensor_spec

__all__ = ["CategoricalProjectionNetwork"]


@configurable
class CategoricalProjectionNetwork(network.DistributionNetwork):
    """Maps features to a `tfp.distributions.Categorical` by a dense logits layer.

    Called as ``net(inputs, outer_rank, training=False, mask=None)`` with
    `inputs` ``outer_dims + [k]`` (cast to float32), where `outer_rank` is the
    number of outer dims; returns ``(distribution, ())``. For a spec of shape
    ``S`` with ``n = maximum - minimum + 1`` actions (equal for every entry),
    the logits are float32 ``outer_dims + S + [n]`` and samples have the
    spec's dtype and lie in ``[0, n)`` (the spec's minimum is not added).

    A `mask` (``outer_dims + S + [n]``, or without the ``S`` axes for a spec
    of shape ``[1]``; bool or 0/1) sets the logits of the actions it rules
    out to the float32 minimum (not -inf, which makes TFP produce NaNs).

    Variables: logits kernel ``[k, prod(S) * n]`` and bias ``[prod(S) * n]``.

    Args:
      sample_spec: A discrete `BoundedTensorSpec` of the action.
      logits_init_output_factor: Scale of the variance-scaling init of the
        logits kernel.
      name: The network's name.

    Raises:
      ValueError: If `sample_spec` is not bounded, not discrete, or its entries
        have different (or no) numbers of actions.
    """

    def __init__(
        self,
        sample_spec: Any,
        logits_init_output_factor: float = 0.1,
        name: str = "CategoricalProjectionNetwork",
    ):
        if not tensor_spec.is_bounded(sample_spec):
            raise ValueError(f"sample_spec must be bounded. Got: {type(sample_spec)}.")
        if not tensor_spec.is_discrete(sample_spec):
            raise ValueError(f"sample_spec must be discrete. Got: {sample_spec}.")
        unique_num_actions = np.unique(sample_spec.maximum - sample_spec.minimum + 1)
        if len(unique_num_actions) > 1 or np.any(unique_num_actions <= 0):
            raise ValueError(
                "Bounds on discrete actions must be the same for all dimensions and have at "
                "least 1 action. Projection Network requires num_actions to be equal across "
                "action dimensions. Implement a more general categorical projection if you "
                "need more flexibility."
            )
        output_shape = sample_spec.shape.concatenate([int(unique_num_actions[0])])
        super().__init__(
            input_tensor_spec=None,
            state_spec=(),
            output_spec=self._output_distribution_spec(output_shape, sample_spec, name),
            name=name,
        )
        self._sample_spec = sample_spec
        self._output_shape = output_shape
        self._projection_layer = keras.layers.Dense(
            output_shape.num_elements(),
            kernel_initializer=tf.compat.v1.variance_scaling_initializer(
                scale=logits_init_output_factor
            ),
            bias_initializer=keras.initializers.Zeros(),
            name="logits",
        )

    def _output_distribution_spec(
        self, output_shape: tf.TensorShape, sample_spec: Any, network_name: str
    ) -> distribution_spec.DistributionSpec:
        input_param_spec = {
            "logits": tf.TensorSpec(
                shape=output_shape, dtype=tf.float32, name=network_name + "_logits"
            )
        }
        return distribution_spec.DistributionSpec(
            tfp.distributions.Categorical,
            input_param_spec,
            sample_spec=sample_spec,
            dtype=sample_spec.dtype,
        )

    def call(
        self,
        inputs: tf.Tensor,
        outer_rank: int,
        training: bool = False,
        mask: Any = None,
    ) -> tuple[Any, tuple]:
        # The projection's inputs are features, not observations: the caller
        # says how many outer dims they have.
        batch_squash = network_utils.BatchSquash(outer_rank)
        inputs = tf.cast(batch_squash.flatten(inputs), tf.float32)
        logits = self._projection_layer(inputs, training=training)
        logits = tf.reshape(logits, [-1] + self._output_shape.as_list())
        logits = batch_squash.unflatten(logits)

        if mask is not None:
            mask = tf.convert_to_tensor(mask)
            # A spec of shape [1] has logits [..., 1, n]: give the mask that axis.
            if mask.shape.rank < logits.shape.rank:
                mask = tf.expand_dims(mask, -2)
            almost_neg_inf = tf.constant(logits.dtype.min, dtype=logits.dtype)
            logits = tf.where(tf.cast(mask, tf.bool), logits, almost_neg_inf)

        return self.output_spec.build_distribution(logits=logits), ()

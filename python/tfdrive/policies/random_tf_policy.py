"""`RandomTFPolicy`: uniformly random actions as tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = ["RandomTFPolicy"]


def _uniform_log_probability(outer_dims: Any, spec: Any) -> tf.Tensor:
    """log-probability of one uniform draw from `spec`, filled to `outer_dims` (float32)."""
    low = np.broadcast_to(np.asarray(spec.minimum, np.float64), spec.shape)
    high = np.broadcast_to(np.asarray(spec.maximum, np.float64), spec.shape)
    width = high - low + 1.0 if spec.dtype.is_integer else high - low
    value = float(-np.sum(np.log(width)))
    return tf.fill(outer_dims, tf.constant(value, tf.float32))


class RandomTFPolicy(tf_policy.TFPolicy):
    """Samples actions uniformly from `action_spec` (integers inclusive of maximum).

    Takes `TFPolicy`'s arguments. With an
    `observation_and_action_constraint_splitter` (only for a single
    `BoundedTensorSpec` shaped ``()`` or ``(1,)``), actions are drawn
    uniformly among the entries where the mask is nonzero. Info is sampled
    from `info_spec`; with `emit_log_probability` the info holds the exact
    log-probability of each drawn action. `distribution` is not supported.

    Raises:
      NotImplementedError: For a splitter with an unsupported action spec,
        and for the bandit-only arguments `accepts_per_arm_features` /
        `stationary_mask`, which tfdrive does not provide.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec: Any, *args: Any, **kwargs: Any):
        if kwargs.pop("accepts_per_arm_features", False) or kwargs.pop("stationary_mask", None):
            raise NotImplementedError(
                "tfdrive's RandomTFPolicy does not implement the bandit options "
                "`accepts_per_arm_features` and `stationary_mask`."
            )
        splitter = kwargs.get("observation_and_action_constraint_splitter", None)
        if splitter is not None:
            if not isinstance(action_spec, tensor_spec.BoundedTensorSpec):
                raise NotImplementedError(
                    "RandomTFPolicy only supports action constraints for "
                    "BoundedTensorSpec action specs."
                )
            if tuple(action_spec.shape) not in ((), (1,)):
                raise NotImplementedError(
                    "RandomTFPolicy only supports action constraints for action specs "
                    "shaped as () or (1,) or their equivalent list forms."
                )
        super().__init__(time_step_spec, action_spec, *args, **kwargs)

    def _variables(self) -> list:
        return []

    def _action(self, time_step: ts.TimeStep, policy_state: Any, seed: Any = None) -> Any:
        splitter = self.observation_and_action_constraint_splitter
        outer_dims = nest_utils.get_outer_shape(time_step, self._time_step_spec)
        masked = None
        if splitter is not None:
            _, mask = splitter(time_step.observation)
            spec = self._action_spec
            mask = tf.cast(mask, tf.bool)
            logits = tf.where(mask, tf.zeros_like(mask, tf.float32), tf.float32.min)
            masked = tfp.distributions.Categorical(logits=logits)
            action = tf.cast(masked.sample(seed=seed) + spec.minimum, spec.dtype)
            if spec.shape.rank == 1:
                action = tf.expand_dims(action, axis=-1)
        else:
            action = tensor_spec.sample_spec_nest(
                self._action_spec, seed=seed, outer_dims=outer_dims
            )
        info = tensor_spec.sample_spec_nest(self._info_spec, outer_dims=outer_dims)
        if self._emit_log_probability:
            if masked is not None:
                index = tf.cast(action, tf.int32) - int(self._action_spec.minimum)
                if self._action_spec.shape.rank == 1:
                    index = tf.squeeze(index, axis=-1)
                log_probability = masked.log_prob(index)
            else:
                log_probability = tf.nest.map_structure(
                    lambda s: _uniform_log_probability(outer_dims, s), self._action_spec
                )
            info = policy_step.set_log_probability(info, log_probability)
        return policy_step.PolicyStep(action, policy_state, info)

    def _distribution(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        raise NotImplementedError("RandomTFPolicy does not support distributions yet.")

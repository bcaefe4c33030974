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

# Observation keys of per-arm (bandit) observations, as in TF-Agents.
_PER_ARM_FEATURE_KEY = "per_arm"
_NUM_ACTIONS_FEATURE_KEY = "num_actions"
# The info field that receives the chosen arm's features.
_CHOSEN_ARM_FEATURES = "chosen_arm_features"
# Logit of masked-out actions (TF-Agents' MaskedCategorical default).
_MASKED_LOGIT = -1e10


def _sampling_range(spec: Any) -> tuple[np.ndarray | np.float64, np.ndarray | np.float64, bool]:
    """``(low, high, inclusive)`` of what `tensor_spec.sample_spec_nest` draws for `spec`.

    Unbounded specs span their dtype (floats an eighth of it each way, bools
    0..1, strings the decimal numbers 0..10); integer ranges include their
    maximum.
    """
    dtype = tf.as_dtype(spec.dtype)
    if dtype == tf.bool:
        return np.float64(0.0), np.float64(1.0), True
    if dtype == tf.string:
        return np.float64(0.0), np.float64(10.0), True
    bounded = (
        spec if tensor_spec.is_bounded(spec) else tensor_spec.BoundedTensorSpec.from_spec(spec)
    )
    low = np.asarray(bounded.minimum, np.float64)
    high = np.asarray(bounded.maximum, np.float64)
    if dtype.is_floating:
        low = np.maximum(low, dtype.min / 8)
        high = np.minimum(high, dtype.max / 8)
    return low, high, not dtype.is_floating


def _uniform_log_probability(outer_dims: Any, spec: Any) -> tf.Tensor:
    """log-probability of one uniform draw from `spec`, filled to `outer_dims` (float32).

    The sum over the action's elements of ``-log(max - min + 1)`` (integer
    specs, whose maximum is included) or ``-log(max - min)`` (float specs);
    computed in float64 so that wide integer ranges do not overflow.
    """
    low, high, inclusive = _sampling_range(spec)
    width = np.broadcast_to(high - low + (1.0 if inclusive else 0.0), spec.shape)
    return tf.fill(outer_dims, tf.constant(-np.sum(np.log(width)), tf.float32))


def _masked_uniform(mask: tf.Tensor) -> tfp.distributions.Categorical:
    """Uniform over the entries where `mask` (``[B, n]``, bool or 0/1) is nonzero."""
    mask = tf.cast(mask, tf.bool)
    logits = tf.where(mask, tf.zeros(tf.shape(mask)), tf.fill(tf.shape(mask), _MASKED_LOGIT))
    return tfp.distributions.Categorical(logits=logits, dtype=tf.int32)


def _has_chosen_arm_features(info_spec: Any) -> bool:
    fields = getattr(info_spec, "_fields", None)
    return bool(info_spec) and fields is not None and _CHOSEN_ARM_FEATURES in fields


class RandomTFPolicy(tf_policy.TFPolicy):
    """Samples actions uniformly from `action_spec` (integers inclusive of maximum).

    Takes `TFPolicy`'s arguments, plus two keyword-only options:

    * ``stationary_mask``: a list of 0/1 (or bools), one per action of a
      single integer `BoundedTensorSpec`; only allowed actions are drawn.
    * ``accepts_per_arm_features`` (bandits): observations are dicts whose
      optional ``'num_actions'`` entry (int ``[B]``) limits the actions to
      ``minimum .. minimum + num_actions - 1``; when `info_spec` is a
      namedtuple with a ``chosen_arm_features`` field, it receives the
      ``'per_arm'`` features of the drawn arm.

    With an `observation_and_action_constraint_splitter` (only for a single
    `BoundedTensorSpec` shaped ``()`` or ``(1,)``), actions are drawn
    uniformly among the entries where the mask (``[B, num_actions]``,
    combined with the stationary mask if any) is nonzero.

    Info (other than the log-probability) is sampled from `info_spec` and has
    nothing to do with the actions. With `emit_log_probability`,
    ``info.log_probability`` holds the exact float32 log-probability of each
    drawn action, shaped ``[B]`` per action leaf. `distribution` is not
    supported.

    Raises:
      NotImplementedError: For a splitter or stationary mask with an action
        spec that is not a single `BoundedTensorSpec`, or a splitter with an
        action shape other than ``()`` / ``(1,)``.
      AssertionError: For a stationary mask with a non-integer action spec,
        or whose length is not the number of actions.
    """

    def __init__(self, time_step_spec: ts.TimeStep, action_spec: Any, *args: Any, **kwargs: Any):
        splitter = kwargs.get("observation_and_action_constraint_splitter", None)
        self._accepts_per_arm_features = kwargs.pop("accepts_per_arm_features", False)
        stationary_mask = kwargs.pop("stationary_mask", None)
        if stationary_mask is not None:
            if not isinstance(action_spec, tensor_spec.BoundedTensorSpec):
                raise NotImplementedError(
                    "RandomTFPolicy only supports action constraints for "
                    "BoundedTensorSpec action specs."
                )
            # AssertionErrors as in TF-Agents, raised even under `python -O`.
            if not action_spec.dtype.is_integer:
                raise AssertionError("To use a stationary mask, action dtype must be integer.")
            stationary_mask = tf.constant([stationary_mask])
            num_actions = action_spec.maximum - action_spec.minimum + 1
            if stationary_mask.shape[-1] != num_actions:
                raise AssertionError(
                    "Stationary mask should have length equal to the number of actions, "
                    f"but we get {num_actions} and {stationary_mask.shape[-1]}."
                )
        self._stationary_mask = stationary_mask
        if splitter is not None:
            if not isinstance(action_spec, tensor_spec.BoundedTensorSpec):
                raise NotImplementedError(
                    "RandomTFPolicy only supports action constraints for "
                    "BoundedTensorSpec action specs."
                )
            action_spec = tensor_spec.from_spec(action_spec)
            if action_spec.shape.rank != 0 and action_spec.shape.as_list() != [1]:
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
        observation = time_step.observation
        spec = self._action_spec
        # The categorical every masked or per-arm action is drawn from.
        masked = None
        if splitter is not None:
            observation, mask = splitter(observation)
            if self._stationary_mask is not None:
                mask = tf.logical_and(
                    tf.cast(mask, tf.bool), tf.cast(self._stationary_mask, tf.bool)
                )
            masked = _masked_uniform(mask)
            action = tf.cast(masked.sample(seed=seed) + spec.minimum, spec.dtype)
            if spec.shape.rank == 1:
                action = tf.expand_dims(action, axis=-1)
        elif self._accepts_per_arm_features:
            max_num_arms = spec.maximum - spec.minimum + 1
            batch_size = tf.shape(time_step.step_type)[0]
            num_actions = observation.get(
                _NUM_ACTIONS_FEATURE_KEY, tf.ones([batch_size], tf.int32) * max_num_arms
            )
            masked = _masked_uniform(tf.sequence_mask(num_actions, max_num_arms))
            action = tf.nest.map_structure(
                lambda s: tf.cast(masked.sample(seed=seed) + s.minimum, s.dtype), spec
            )
        elif self._stationary_mask is not None:
            batch_size = tf.shape(time_step.step_type)[0]
            masked = _masked_uniform(tf.tile(self._stationary_mask, [batch_size, 1]))
            action = tf.cast(masked.sample(seed=seed) + spec.minimum, spec.dtype)
        else:
            action = tensor_spec.sample_spec_nest(spec, seed=seed, outer_dims=outer_dims)
        info = tensor_spec.sample_spec_nest(self._info_spec, outer_dims=outer_dims)

        if self._accepts_per_arm_features and _has_chosen_arm_features(self._info_spec):
            chosen_arm_features = tf.nest.map_structure(
                lambda t: tf.gather(params=t, indices=action, batch_dims=1),
                observation[_PER_ARM_FEATURE_KEY],
            )
            info = info._replace(chosen_arm_features=chosen_arm_features)

        if self._emit_log_probability:
            if masked is not None:
                index = tf.cast(action - spec.minimum, tf.int32)
                if splitter is not None and spec.shape.rank == 1:
                    index = tf.squeeze(index, axis=-1)
                log_probability = masked.log_prob(index)
            else:
                log_probability = tf.nest.map_structure(
                    lambda s: _uniform_log_probability(outer_dims, s), spec
                )
            info = policy_step.set_log_probability(info, log_probability)
        return policy_step.PolicyStep(action, policy_state, info)

    def _distribution(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        raise NotImplementedError("RandomTFPolicy does not support distributions yet.")

"""Helpers shared by policies (``tf_agents.policies.utils``).

Action-spec checks, the policy-info namedtuples bandit and Q policies emit,
the `BanditPolicyType` enumeration and its spec, and masked argmax.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import tensorflow as tf

from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common

__all__ = [
    "BanditPolicyType",
    "InfoFields",
    "PerArmPolicyInfo",
    "PolicyInfo",
    "bandit_policy_uniform_mask",
    "check_no_mask_with_arm_features",
    "create_bandit_policy_type_tensor_spec",
    "create_chosen_arm_features_info_spec",
    "get_model_index",
    "get_num_actions_from_tensor_spec",
    "has_bandit_policy_type",
    "has_chosen_arm_features",
    "masked_argmax",
    "populate_policy_info",
    "set_bandit_policy_type",
]

# Observation keys of bandit environments with per-arm features
# (``tf_agents.specs.bandit_spec_utils``).
_PER_ARM_FEATURE_KEY = "per_arm"
_NUM_ACTIONS_FEATURE_KEY = "num_actions"


def get_num_actions_from_tensor_spec(action_spec: Any) -> int:
    """Returns the number of actions of a scalar int32 / int64 spec with minimum 0.

    Args:
      action_spec: A `BoundedTensorSpec` shaped ``()``.

    Returns:
      ``action_spec.maximum + 1``.

    Raises:
      ValueError: If `action_spec` is not a `BoundedTensorSpec`, is not
        scalar, is not int32 / int64, or its minimum is not 0.
    """
    if not isinstance(action_spec, tensor_spec.BoundedTensorSpec):
        raise ValueError(f"Action spec must be a `BoundedTensorSpec`; got {type(action_spec)}")
    if action_spec.shape.rank != 0:
        raise ValueError(f"Action spec must be a scalar; got shape{action_spec.shape}")
    if action_spec.dtype not in (tf.int32, tf.int64):
        raise ValueError(f"Action spec must be have dtype int32 or int64; got {action_spec.dtype}")
    if action_spec.minimum != 0:
        raise ValueError(f"Action spec must have minimum 0; got {action_spec.minimum}")
    return action_spec.maximum + 1


class InfoFields:
    """Names of the policy info fields bandit and Q policies emit."""

    LOG_PROBABILITY = policy_step.CommonFields.LOG_PROBABILITY
    # Mean predicted reward per arm.
    PREDICTED_REWARDS_MEAN = "predicted_rewards_mean"
    # Multi-objective policies: the scalarized means the arm choice used (the
    # per-objective means stay in PREDICTED_REWARDS_MEAN).
    MULTIOBJECTIVE_SCALARIZED_PREDICTED_REWARDS_MEAN = (
        "multiobjective_scalarized_predicted_rewards_mean"
    )
    # Optimistic (e.g. UCB) estimates per arm.
    PREDICTED_REWARDS_OPTIMISTIC = "predicted_rewards_optimistic"
    # Sampled (e.g. Thompson) estimates per arm.
    PREDICTED_REWARDS_SAMPLED = "predicted_rewards_sampled"
    # A `BanditPolicyType` value per batch entry.
    BANDIT_POLICY_TYPE = "bandit_policy_type"
    # The per-arm features of the chosen arm.
    CHOSEN_ARM_FEATURES = "chosen_arm_features"


# The info namedtuples: fields named by `InfoFields`, in TF-Agents' order;
# every field defaults to () (absent), as in TF-Agents.
class PolicyInfo(NamedTuple):
    log_probability: Any = ()
    predicted_rewards_mean: Any = ()
    multiobjective_scalarized_predicted_rewards_mean: Any = ()
    predicted_rewards_optimistic: Any = ()
    predicted_rewards_sampled: Any = ()
    bandit_policy_type: Any = ()


class PerArmPolicyInfo(NamedTuple):
    log_probability: Any = ()
    predicted_rewards_mean: Any = ()
    multiobjective_scalarized_predicted_rewards_mean: Any = ()
    predicted_rewards_optimistic: Any = ()
    predicted_rewards_sampled: Any = ()
    bandit_policy_type: Any = ()
    chosen_arm_features: Any = ()


def populate_policy_info(
    arm_observations: Any,
    chosen_actions: tf.Tensor,
    rewards_for_argmax: tf.Tensor,
    est_rewards: tf.Tensor,
    emit_policy_info: Sequence[str],
    accepts_per_arm_features: bool,
) -> Any:
    """Builds the info of a bandit policy's step.

    Args:
      arm_observations: With per-arm features, a nest of ``[B, num_arms, ...]``
        per-arm features (otherwise unused).
      chosen_actions: ``[B]`` int indices of the chosen arms.
      rewards_for_argmax: ``[B, num_arms]`` estimates the arms were chosen by
        (optimistic or sampled).
      est_rewards: ``[B, num_arms]`` predicted mean rewards.
      emit_policy_info: The `InfoFields` names to fill; the others stay ``()``.
      accepts_per_arm_features: Whether to return a `PerArmPolicyInfo` whose
        ``chosen_arm_features`` holds the chosen arms' features ``[B, ...]``.

    Returns:
      A `PolicyInfo` or `PerArmPolicyInfo`.
    """

    def emitted(field: str, value: Any) -> Any:
        return value if field in emit_policy_info else ()

    fields = dict(
        predicted_rewards_optimistic=emitted(
            InfoFields.PREDICTED_REWARDS_OPTIMISTIC, rewards_for_argmax
        ),
        predicted_rewards_sampled=emitted(InfoFields.PREDICTED_REWARDS_SAMPLED, rewards_for_argmax),
        predicted_rewards_mean=emitted(InfoFields.PREDICTED_REWARDS_MEAN, est_rewards),
    )
    if not accepts_per_arm_features:
        return PolicyInfo(**fields)
    chosen_arm_features = tf.nest.map_structure(
        lambda t: tf.gather(params=t, indices=chosen_actions, batch_dims=1), arm_observations
    )
    return PerArmPolicyInfo(chosen_arm_features=chosen_arm_features, **fields)


class BanditPolicyType:
    """What made a bandit policy's decision (values of ``bandit_policy_type``)."""

    UNKNOWN = 0  # Not specified.
    GREEDY = 1  # The agent's greedy choice.
    UNIFORM = 2  # Uniform exploration (epsilon-greedy's random branch).
    BOLTZMANN = 3  # Boltzmann exploration.
    FALCON = 4  # FALCON.


def create_bandit_policy_type_tensor_spec(shape: Any) -> tensor_spec.BoundedTensorSpec:
    """The int32 `BoundedTensorSpec` of `BanditPolicyType` values, shaped `shape`."""
    return tensor_spec.BoundedTensorSpec(
        shape=shape,
        dtype=tf.int32,
        minimum=BanditPolicyType.UNKNOWN,
        maximum=BanditPolicyType.FALCON,
    )


@common.function
def masked_argmax(input_tensor: tf.Tensor, mask: tf.Tensor, output_type: tf.DType = tf.int32):
    """Row-wise argmax over the entries `mask` allows.

    Args:
      input_tensor: ``[B, K]`` floats.
      mask: ``[B, K]`` 0/1 (or boolean) values, shape-compatible with
        `input_tensor`.
      output_type: The integer dtype of the result.

    Returns:
      ``[B]`` indices of `output_type`; -1 for rows whose mask is all zero.
    """
    input_tensor.shape.assert_is_compatible_with(mask.shape)
    neg_inf = tf.constant(-float("inf"), input_tensor.dtype)
    allowed = tf.where(tf.cast(mask, tf.bool), input_tensor, neg_inf)
    argmax = tf.argmax(allowed, axis=-1, output_type=output_type)
    row_has_allowed = tf.cast(tf.reduce_max(mask, axis=1), tf.bool)
    return tf.where(row_has_allowed, argmax, tf.constant(-1, output_type))


def _has_field(info: Any, field: str, check_for_tensor: bool) -> bool:
    if not info:
        return False
    fields = getattr(info, "_fields", None)
    if fields is None or field not in fields:
        return False
    return isinstance(getattr(info, field), tf.Tensor) if check_for_tensor else True


def has_bandit_policy_type(info: Any, check_for_tensor: bool = False) -> bool:
    """Whether `info` (a namedtuple) has a ``bandit_policy_type`` field (holding a tensor)."""
    return _has_field(info, InfoFields.BANDIT_POLICY_TYPE, check_for_tensor)


def has_chosen_arm_features(info: Any, check_for_tensor: bool = False) -> bool:
    """Whether `info` (a namedtuple) has a ``chosen_arm_features`` field (holding a tensor)."""
    return _has_field(info, InfoFields.CHOSEN_ARM_FEATURES, check_for_tensor)


def set_bandit_policy_type(info: Any, bandit_policy_type: Any) -> Any:
    """Returns `info` with ``bandit_policy_type`` set, where `info` can hold it.

    Args:
      info: A namedtuple, a dict (updated in place), or empty (``()`` / None,
        giving a new `PolicyInfo`); other infos come back unchanged.
      bandit_policy_type: A tensor of `BanditPolicyType` values, or the spec
        from `create_bandit_policy_type_tensor_spec`.
    """
    if not info:
        return PolicyInfo(bandit_policy_type=bandit_policy_type)
    fields = getattr(info, "_fields", None)
    if fields is not None and InfoFields.BANDIT_POLICY_TYPE in fields:
        return info._replace(bandit_policy_type=bandit_policy_type)
    try:
        info[InfoFields.BANDIT_POLICY_TYPE] = bandit_policy_type
    except TypeError:  # Immutable infos (tuples, namedtuples without the field) stay as they are.
        pass
    return info


@common.function
def bandit_policy_uniform_mask(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """`values` (`BanditPolicyType` ints) with `BanditPolicyType.UNIFORM` where `mask` is true.

    `mask` is a boolean tensor shaped like `values`.
    """
    return tf.where(mask, tf.fill(tf.shape(values), BanditPolicyType.UNIFORM), values)


def get_model_index(arm_index: int, accepts_per_arm_features: bool) -> int:
    """The index of the reward model of arm `arm_index`.

    With per-arm features one model serves every arm (index 0); otherwise each
    arm has its own.
    """
    return 0 if accepts_per_arm_features else arm_index


def create_chosen_arm_features_info_spec(observation_spec: Any) -> Any:
    """The spec of one chosen arm's features: the ``'per_arm'`` spec without its arm dimension."""
    arm_spec = observation_spec[_PER_ARM_FEATURE_KEY]
    return tensor_spec.remove_outer_dims_nest(arm_spec, 1)


def check_no_mask_with_arm_features(
    accepts_per_arm_features: bool, observation_and_action_constraint_splitter: Any
) -> None:
    """Raises `NotImplementedError` when per-arm features and an action mask are combined."""
    if accepts_per_arm_features and observation_and_action_constraint_splitter is not None:
        raise NotImplementedError(
            "Action masking is not allowed for Bandit problems with arm features. To "
            "implement a policy that handles variable number of actions, please use the "
            f"`{_NUM_ACTIONS_FEATURE_KEY}` feature key."
        )

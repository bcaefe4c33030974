"""tfdrive.policies.utils: action-count checks, policy infos, bandit policy types, masked argmax."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import utils as policy_utilities
from tfdrive.specs import tensor_spec


def test_num_actions_from_spec_and_its_errors():
    spec = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 4)
    assert policy_utilities.get_num_actions_from_tensor_spec(spec) == 5
    bad = [
        (tensor_spec.TensorSpec((), tf.int32), "BoundedTensorSpec"),
        (tensor_spec.BoundedTensorSpec((1,), tf.int32, 0, 4), "scalar"),
        (tensor_spec.BoundedTensorSpec((), tf.float32, 0, 4), "int32 or int64"),
        (tensor_spec.BoundedTensorSpec((), tf.int32, 1, 4), "minimum 0"),
    ]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            policy_utilities.get_num_actions_from_tensor_spec(spec)


def test_masked_argmax_gives_minus_one_for_empty_rows():
    values = tf.constant([[3.0, 1.0, 2.0], [3.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    mask = tf.constant([[0, 1, 1], [1, 1, 1], [0, 0, 0]])
    result = policy_utilities.masked_argmax(values, mask, output_type=tf.int64)
    assert result.dtype == tf.int64
    np.testing.assert_array_equal(result.numpy(), [2, 0, -1])


def test_policy_infos_default_to_empty_fields():
    info = policy_utilities.PolicyInfo()
    assert all(field == () for field in info)
    assert policy_utilities.PerArmPolicyInfo._fields[-1] == "chosen_arm_features"


def test_populate_policy_info_fills_only_the_requested_fields():
    fields = policy_utilities.InfoFields
    rewards, means = tf.constant([[1.0, 2.0]]), tf.constant([[0.5, 0.5]])
    info = policy_utilities.populate_policy_info(
        (), tf.constant([1]), rewards, means, [fields.PREDICTED_REWARDS_MEAN], False
    )
    assert info.predicted_rewards_mean is means and info.predicted_rewards_optimistic == ()
    arms = tf.constant([[[1.0], [2.0]]])  # [B=1, arms=2, features=1]
    info = policy_utilities.populate_policy_info(
        arms, tf.constant([1]), rewards, means, [fields.PREDICTED_REWARDS_SAMPLED], True
    )
    assert info.predicted_rewards_sampled is rewards
    np.testing.assert_array_equal(info.chosen_arm_features.numpy(), [[2.0]])


def test_bandit_policy_type_helpers():
    types = policy_utilities.BanditPolicyType
    spec = policy_utilities.create_bandit_policy_type_tensor_spec((1,))
    assert (spec.dtype, spec.shape, int(spec.minimum), int(spec.maximum)) == (
        tf.int32,
        (1,),
        types.UNKNOWN,
        types.FALCON,
    )
    values = tf.constant([[types.GREEDY], [types.GREEDY]])
    masked = policy_utilities.bandit_policy_uniform_mask(values, tf.constant([[True], [False]]))
    np.testing.assert_array_equal(masked.numpy(), [[types.UNIFORM], [types.GREEDY]])

    info = policy_utilities.PolicyInfo(bandit_policy_type=values)
    assert policy_utilities.has_bandit_policy_type(info, check_for_tensor=True)
    assert not policy_utilities.has_bandit_policy_type(policy_utilities.PolicyInfo(), True)
    assert not policy_utilities.has_bandit_policy_type(())
    assert policy_utilities.set_bandit_policy_type((), 3) == policy_utilities.PolicyInfo(
        bandit_policy_type=3
    )
    as_dict = {"a": 1}
    assert policy_utilities.set_bandit_policy_type(as_dict, 2) == {"a": 1, "bandit_policy_type": 2}
    assert policy_utilities.set_bandit_policy_type((1, 2), 2) == (1, 2)


def test_per_arm_helpers():
    assert policy_utilities.get_model_index(3, accepts_per_arm_features=True) == 0
    assert policy_utilities.get_model_index(3, accepts_per_arm_features=False) == 3
    observation_spec = {"per_arm": tensor_spec.TensorSpec((5, 2), tf.float32)}
    arm_spec = policy_utilities.create_chosen_arm_features_info_spec(observation_spec)
    assert arm_spec.shape == (2,)
    policy_utilities.check_no_mask_with_arm_features(True, None)
    with pytest.raises(NotImplementedError, match="num_actions"):
        policy_utilities.check_no_mask_with_arm_features(True, lambda obs: obs)

"""FixedPolicy: the fixed action copied over any outer dims, log-probabilities, info."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import fixed_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

TS_SPEC = ts.time_step_spec(tensor_spec.TensorSpec([2], tf.float32))
ACT = {
    "a": tensor_spec.BoundedTensorSpec([2], tf.int32, 0, 3),
    "b": tensor_spec.TensorSpec([], tf.float32),
}


def test_action_is_replicated_over_outer_dims_with_zero_log_probs():
    policy = fixed_policy.FixedPolicy({"a": np.array([7, 1]), "b": 2}, TS_SPEC, ACT)
    time_step = ts.restart(tf.zeros([4, 3, 2]), batch_size=[4, 3])
    step = policy.action(time_step)
    # Not clipped to the spec: 7 stays 7.
    np.testing.assert_array_equal(step.action["a"], np.tile([7, 1], (4, 3, 1)))
    assert step.action["b"].dtype == tf.float32
    np.testing.assert_array_equal(step.action["b"], np.full((4, 3), 2.0))
    log_probability = policy_step.get_log_probability(step.info)
    np.testing.assert_array_equal(log_probability["a"], np.zeros((4, 3)))
    assert policy.variables() == ()

    mode = policy.distribution(time_step).action["a"].mode()
    np.testing.assert_array_equal(mode, np.tile([7, 1], (4, 3, 1)))


def test_info_without_log_probability():
    info_spec = {"x": tensor_spec.TensorSpec([], tf.int64)}
    policy = fixed_policy.FixedPolicy(
        {"a": np.zeros(2), "b": 0.0},
        TS_SPEC,
        ACT,
        emit_log_probability=False,
        policy_info={"x": tf.constant(5, tf.int64)},
        info_spec=info_spec,
    )
    step = policy.action(ts.restart(tf.zeros([2])))
    assert step.info["x"] == 5
    np.testing.assert_array_equal(step.action["a"], [0, 0])


def test_actions_must_match_the_spec_structure():
    with pytest.raises((ValueError, TypeError)):
        fixed_policy.FixedPolicy({"a": np.zeros(2)}, TS_SPEC, ACT)

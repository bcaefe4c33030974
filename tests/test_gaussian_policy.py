"""GaussianPolicy: additive noise with the given scale, clipping, spec checks."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import gaussian_policy, tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

TS_SPEC = ts.time_step_spec(tensor_spec.TensorSpec((1,), tf.float32))
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0)


class ConstantPolicy(tf_policy.TFPolicy):
    """Always ``[0.5, -0.5]``, with info 3.0."""

    def __init__(self, action_spec=CONTINUOUS):
        info_spec = tensor_spec.TensorSpec((), tf.float32)
        super().__init__(TS_SPEC, action_spec, info_spec=info_spec, clip=False)

    def _action(self, time_step, policy_state, seed=None):
        batch = tf.shape(time_step.discount)[0]
        action = tf.tile(tf.constant([[0.5, -0.5]]), [batch, 1])
        return policy_step.PolicyStep(action, policy_state, tf.fill([batch], 3.0))


def _time_step(batch=4):
    return ts.restart(tf.zeros((batch, 1)), batch_size=batch)


def test_noise_has_the_given_scale_and_info_passes_through():
    policy = gaussian_policy.GaussianPolicy(ConstantPolicy(), scale=0.01, clip=False)
    noise = [policy.action(_time_step()).action.numpy() - [0.5, -0.5] for _ in range(300)]
    noise = np.stack(noise)
    assert 0.008 < noise.std() < 0.012
    # One draw per call, shared by the batch entries.
    np.testing.assert_array_equal(noise[:, 0], noise[:, 1])
    np.testing.assert_array_equal(policy.action(_time_step()).info.numpy(), [3.0] * 4)


def test_clip_keeps_actions_in_bounds():
    policy = gaussian_policy.GaussianPolicy(ConstantPolicy(), scale=100.0)
    actions = policy.action(_time_step(64)).action.numpy()
    assert (actions >= -1.0).all() and (actions <= 1.0).all()
    with pytest.raises(NotImplementedError):
        policy.distribution(_time_step())


def test_discrete_action_specs_are_rejected():
    spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3)
    with pytest.raises(ValueError, match="only to continuous actions"):
        gaussian_policy.GaussianPolicy(ConstantPolicy(action_spec=spec))

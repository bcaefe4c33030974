"""OUNoisePolicy: temporally correlated noise, lazily created processes, spec checks."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import ou_noise_policy, tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

TS_SPEC = ts.time_step_spec(tensor_spec.TensorSpec((1,), tf.float32))
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -10.0, 10.0)


class ZeroPolicy(tf_policy.TFPolicy):
    def __init__(self, action_spec=CONTINUOUS):
        super().__init__(TS_SPEC, action_spec, clip=False)

    def _action(self, time_step, policy_state, seed=None):
        batch = tf.shape(time_step.discount)[0]
        return policy_step.PolicyStep(tf.zeros([batch, 2]), policy_state)


def _time_step(batch=3):
    return ts.restart(tf.zeros((batch, 1)), batch_size=batch)


def test_undamped_noise_is_a_random_walk_created_on_first_action():
    policy = ou_noise_policy.OUNoisePolicy(ZeroPolicy(), ou_stddev=0.1, ou_damping=0.0)
    assert len(policy.variables()) == 0
    walk = np.stack([policy.action(_time_step()).action.numpy() for _ in range(400)])
    np.testing.assert_array_equal(walk[:, 0], walk[:, 2])  # Shared by the batch.
    steps = np.diff(walk[:, 0], axis=0)
    assert 0.08 < steps.std() < 0.12
    assert len(policy.variables()) == 1  # The process state, one per action leaf.


def test_full_damping_gives_independent_noise():
    policy = ou_noise_policy.OUNoisePolicy(ZeroPolicy(), ou_stddev=1.0, ou_damping=1.0)
    noise = np.stack([policy.action(_time_step(1)).action.numpy()[0, 0] for _ in range(400)])
    assert abs(np.corrcoef(noise[:-1], noise[1:])[0, 1]) < 0.2
    assert 0.85 < noise.std() < 1.15


def test_discrete_specs_are_rejected_and_distribution_is_not_supported():
    spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3)
    with pytest.raises(ValueError, match="only to continuous actions"):
        ou_noise_policy.OUNoisePolicy(ZeroPolicy(action_spec=spec))
    with pytest.raises(NotImplementedError):
        ou_noise_policy.OUNoisePolicy(ZeroPolicy()).distribution(_time_step())

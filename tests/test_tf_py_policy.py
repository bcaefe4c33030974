"""TFPyPolicy: a numpy policy run through tf.numpy_function, eagerly and in tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import random_py_policy, tf_py_policy
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = array_spec.ArraySpec((2,), np.float32)
TS_SPEC = ts.time_step_spec(OBS)
ACT = array_spec.BoundedArraySpec((3,), np.int32, 0, 4)


def _time_step(batch):
    return ts.restart(tf.zeros([batch, 2]), batch_size=batch)


@pytest.mark.parametrize("compiled", [False, True])
def test_unbatched_py_policy_gets_unbatched_steps_and_state_passes(compiled):
    state_spec = array_spec.ArraySpec((4,), np.float32)
    seen = []

    class Recording(random_py_policy.RandomPyPolicy):
        def _action(self, time_step, policy_state, seed=None):
            seen.append(time_step.observation.shape)
            return super()._action(time_step, policy_state, seed)

    policy = tf_py_policy.TFPyPolicy(Recording(TS_SPEC, ACT, policy_state_spec=state_spec, seed=0))
    assert policy.action_spec == tensor_spec.from_spec(ACT)
    assert len(policy.variables()) == 0
    action = policy.action
    if compiled:
        action = tf.function(action)
    state = tf.fill([4], 2.0)
    step = action(_time_step(1), state)
    assert seen[-1] == (2,)
    assert step.action.dtype == tf.int32
    np.testing.assert_array_equal(np.shape(step.action), (1, 3))
    np.testing.assert_array_equal(step.state, [2.0] * 4)


def test_batched_py_policy_and_initial_state():
    py = random_py_policy.RandomPyPolicy(TS_SPEC, ACT, seed=0)
    policy = tf_py_policy.TFPyPolicy(py, py_policy_is_batched=True)
    assert policy.get_initial_state(batch_size=2) == ()
    step = policy.action(_time_step(2))
    np.testing.assert_array_equal(np.shape(step.action), (2, 3))

    stateful = random_py_policy.RandomPyPolicy(
        TS_SPEC, ACT, policy_state_spec=array_spec.ArraySpec((4,), np.int64)
    )
    state = tf_py_policy.TFPyPolicy(stateful).get_initial_state(batch_size=3)
    assert state.dtype == tf.int64
    np.testing.assert_array_equal(state, np.zeros((3, 4)))


def test_errors():
    with pytest.raises(TypeError, match="should implement py_policy.PyPolicy"):
        tf_py_policy.TFPyPolicy(object())
    policy = tf_py_policy.TFPyPolicy(random_py_policy.RandomPyPolicy(TS_SPEC, ACT))
    with pytest.raises(NotImplementedError, match="seed is not supported"):
        policy.action(_time_step(1), seed=3)
    with pytest.raises(NotImplementedError, match="does not support distribution"):
        policy.distribution(_time_step(1))

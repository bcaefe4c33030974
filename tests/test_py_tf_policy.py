"""PyTFPolicy: a TFPolicy run in a TF1 graph and session, numpy in and out."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import fixed_policy, py_tf_policy
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec([2], tf.float32, "obs")
TS_SPEC = ts.time_step_spec(OBS)
ACT = tensor_spec.BoundedTensorSpec([3], tf.int32, 0, 9, "action")


def _policy_in(graph):
    with graph.as_default():
        return py_tf_policy.PyTFPolicy(fixed_policy.FixedPolicy(np.array([1, 2, 3]), TS_SPEC, ACT))


def test_specs_are_array_specs():
    policy = py_tf_policy.PyTFPolicy(fixed_policy.FixedPolicy(np.array([1, 2, 3]), TS_SPEC, ACT))
    assert policy.action_spec == array_spec.BoundedArraySpec((3,), np.int32, 0, 9, "action")
    assert policy.time_step_spec.observation == array_spec.ArraySpec((2,), np.float32, "obs")
    with pytest.raises(AttributeError, match="No TensorFlow session-like object was set"):
        policy.session  # noqa: B018


@pytest.mark.parametrize("batch_size", [None, 4])
def test_action_in_a_session_builds_from_the_time_step(batch_size):
    graph = tf.Graph()
    policy = _policy_in(graph)
    observation = np.zeros((2,) if batch_size is None else (batch_size, 2), np.float32)
    time_step = ts.restart(observation, batch_size=batch_size)
    with graph.as_default(), tf.compat.v1.Session(graph=graph).as_default():
        step = policy.action(time_step)
        expected = [1, 2, 3] if batch_size is None else [[1, 2, 3]] * batch_size
        np.testing.assert_array_equal(step.action, expected)
        assert isinstance(step.action, np.ndarray)
        with pytest.raises(RuntimeError, match="initialized once"):
            policy.initialize(batch_size)
        with pytest.raises(ValueError, match="batch size of time_step is different"):
            policy.action(ts.restart(np.zeros((5, 2), np.float32), batch_size=5))
        with pytest.raises(ValueError, match="passed to the class"):
            policy.action(time_step, seed=1)


def test_save_and_restore_need_initialize(tmp_path):
    policy = _policy_in(tf.Graph())
    with pytest.raises(RuntimeError, match="not been initialized"):
        policy.save(str(tmp_path))
    with pytest.raises(RuntimeError, match="initialized before being restored"):
        policy.restore(str(tmp_path))

"""TFPyEnvironment (tfdrive.environments.tf_py_environment): native, wrapped and
foreign environments, accepted by structure; the TypeError for anything else."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.environments import native, test_envs, tf_py_environment, utils, wrappers


def test_native_env_through_a_wrapper_steps_in_tf():
    env = tf_py_environment.TFPyEnvironment(wrappers.TimeLimit(native.make("CartPole-v1", 4), 2))
    assert env.batch_size == 4 and env.batched
    first = env.reset()
    assert first.observation.shape == (4, 4) and first.observation.dtype == tf.float32
    env.step(tf.zeros([4], tf.int64))
    last = env.step(tf.ones([4], tf.int64))
    np.testing.assert_array_equal(last.step_type.numpy(), [2, 2, 2, 2])
    assert env.duration == 2  # forwarded to the wrapped PyEnvironment


def test_unbatched_env_gets_a_leading_batch_of_one_and_check_dims():
    env = tf_py_environment.TFPyEnvironment(test_envs.CountingEnv(), check_dims=True)
    assert env.batch_size == 1
    env.reset()
    assert env.step(tf.constant([0], tf.int32)).observation.numpy().tolist() == [1]
    with pytest.raises(ValueError, match=r"major dimension is batch_size \(1\)"):
        env.step(tf.constant(0, tf.int32))


def test_isolation_runs_the_env_on_its_own_thread():
    env = tf_py_environment.TFPyEnvironment(test_envs.CountingEnv, isolation=True)
    assert int(env.reset().step_type[0]) == 0
    env.close()
    with pytest.raises(TypeError, match="isolation should be True, False"):
        tf_py_environment.TFPyEnvironment(test_envs.CountingEnv(), isolation="yes")


def test_non_environments_are_rejected_by_structure():
    with pytest.raises(TypeError, match="Environment should implement py_environment"):
        tf_py_environment.TFPyEnvironment(object())
    tf_env = tf_py_environment.TFPyEnvironment(test_envs.CountingEnv())
    with pytest.raises(TypeError, match="Environment should implement py_environment"):
        tf_py_environment.TFPyEnvironment(tf_env)
    assert utils.get_tf_env(tf_env) is tf_env
    with pytest.raises(ValueError, match="cannot be None"):
        utils.get_tf_env(None)

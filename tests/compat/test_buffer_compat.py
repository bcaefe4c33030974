"""TrajectoryBuffer against TF-Agents: as an observer of its PyDriver, and beside
its `TFUniformReplayBuffer` (same add order, wrap-around, gather_all, probabilities).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from compat_helpers import Recorder, assert_nest_equal
from tf_agents.drivers import py_driver as tfa_py_driver
from tf_agents.drivers import test_utils as tfa_mocks
from tf_agents.environments import batched_py_environment as tfa_batched
from tf_agents.environments import suite_gym as tfa_suite_gym
from tf_agents.policies import py_tf_eager_policy as tfa_eager
from tf_agents.policies import random_tf_policy as tfa_random_tf_policy
from tf_agents.replay_buffers import tf_uniform_replay_buffer as tfa_rb
from tf_agents.specs import tensor_spec as tfa_tensor_spec
from tf_agents.trajectories import time_step as tfa_ts

from tfdrive.drivers import py_driver
from tfdrive.replay_buffers import TrajectoryBuffer


def stacked(spec, items, batch_size):
    """Delivered trajectories as the `[B, n, ...]` nest a buffer holds."""
    return tf.nest.map_structure(
        lambda s, *xs: np.stack(
            [np.asarray(x, s.dtype).reshape((batch_size, *s.shape)) for x in xs], axis=1
        ),
        spec,
        *items,
    )


def make_cartpole():
    env = tfa_suite_gym.load("CartPole-v1")
    env.seed(3)
    tf_policy = tfa_random_tf_policy.RandomTFPolicy(
        tfa_ts.time_step_spec(tfa_tensor_spec.from_spec(env.observation_spec())),
        tfa_tensor_spec.from_spec(env.action_spec()),
        emit_log_probability=True,
    )
    policy = tfa_eager.PyTFEagerPolicy(tf_policy, use_tf_function=True)
    return env, policy, env.reset(), (), 1


def make_batched_mocks(batch_size=3):
    envs = [tfa_mocks.PyEnvironmentMock(final_state=3 + i) for i in range(batch_size)]
    env = tfa_batched.BatchedPyEnvironment(envs, multithreading=False)
    state = np.full(batch_size, 2, np.int32)
    policy = tfa_mocks.PyPolicyMock(
        env.time_step_spec(), env.action_spec(), initial_policy_state=state
    )
    return env, policy, env.reset(), state, batch_size


@pytest.mark.parametrize("make", [make_cartpole, make_batched_mocks])
@pytest.mark.parametrize("driver_cls", [tfa_py_driver.PyDriver, py_driver.PyDriver])
@pytest.mark.parametrize("max_length", [1000, 7])
def test_buffer_holds_what_the_driver_delivers(make, driver_cls, max_length):
    env, policy, time_step, state, batch_size = make()
    recorder = Recorder()
    buffer = TrajectoryBuffer(policy.collect_data_spec, batch_size, max_length)
    driver = driver_cls(env, policy, [recorder, buffer], max_steps=30)
    driver.run(time_step, state)
    assert len(recorder.items) > 7
    want = stacked(policy.collect_data_spec, recorder.items[-max_length:], batch_size)
    assert_nest_equal(buffer.gather_all(), want)
    assert type(buffer.gather_all()) is type(policy.collect_data_spec)  # the spec's nest types


@pytest.mark.parametrize("count", [3, 5, 12])  # partly full, exactly full, wrapped
def test_same_contents_as_tf_uniform_replay_buffer(count):
    spec = {
        "x": tf.TensorSpec((2,), tf.float32),
        "n": (tf.TensorSpec((), tf.int64), tf.TensorSpec((3,), tf.uint8)),
    }
    batch_size, max_length = 2, 5
    tfa_buffer = tfa_rb.TFUniformReplayBuffer(spec, batch_size, max_length=max_length)
    buffer = TrajectoryBuffer(spec, batch_size, max_length)
    for k in range(count):
        items = {
            "x": np.arange(4, dtype=np.float32).reshape(2, 2) + k,
            "n": (np.array([k, 100 + k]), np.full((2, 3), k, np.uint8)),
        }
        tfa_buffer.add_batch(tf.nest.map_structure(tf.constant, items))
        buffer.add_batch(items)
    want = tf.nest.map_structure(lambda t: t.numpy(), tfa_buffer.gather_all())
    assert_nest_equal(buffer.gather_all(), want)
    assert buffer.num_frames() == int(tfa_buffer.num_frames())
    assert buffer.capacity == tfa_buffer.capacity
    for num_steps in (None, 1, 3):
        _, tfa_info = tfa_buffer.get_next(sample_batch_size=4, num_steps=num_steps)
        items, info = buffer.get_next(4, num_steps, rng=0)
        np.testing.assert_allclose(info.probabilities, tfa_info.probabilities.numpy())
        assert info.ids.shape == tuple(tfa_info.ids.shape)
        # An item's id is the index of the batch it came with.
        np.testing.assert_array_equal(info.ids, items["n"][0] % 100)


def test_as_dataset_element_spec_matches_tf_uniform_replay_buffer():
    spec = {"x": tf.TensorSpec((2,), tf.float32), "n": tf.TensorSpec((), tf.int64)}
    tfa_buffer = tfa_rb.TFUniformReplayBuffer(spec, 2, max_length=5)
    buffer = TrajectoryBuffer(spec, 2, 5)
    for sample_batch_size, num_steps in [(None, None), (4, None), (4, 2), (None, 3)]:
        got = buffer.as_dataset(sample_batch_size, num_steps).element_spec
        want = tfa_buffer.as_dataset(sample_batch_size, num_steps).element_spec
        assert got[0] == want[0]
        assert got[1].ids == want[1].ids
        assert got[1].probabilities == want[1].probabilities

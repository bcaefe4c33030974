"""tfdrive's TF drivers against TF-Agents' on the same TF env and seeded policy.

Both drivers run a freshly built `TFPyEnvironment` (TF-Agents' mock env:
batched counting observations, episodes of fixed length) with a
`RandomTFPolicy` whose draws are seeded alike (the drivers run eagerly, so
the global seed fixes the sequence); every trajectory and transition they
deliver, and the returned time step, must be equal leaf by leaf.
"""

from __future__ import annotations

import pytest
import tensorflow as tf
from compat_helpers import Recorder, assert_nest_equal
from tf_agents.drivers import dynamic_episode_driver as tfa_episode_driver
from tf_agents.drivers import dynamic_step_driver as tfa_step_driver
from tf_agents.drivers import test_utils as tfa_mocks
from tf_agents.drivers import tf_driver as tfa_tf_driver
from tf_agents.environments import batched_py_environment as tfa_batched
from tf_agents.environments import tf_py_environment as tfa_tf_py_env
from tf_agents.policies import random_tf_policy as tfa_random_tf_policy

from tfdrive.drivers import dynamic_episode_driver, dynamic_step_driver, tf_driver


def make(batch_size):
    py_env = tfa_batched.BatchedPyEnvironment(
        [tfa_mocks.PyEnvironmentMock(final_state=3) for _ in range(batch_size)]
    )
    env = tfa_tf_py_env.TFPyEnvironment(py_env)
    policy = tfa_random_tf_policy.RandomTFPolicy(env.time_step_spec(), env.action_spec())
    return env, policy


def collect(driver_cls, batch_size, run, **kwargs):
    env, policy = make(batch_size)
    traj, trans = Recorder(), Recorder()
    driver = driver_cls(env, policy, observers=[traj], transition_observers=[trans], **kwargs)
    tf.random.set_seed(7)  # The policy's draws: the same sequence for both drivers.
    time_step, _ = run(driver, env)
    return traj.items, trans.items, time_step


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize(
    "ours, theirs, kwargs, run",
    [
        (
            dynamic_step_driver.DynamicStepDriver,
            tfa_step_driver.DynamicStepDriver,
            {"num_steps": 7},
            lambda driver, env: driver.run(),
        ),
        (
            dynamic_episode_driver.DynamicEpisodeDriver,
            tfa_episode_driver.DynamicEpisodeDriver,
            {"num_episodes": 2},
            lambda driver, env: driver.run(),
        ),
        (
            tf_driver.TFDriver,
            tfa_tf_driver.TFDriver,
            {"max_steps": 6, "disable_tf_function": True},
            lambda driver, env: driver.run(env.reset()),
        ),
    ],
)
def test_tf_drivers_deliver_what_tf_agents_drivers_deliver(batch_size, ours, theirs, kwargs, run):
    got = collect(ours, batch_size, run, **kwargs)
    want = collect(theirs, batch_size, run, **kwargs)
    assert len(got[0]) == len(want[0]) > 0
    assert_nest_equal(got, want)


def test_a_python_environment_is_rejected_by_name():
    env, policy = make(1)
    with pytest.raises(
        ValueError, match="DynamicStepDriver needs a TF environment.*PyEnvironmentMock"
    ):
        dynamic_step_driver.DynamicStepDriver(env.pyenv.envs[0], policy)
    with pytest.raises(ValueError, match="TFDriver needs a TF environment"):
        tf_driver.TFDriver(env.pyenv, policy, [], max_steps=1)

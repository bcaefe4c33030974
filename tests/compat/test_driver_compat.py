"""tfdrive's PyDriver against TF-Agents' PyDriver, on TF-Agents' own envs and policies.

Both drivers run the same freshly built env/policy pair from the same start;
every trajectory, transition and info they deliver must be equal field by
field (values, dtypes, shapes), and so must the returned time step and state.
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
from tf_agents.trajectories import policy_step as tfa_policy_step
from tf_agents.trajectories import time_step as tfa_ts
from tf_agents.trajectories import trajectory as tfa_trajectory

from tfdrive.drivers import py_driver
from tfdrive.trajectories import trajectory


def collect(driver_cls, make, run_kwargs, runs=1, **driver_kwargs):
    """Builds a fresh env/policy, runs `driver_cls` `runs` times, returns everything seen."""
    env, policy, time_step, policy_state = make()
    traj, trans, info = Recorder(), Recorder(), Recorder()
    driver = driver_cls(
        env, policy, [traj], transition_observers=[trans], info_observers=[info], **driver_kwargs
    )
    results = []
    for _ in range(runs):
        time_step, policy_state = driver.run(time_step, policy_state, **run_kwargs)
        results.append((time_step, policy_state))
    return traj.items, trans.items, info.items, results, policy


def compare(make, runs=1, **driver_kwargs):
    want = collect(tfa_py_driver.PyDriver, make, {}, runs, **driver_kwargs)
    got = collect(py_driver.PyDriver, make, {}, runs, **driver_kwargs)
    want_traj, want_trans, want_info, want_results, want_policy = want
    got_traj, got_trans, got_info, got_results, got_policy = got
    assert len(got_traj) == len(want_traj) > 0
    for g, w in zip(got_traj, want_traj):
        assert type(g) is trajectory.Trajectory
        assert g._fields == w._fields
        assert_nest_equal(g, w)
        # tfdrive's trajectory passes TF-Agents' structure checks too.
        tf.nest.assert_same_structure(g, w)
    assert len(got_trans) == len(want_trans)
    for (gts, gas, gnts), (wts, was, wnts) in zip(got_trans, want_trans):
        assert_nest_equal(gts, wts)
        assert_nest_equal(tuple(gas), tuple(was))
        assert_nest_equal(gnts, wnts)
    assert len(got_info) == len(want_info)
    for g, w in zip(got_info, want_info):
        assert_nest_equal(g, w)
    for (gts, gps), (wts, wps) in zip(got_results, want_results):
        assert_nest_equal(gts, wts)
        assert_nest_equal(gps, wps)
    if hasattr(want_policy, "get_initial_state_call_count"):
        assert got_policy.get_initial_state_call_count == want_policy.get_initial_state_call_count
    return got


def make_mocks(final_state=3):
    def make():
        env = tfa_mocks.PyEnvironmentMock(final_state=final_state)
        policy = tfa_mocks.PyPolicyMock(env.time_step_spec(), env.action_spec())
        return env, policy, env.reset(), np.int32(2)

    return make


@pytest.mark.parametrize(
    "max_steps, max_episodes",
    [(None, 1), (None, 2), (2, 2), (4, 2), (4, 1), (4, None), (7, None), (None, 5)],
)
def test_mock_env_and_policy(max_steps, max_episodes):
    compare(make_mocks(), max_steps=max_steps, max_episodes=max_episodes)


@pytest.mark.parametrize("end_episode_on_boundary", [True, False])
def test_consecutive_runs_and_episode_ends(end_episode_on_boundary):
    compare(
        make_mocks(final_state=4),
        runs=3,
        max_episodes=2,
        end_episode_on_boundary=end_episode_on_boundary,
    )


def make_batched(batch_size=3):
    def make():
        envs = [tfa_mocks.PyEnvironmentMock(final_state=3 + i) for i in range(batch_size)]
        env = tfa_batched.BatchedPyEnvironment(envs, multithreading=False)
        policy = tfa_mocks.PyPolicyMock(
            env.time_step_spec(),
            env.action_spec(),
            initial_policy_state=np.full(batch_size, 2, np.int32),
        )
        return env, policy, env.reset(), np.full(batch_size, 2, np.int32)

    return make


@pytest.mark.parametrize("max_steps, max_episodes", [(10, None), (None, 4), (7, 2)])
def test_batched_env(max_steps, max_episodes):
    compare(make_batched(), runs=2, max_steps=max_steps, max_episodes=max_episodes)


def make_cartpole(seed=7):
    def make():
        env = tfa_suite_gym.load("CartPole-v1")
        env.seed(seed)
        time_step = env.reset()
        tf_policy = tfa_random_tf_policy.RandomTFPolicy(
            tfa_ts.time_step_spec(_tensor_spec(env.observation_spec())),
            _tensor_spec(env.action_spec()),
            emit_log_probability=True,
        )
        policy = tfa_eager.PyTFEagerPolicy(tf_policy, use_tf_function=True)
        tf.random.set_seed(seed)
        return env, policy, time_step, ()

    return make


def _tensor_spec(spec):
    from tf_agents.specs import tensor_spec

    return tensor_spec.from_spec(spec)


def test_cartpole_with_a_py_tf_eager_policy_under_a_fixed_seed():
    traj, *_ = compare(make_cartpole(), runs=2, max_steps=60)
    assert traj[0].observation.shape == (4,)
    assert traj[0].observation.dtype == np.float32
    assert "log_probability" in traj[0].policy_info._fields


def test_trajectory_types_match_tf_agents_specs():
    env = tfa_mocks.PyEnvironmentMock()
    policy = tfa_mocks.PyPolicyMock(env.time_step_spec(), env.action_spec())
    rec = Recorder()
    py_driver.PyDriver(env, policy, [rec], max_steps=3).run(env.reset(), np.int32(2))
    for traj in rec.items:
        tf.nest.assert_same_structure(traj, policy.trajectory_spec)
        assert isinstance(traj, tuple) and traj._fields == tfa_trajectory.Trajectory._fields
    step = tfa_policy_step.PolicyStep(1, 2, 3)
    assert step._fields == ("action", "state", "info")


def test_errors_match_tf_agents():
    env = tfa_mocks.PyEnvironmentMock()
    policy = tfa_mocks.PyPolicyMock(env.time_step_spec(), env.action_spec())
    with pytest.raises(ValueError) as tfa_err:
        tfa_py_driver.PyDriver(env, policy, [], max_steps=None, max_episodes=0)
    with pytest.raises(ValueError) as err:
        py_driver.PyDriver(env, policy, [], max_steps=None, max_episodes=0)
    assert str(err.value) == str(tfa_err.value)

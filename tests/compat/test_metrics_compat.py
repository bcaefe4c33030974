"""tfdrive's native py_metrics against TF-Agents' py_metrics on the same runs."""

from __future__ import annotations

import numpy as np
import pytest
from tf_agents.drivers import py_driver as tfa_py_driver
from tf_agents.drivers import test_utils as tfa_mocks
from tf_agents.environments import batched_py_environment as tfa_batched
from tf_agents.metrics import py_metrics as tfa_metrics

from tfdrive.drivers import py_driver
from tfdrive.metrics import py_metrics

PAIRS = [
    ("AverageReturnMetric", {"buffer_size": 3}),
    ("AverageReturnMetric", {}),
    ("AverageEpisodeLengthMetric", {"buffer_size": 4}),
    ("AverageEpisodeLengthMetric", {"buffer_size": np.inf}),
    ("EnvironmentSteps", {}),
    ("NumberOfEpisodes", {}),
]


def make_pairs():
    return [
        (getattr(tfa_metrics, name)(**kwargs), getattr(py_metrics, name)(**kwargs))
        for name, kwargs in PAIRS
    ]


def assert_same_results(pairs):
    for want, got in pairs:
        w, g = want.result(), got.result()
        assert np.asarray(g).dtype == np.asarray(w).dtype, type(got).__name__
        np.testing.assert_array_equal(g, w, err_msg=type(got).__name__)


def make_env(batch_size):
    if batch_size is None:
        env = tfa_mocks.PyEnvironmentMock(final_state=5)
        state = np.int32(2)
    else:
        envs = [tfa_mocks.PyEnvironmentMock(final_state=3 + i) for i in range(batch_size)]
        env = tfa_batched.BatchedPyEnvironment(envs, multithreading=False)
        state = np.full(batch_size, 2, np.int32)
    policy = tfa_mocks.PyPolicyMock(
        env.time_step_spec(), env.action_spec(), initial_policy_state=state
    )
    return env, policy, state


@pytest.mark.parametrize("batch_size", [None, 1, 4])
@pytest.mark.parametrize("driver_cls", [tfa_py_driver.PyDriver, py_driver.PyDriver])
def test_metrics_agree_on_the_same_run(driver_cls, batch_size):
    env, policy, state = make_env(batch_size)
    pairs = make_pairs()
    observers = [m for pair in pairs for m in pair]
    driver = driver_cls(env, policy, observers, max_steps=7)
    time_step = env.reset()
    for _ in range(5):  # episodes cross run() calls
        time_step, state = driver.run(time_step, state)
        assert_same_results(pairs)
    assert pairs[-1][1].result() > 0  # some episodes finished


def test_reset_agrees():
    env, policy, state = make_env(2)
    pairs = make_pairs()
    driver = py_driver.PyDriver(env, policy, [m for p in pairs for m in p], max_steps=9)
    time_step, state = driver.run(env.reset(), state)
    for want, got in pairs:
        want.reset()
        got.reset()
    assert_same_results(pairs)
    driver.run(time_step, state)
    assert_same_results(pairs)

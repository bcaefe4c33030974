"""Differential tests: tfdrive's environments against TF-Agents 0.19.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26, gym and
gymnasium): `python -m pytest tests/compat/test_environments_compat.py -o addopts=""`.
- Specs: `suite_gymnasium.load(name)` and `native.make(name, B)` give the
  specs TF-Agents' `suite_gym.load(name)` gives (values, dtypes, names).
- PyEnvironment: the same subclass on either base class returns the same
  time steps for the same calls (step before reset, handle_auto_reset).
- BatchedPyEnvironment: the same sub-environments batched by either give the
  same stacked time steps, infos and errors.
"""

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
from tf_agents.environments import batched_py_environment as tfa_batched  # noqa: E402
from tf_agents.environments import py_environment as tfa_py_environment  # noqa: E402
from tf_agents.environments import suite_gym as tfa_suite_gym  # noqa: E402
from tf_agents.specs import array_spec as tfa_array_spec  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402

from tfdrive.environments import (  # noqa: E402
    batched_py_environment,
    native,
    py_environment,
    suite_gymnasium,
)
from tfdrive.specs import array_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402

NAMES = ["CartPole-v1", "Pendulum-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1"]


def assert_same_spec(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    assert ours.name == theirs.name
    if hasattr(theirs, "minimum"):
        np.testing.assert_array_equal(ours.minimum, theirs.minimum)
        np.testing.assert_array_equal(ours.maximum, theirs.maximum)
        assert ours.minimum.dtype == theirs.minimum.dtype
        assert ours.minimum.shape == theirs.minimum.shape


def assert_same_time_step_spec(ours, theirs):
    for field in ("step_type", "reward", "discount", "observation"):
        assert_same_spec(getattr(ours, field), getattr(theirs, field))


@pytest.mark.parametrize("name", NAMES)
def test_suite_gymnasium_and_native_specs_match_suite_gym(name):
    theirs = tfa_suite_gym.load(name)
    for ours in (suite_gymnasium.load(name), native.make(name, 3)):
        assert_same_spec(ours.action_spec(), theirs.action_spec())
        assert_same_spec(ours.observation_spec(), theirs.observation_spec())
        assert_same_time_step_spec(ours.time_step_spec(), theirs.time_step_spec())
        assert_same_spec(ours.reward_spec(), theirs.reward_spec())
        assert_same_spec(ours.discount_spec(), theirs.discount_spec())


def _scripted(base, ts_module, spec_module, handle_auto_reset):
    class Scripted(base):
        """Observation = step count; LAST after 2 steps."""

        def __init__(self):
            super().__init__(handle_auto_reset)
            self.count = 0
            self.actions = []

        def observation_spec(self):
            return spec_module.ArraySpec((1,), np.float32, name="observation")

        def action_spec(self):
            return spec_module.BoundedArraySpec((), np.int64, 0, 3, name="action")

        def _reset(self):
            self.count = 0
            return ts_module.restart(np.zeros(1, np.float32))

        def _step(self, action):
            self.actions.append(int(action))
            self.count += 1
            obs = np.full(1, self.count, np.float32)
            if self.count >= 2:
                return ts_module.termination(obs, np.float32(self.count))
            return ts_module.transition(obs, np.float32(self.count), discount=0.5)

        def get_info(self):
            return {"count": np.array(self.count)}

    return Scripted()


def assert_same_time_step(ours, theirs):
    for field in ("step_type", "reward", "discount", "observation"):
        a, b = np.asarray(getattr(ours, field)), np.asarray(getattr(theirs, field))
        assert a.dtype == b.dtype, field
        assert a.shape == b.shape, field
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("handle_auto_reset", [False, True])
def test_py_environment_base_matches(handle_auto_reset):
    ours = _scripted(py_environment.PyEnvironment, ts, array_spec, handle_auto_reset)
    theirs = _scripted(tfa_py_environment.PyEnvironment, tfa_ts, tfa_array_spec, handle_auto_reset)
    for action in [1, 2, 3, 1, 2, 3, 0]:
        assert_same_time_step(ours.step(np.int64(action)), theirs.step(np.int64(action)))
        assert_same_time_step(ours.current_time_step(), theirs.current_time_step())
    assert ours.actions == theirs.actions
    assert ours.batched == theirs.batched and ours.batch_size == theirs.batch_size
    assert_same_time_step(ours.reset(), theirs.reset())
    for method in ("render", "get_state"):
        with pytest.raises(NotImplementedError):
            getattr(ours, method)()
        with pytest.raises(NotImplementedError):
            getattr(theirs, method)()


def test_batched_py_environment_matches():
    n = 3
    ours = batched_py_environment.BatchedPyEnvironment(
        [_scripted(py_environment.PyEnvironment, ts, array_spec, True) for _ in range(n)]
    )
    theirs = tfa_batched.BatchedPyEnvironment(
        [
            _scripted(tfa_py_environment.PyEnvironment, tfa_ts, tfa_array_spec, True)
            for _ in range(n)
        ],
        multithreading=False,
    )
    assert ours.batched == theirs.batched and ours.batch_size == theirs.batch_size
    rng = np.random.default_rng(0)
    assert_same_time_step(ours.reset(), theirs.reset())
    for _ in range(7):
        actions = rng.integers(0, 4, n)
        assert_same_time_step(ours.step(actions), theirs.step(actions))
        np.testing.assert_array_equal(ours.get_info()["count"], theirs.get_info()["count"])
    with pytest.raises(ValueError, match="Primary dimension of action items does not match"):
        ours.step(np.zeros(n + 1, np.int64))
    with pytest.raises(ValueError, match="Primary dimension of action items does not match"):
        theirs.step(np.zeros(n + 1, np.int64))
    theirs.close()


def test_batched_gymnasium_cartpole_matches_per_env_wrappers():
    """The Rust Gymnasium path against TF-Agents' batching of the same wrappers."""
    n = 4

    def make():
        envs = [suite_gymnasium.load("CartPole-v1") for _ in range(n)]
        for i, env in enumerate(envs):
            env.seed(i)
        return envs

    ours = batched_py_environment.BatchedPyEnvironment(make())
    theirs = tfa_batched.BatchedPyEnvironment(make(), multithreading=False)
    assert ours._core.gymnasium_path
    rng = np.random.default_rng(1)
    assert_same_time_step(ours.reset(), theirs.reset())
    for _ in range(150):
        actions = rng.integers(0, 2, n)
        assert_same_time_step(ours.step(actions), theirs.step(actions))
    theirs.close()

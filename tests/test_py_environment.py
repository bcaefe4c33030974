"""The PyEnvironment base class (tfdrive.environments.py_environment)."""

import numpy as np
import pytest

from tfdrive import environments
from tfdrive.environments import py_environment
from tfdrive.environments.py_environment import PyEnvironment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts


class Env(PyEnvironment):
    """Ends after two steps; records actions."""

    def __init__(self, handle_auto_reset=False):
        super().__init__(handle_auto_reset)
        self.actions = []
        self.resets = 0
        self.count = 0

    def observation_spec(self):
        return array_spec.ArraySpec((2,), np.float32, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int64, 0, 1, name="action")

    def _reset(self):
        self.resets += 1
        self.count = 0
        return ts.restart(np.zeros(2, np.float32))

    def _step(self, action):
        self.actions.append(action)
        self.count += 1
        obs = np.full(2, self.count, np.float32)
        if self.count >= 2:
            return ts.termination(obs, 1.0)
        return ts.transition(obs, 1.0)


class BatchedEnv(Env):
    @property
    def batched(self):
        return True


def test_abstract_methods_required():
    with pytest.raises(TypeError):
        PyEnvironment()


def test_overriding_step_or_reset_is_refused():
    class Bad(Env):
        def step(self, action):
            return None

    with pytest.raises(
        ValueError, match=r"cannot override most of its base members, but .* overrides: \['step'\]"
    ):
        Bad()


def test_default_specs():
    env = Env()
    assert env.reward_spec() == array_spec.ArraySpec((), np.float32)
    assert env.reward_spec().name == "reward"
    discount = env.discount_spec()
    assert discount == array_spec.BoundedArraySpec((), np.float32, 0.0, 1.0)
    assert discount.name == "discount"
    spec = env.time_step_spec()
    assert spec.step_type == array_spec.ArraySpec((), np.int32)
    assert spec.observation == env.observation_spec()
    assert spec.reward == env.reward_spec()


def test_batched_defaults():
    env = Env()
    assert env.batched is False
    assert env.batch_size is None
    with pytest.raises(
        RuntimeError, match="marked itself as batched but did not override the batch_size"
    ):
        BatchedEnv().batch_size  # noqa: B018


def test_step_before_reset_resets_and_ignores_action():
    env = Env()
    with pytest.raises(ValueError, match="Current timestep not initialized."):
        env.current_time_step()
    first = env.step(np.int64(1))
    assert first.step_type == ts.StepType.FIRST
    assert env.actions == [] and env.resets == 1
    assert env.current_time_step() is first


def test_step_caches_current_time_step():
    env = Env()
    env.reset()
    mid = env.step(np.int64(0))
    assert mid.step_type == ts.StepType.MID
    assert env.current_time_step() is mid
    assert env.actions == [0]


def test_without_handle_auto_reset_subclass_decides():
    env = Env(handle_auto_reset=False)
    env.reset()
    env.step(0)
    assert env.step(1).is_last()
    # The base class does not reset: _step is called again.
    env.step(1)
    assert env.actions == [0, 1, 1] and env.resets == 1


def test_handle_auto_reset_resets_after_last():
    env = Env(handle_auto_reset=True)
    env.reset()
    env.step(0)
    assert env.step(1).is_last()
    nxt = env.step(1)
    assert nxt.step_type == ts.StepType.FIRST
    assert env.actions == [0, 1] and env.resets == 2
    assert env.should_reset(nxt) is False


def test_should_reset_needs_every_batch_entry_last():
    env = Env(handle_auto_reset=True)
    last = ts.TimeStep(np.array([2, 1], np.int32), np.zeros(2), np.zeros(2), np.zeros(2))
    assert env.should_reset(last) is False
    assert env.should_reset(last._replace(step_type=np.array([2, 2], np.int32))) is True


def test_optional_methods_raise():
    env = Env()
    with pytest.raises(NotImplementedError, match="No rendering support."):
        env.render()
    with pytest.raises(NotImplementedError, match="No seed support for this environment."):
        env.seed(1)
    with pytest.raises(NotImplementedError, match="No support of get_info for this environment."):
        env.get_info()
    with pytest.raises(NotImplementedError, match="has not implemented `get_state\\(\\)`"):
        env.get_state()
    with pytest.raises(NotImplementedError, match="has not implemented `set_state\\(\\)`"):
        env.set_state(None)


def test_context_manager_closes():
    closed = []

    class Closing(Env):
        def close(self):
            closed.append(True)

    with Closing() as env:
        assert isinstance(env, Closing)
    assert closed == [True]
    assert Env().close() is None


def test_package_exports_import_without_tensorflow():
    assert environments.PyEnvironment is PyEnvironment
    assert environments.py_environment is py_environment
    assert environments.BatchedPyEnvironment.__name__ == "BatchedPyEnvironment"
    assert environments.native.make("CartPole-v1", 1).batch_size == 1
    with pytest.raises(AttributeError):
        environments.nope  # noqa: B018

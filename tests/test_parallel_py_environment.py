"""ParallelPyEnvironment: envs in worker processes, data through shared memory."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import suite_gymnasium
from tfdrive.environments.batched_py_environment import BatchedPyEnvironment
from tfdrive.environments.parallel_py_environment import (
    ParallelPyEnvironment,
    ProcessPyEnvironment,
    WorkerError,
)
from tfdrive.environments.py_environment import PyEnvironment
from tfdrive.metrics import py_metrics
from tfdrive.policies.random_py_policy import RandomPyPolicy
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest


def cartpole(seed: int):
    env = suite_gymnasium.load("CartPole-v1")
    env.seed(seed)
    return env


class DictEnv(PyEnvironment):
    """Observation {'count': int64 (), 'pos': float64 (2,)}; action {'a': int32 [0, 2], 'b': float32 (3,)}.

    `count` grows by `a` (+1); the episode ends after `length` steps. `fail_at`
    makes `step` raise (ZeroDivisionError), `exit_at` exits the process,
    `bad_shape_at` returns `pos` of shape (3,).
    """

    def __init__(self, length=4, fail_at=None, exit_at=None, bad_shape_at=None):
        super().__init__()
        self._length, self._fail_at, self._exit_at = length, fail_at, exit_at
        self._bad_shape_at = bad_shape_at
        self._count = 0
        self._steps = 0
        self._total = 0

    def observation_spec(self):
        return {
            "count": array_spec.ArraySpec((), np.int64, "count"),
            "pos": array_spec.ArraySpec((2,), np.float64, "pos"),
        }

    def action_spec(self):
        return {
            "a": array_spec.BoundedArraySpec((), np.int32, 0, 2, "a"),
            "b": array_spec.ArraySpec((3,), np.float32, "b"),
        }

    def _observation(self, size=2):
        return {"count": np.int64(self._count), "pos": np.full(size, self._count / 2.0)}

    def _reset(self):
        self._count = self._steps = 0
        return ts.restart(self._observation())

    def _step(self, action):
        self._total += 1
        if self._total == self._fail_at:
            raise ZeroDivisionError("env step failed on purpose")
        if self._total == self._exit_at:
            os._exit(7)
        if self._steps >= self._length:
            return self.reset()
        self._steps += 1
        self._count += int(action["a"]) + 1 + int(np.sum(action["b"]))
        size = 3 if self._total == self._bad_shape_at else 2
        observation = self._observation(size)
        if self._steps == self._length:
            return ts.termination(observation, 1.0)
        return ts.transition(observation, 0.5)


def assert_nest_equal(a, b):
    nest.assert_same_structure(a, b)
    for x, y in zip(nest.flatten(a), nest.flatten(b)):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("num_workers", [1, 2, 4])
@pytest.mark.parametrize("blocking", [False, True])
def test_same_time_steps_as_batched_py_environment(num_workers, blocking):
    """Seeded CartPoles through shared memory equal the in-process batch, auto-resets included."""
    constructors = [lambda s=s: cartpole(s) for s in range(4)]
    parallel = ParallelPyEnvironment(constructors, num_workers=num_workers, blocking=blocking)
    local = BatchedPyEnvironment([c() for c in constructors])
    try:
        assert parallel.batch_size == 4 and parallel.num_workers == num_workers
        assert parallel.time_step_spec() == local.time_step_spec()
        assert parallel.action_spec() == local.action_spec()
        assert_nest_equal(parallel.reset(), local.reset())
        rng = np.random.default_rng(0)
        for _ in range(60):  # several episodes end (random play lasts ~20 steps)
            action = rng.integers(0, 2, 4).astype(np.int64)
            assert_nest_equal(parallel.step(action), local.step(action))
    finally:
        parallel.close()


def test_nested_specs_dtypes_and_step_async():
    env = ParallelPyEnvironment([DictEnv] * 3, num_workers=2)
    try:
        first = env.reset()
        assert first.observation["count"].dtype == np.int64 and first.observation[
            "count"
        ].shape == (3,)
        assert first.observation["pos"].dtype == np.float64 and first.observation["pos"].shape == (
            3,
            2,
        )
        action = {"a": np.array([0, 1, 2], np.int32), "b": np.ones((3, 3), np.float32)}
        env.step_async(action)
        time_step = env.step_wait()
        assert time_step.observation["count"].tolist() == [4, 5, 6]
        np.testing.assert_array_equal(time_step.observation["pos"], [[2, 2], [2.5, 2.5], [3, 3]])
        assert time_step.step_type.tolist() == [1, 1, 1]
        assert time_step.reward.dtype == np.float32 and time_step.reward.tolist() == [0.5] * 3
        with pytest.raises(RuntimeError, match="step_wait without step_async"):
            env.step_wait()
        with pytest.raises(
            ValueError, match=r"`action\['b'\]` has shape \(3,\); expected \(3, 3\)"
        ):
            env.step({"a": np.zeros(3, np.int32), "b": np.zeros(3, np.float32)})
        with pytest.raises(TypeError, match=r"`action\['a'\]` has dtype float64"):
            env.step({"a": np.zeros(3), "b": np.zeros((3, 3), np.float32)})
        # Per-env handles and TF-Agents' private helpers.
        assert [e.access("_length") for e in env.envs] == [4, 4, 4]
        unstacked = env._unstack_actions(action)
        assert len(unstacked) == 3 and unstacked[2]["a"] == 2 and unstacked[2]["b"].shape == (3,)
    finally:
        env.close()


def test_driver_collects_from_a_parallel_env():
    env = ParallelPyEnvironment([lambda s=s: cartpole(s) for s in range(4)], num_workers=2)
    try:
        policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0, outer_dims=(4,))
        steps = py_metrics.EnvironmentSteps()
        PyDriver(env, policy, [steps], max_steps=200).run(env.reset())
        assert steps.result() >= 200
    finally:
        env.close()


def _processes(env: ParallelPyEnvironment):
    return [worker.process for worker in env._workers]


def test_an_env_error_reaches_the_caller_with_the_workers_traceback_and_all_workers_stop():
    env = ParallelPyEnvironment([DictEnv, lambda: DictEnv(fail_at=2), DictEnv], num_workers=3)
    processes = _processes(env)
    env.reset()
    action = {"a": np.zeros(3, np.int32), "b": np.zeros((3, 3), np.float32)}
    env.step(action)
    with pytest.raises(ZeroDivisionError, match="env step failed on purpose") as info:
        env.step(action)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "worker 1" in notes and "envs 1" in notes and "while stepping" in notes
    assert "in _step" in notes  # the worker's traceback
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(ValueError, match="closed"):
        env.reset()


def test_an_observation_that_does_not_match_its_spec_names_the_env_and_leaf():
    env = ParallelPyEnvironment([DictEnv, lambda: DictEnv(bad_shape_at=1)], num_workers=2)
    processes = _processes(env)
    env.reset()
    action = {"a": np.zeros(2, np.int32), "b": np.zeros((2, 3), np.float32)}
    with pytest.raises(
        ValueError,
        match=r"env 1: `time_step.observation\['pos'\]` has shape \(3,\); its spec has \(2,\)",
    ):
        env.step(action)
    assert not any(p.is_alive() for p in processes)


def test_a_worker_that_exits_is_reported_not_waited_on():
    env = ParallelPyEnvironment([DictEnv, lambda: DictEnv(exit_at=1)], num_workers=2)
    processes = _processes(env)
    env.reset()
    action = {"a": np.zeros(2, np.int32), "b": np.zeros((2, 3), np.float32)}
    with pytest.raises(
        WorkerError, match=r"worker 1 \(pid \d+, envs 1\) exited with code 7 while stepping"
    ):
        env.step(action)
    assert not any(p.is_alive() for p in processes)


def _raising_constructor():
    raise KeyError("no such level")


def test_constructor_errors():
    with pytest.raises(KeyError, match="no such level") as info:
        ParallelPyEnvironment([DictEnv, _raising_constructor], num_workers=2)
    assert "building env 1" in "\n".join(getattr(info.value, "__notes__", []))
    with pytest.raises(TypeError, match="non-callable"):
        ParallelPyEnvironment([DictEnv()])
    import threading

    lock = threading.Lock()
    with pytest.raises(TypeError, match=r"worker 0 \(envs 0\) cannot be pickled"):
        ParallelPyEnvironment([lambda: (lock, DictEnv())[1]])
    with pytest.raises(ValueError, match=r"num_workers must be in \[1, 2\]"):
        ParallelPyEnvironment([DictEnv, DictEnv], num_workers=3)
    with pytest.raises(ValueError, match="same action spec"):
        ParallelPyEnvironment([DictEnv, lambda: cartpole(0)])


def test_close_is_idempotent_and_leaves_no_process():
    env = ParallelPyEnvironment([DictEnv] * 2)
    processes = _processes(env)
    env.reset()
    env.close()
    env.close()
    assert not any(p.is_alive() for p in processes)
    assert all(p.exitcode == 0 for p in processes)  # asked to exit, not killed


def test_seed_and_render_and_process_env():
    env = ParallelPyEnvironment([lambda: cartpole(0)] * 2)
    try:
        env.seed([3, 4])
        with pytest.raises(ValueError, match="Number of seeds"):
            env.seed([1])
        with pytest.raises(NotImplementedError, match="Only rgb_array"):
            env.render("human")
    finally:
        env.close()
    process_env = ProcessPyEnvironment(DictEnv)
    process_env.start()
    try:
        assert process_env.reset().observation["count"] == 0
        promise = process_env.step({"a": np.int32(1), "b": np.zeros(3, np.float32)}, blocking=False)
        assert promise().observation["count"] == 2
        assert process_env._length == 4  # private names stay local...
    except AttributeError:
        assert process_env.access("_length") == 4  # ...and are read with access()
    finally:
        process_env.close()


def _misbehaving_cartpole(seed: int, fail_at=None, bad_shape_at=None):
    """A Gymnasium CartPole whose step raises (`fail_at`) or returns a (5,) observation."""
    import gymnasium

    from tfdrive.environments.gymnasium_wrapper import GymnasiumWrapper

    class Misbehaving(gymnasium.Wrapper):
        steps = 0

        def step(self, action):
            self.steps += 1
            if self.steps == fail_at:
                raise ArithmeticError("the cart fell off the table")
            observation, *rest = self.env.step(action)
            if self.steps == bad_shape_at:
                observation = np.zeros(5, np.float32)
            return (observation, *rest)

    env = GymnasiumWrapper(Misbehaving(gymnasium.make("CartPole-v1")))
    env.seed(seed)
    return env


def test_gymnasium_workers_step_in_the_rust_core_and_name_envs_by_their_batch_index():
    """Workers of plain Gymnasium envs step them through BatchedPyEnvironment's Rust core;
    its errors name the env by its index in the whole ParallelPyEnvironment."""
    constructors = [lambda s=s: _misbehaving_cartpole(s) for s in range(3)]
    constructors.append(lambda: _misbehaving_cartpole(3, fail_at=2))
    env = ParallelPyEnvironment(constructors, num_workers=2)
    processes = _processes(env)
    env.reset()
    env.step(np.zeros(4, np.int64))
    with pytest.raises(ArithmeticError, match="the cart fell off the table") as info:
        env.step(np.zeros(4, np.int64))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "raised by env 3 of worker 1 (envs 2-3) of a ParallelPyEnvironment" in notes
    assert "worker 1" in notes and "while stepping" in notes
    assert not any(p.is_alive() for p in processes)

    constructors = [lambda s=s: _misbehaving_cartpole(s) for s in range(2)]
    constructors.append(lambda: _misbehaving_cartpole(2, bad_shape_at=1))
    env = ParallelPyEnvironment(constructors, num_workers=2)
    env.reset()
    with pytest.raises(
        ValueError, match=r"env 2 returned observation of shape \[5\], expected \[4\]"
    ):
        env.step(np.zeros(3, np.int64))
    env.close()

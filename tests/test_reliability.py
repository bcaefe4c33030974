"""Bad and unusual input at the Rust boundary: clear exceptions, never a panic or an abort.

A Rust panic reaches Python as `pyo3_runtime.PanicException`, a
`BaseException` that `except Exception` does not catch, and an allocation
failure aborts the process; every case here must instead raise an ordinary
exception (or give the right result).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from driver_mocks import AlternatingPolicy, CountingEnv, Recorder
from tfdrive import _core
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import native
from tfdrive.metrics import py_metrics
from tfdrive.trajectories import time_step as ts


def misaligned(values, dtype) -> np.ndarray:
    """A C-contiguous but misaligned array: decoded from a byte buffer at an odd offset."""
    data = np.asarray(values, dtype=dtype).tobytes()
    buffer = np.frombuffer(b"\0" + data, dtype=np.uint8)[1:]
    array = buffer.view(dtype)
    assert array.flags.c_contiguous and not array.flags.aligned
    return array


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_count_steps_reads_misaligned_step_types(dtype):
    first, nxt = [0, 1, 1, 2, 1], [1, 2, 2, 0, 2]
    expected = _core.count_steps(np.array(first, dtype), np.array(nxt, dtype))
    assert expected == (4, 1)  # Episodes end on the LAST -> FIRST boundary.
    assert _core.count_steps(misaligned(first, dtype), misaligned(nxt, dtype)) == expected


def test_metric_reads_misaligned_rewards_and_step_types():
    for reward_dtype in (np.float32, np.float64):
        metric = py_metrics.AverageReturnMetric(batch_size=2)
        metric._native_observer.observe(
            misaligned([1, 1], np.int32),
            misaligned([2, 2], np.int32),
            misaligned([1.5, 2.5], reward_dtype),
        )
        assert metric.result() == pytest.approx(2.0)


@pytest.mark.parametrize("num_envs", [10**9, 2**62])
def test_native_make_too_many_envs_is_a_memory_error(num_envs):
    with pytest.raises(MemoryError, match=f"num_envs={num_envs}"):
        native.make("CartPole-v1", num_envs)


def test_native_make_num_threads_above_the_cap():
    with pytest.raises(ValueError, match="num_threads=100000 is above the limit of 1024"):
        native.make("CartPole-v1", 4, num_threads=100_000)


@pytest.mark.parametrize("batch_size", [10**10, 2**62])
def test_metric_batch_size_too_large_is_a_memory_error(batch_size):
    with pytest.raises(MemoryError, match=f"batch_size={batch_size}"):
        py_metrics.AverageReturnMetric(batch_size=batch_size)


def test_forked_child_drops_a_multithreaded_env():
    env = native.make("CartPole-v1", 8, num_threads=2)
    env.reset()
    pid = os.fork()
    if pid == 0:  # The child inherits the pool but not its worker threads.
        try:
            env.step(np.zeros(8, np.int64))
            del env
            os._exit(0)
        except BaseException:
            os._exit(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung dropping the env")
    env.step(np.zeros(8, np.int64))  # The parent's env still works.


gymnasium = pytest.importorskip("gymnasium")


def _cartpoles(n, reward_dtype=None):
    from tfdrive.environments import suite_gymnasium
    from tfdrive.specs import array_spec

    envs = [suite_gymnasium.load("CartPole-v1") for _ in range(n)]
    if reward_dtype is not None:
        for env in envs:
            spec = env.time_step_spec()
            reward = array_spec.ArraySpec((), reward_dtype, name="reward")
            env.time_step_spec = lambda spec=spec, reward=reward: spec._replace(reward=reward)
    return envs


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_gymnasium_fast_path_writes_rewards_in_the_spec_dtype(dtype):
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment

    env = BatchedPyEnvironment(_cartpoles(2, dtype))
    assert env._core.gymnasium_path
    env.reset()
    step = env.step(np.zeros(2, np.int64))
    assert step.reward.dtype == dtype
    np.testing.assert_array_equal(step.reward, np.ones(2, dtype))
    np.testing.assert_array_equal(step.step_type, [ts.StepType.MID] * 2)


@pytest.mark.parametrize(
    "actions",
    [np.zeros((2, 2), np.int64), np.zeros((2, 0), np.int64)],
    ids=["B-by-2", "B-by-0"],
)
def test_gymnasium_fast_path_rejects_actions_as_the_generic_path(actions):
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment

    env = BatchedPyEnvironment(_cartpoles(2))
    assert env._core.gymnasium_path
    env.reset()
    with pytest.raises(ValueError, match="can only convert an array of size 1"):
        env.step(actions)


def test_gymnasium_fast_path_does_not_truncate_float_actions():
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment

    env = BatchedPyEnvironment(_cartpoles(2))
    env.reset()
    # Gymnasium's CartPole asserts its action is in the Discrete(2) space;
    # 0.7 is not, so it must reach the env as 0.7, not truncated to 0.
    with pytest.raises(AssertionError, match="0.7"):
        env.step(np.array([0.7, 0.7]))


# --- the driver's arguments -------------------------------------------------


@pytest.mark.parametrize(
    "make_observers",
    [lambda rec: (o for o in [rec]), lambda rec: iter([rec]), lambda rec: map(lambda o: o, [rec])],
    ids=["generator", "iter", "map"],
)
def test_observers_given_as_an_iterator_see_every_trajectory(make_observers):
    def collect(observers_of):
        env, rec, policy = CountingEnv(), Recorder(), AlternatingPolicy()
        driver = PyDriver(env, policy, observers_of(rec), max_steps=3)
        driver.run(env.reset(), policy.get_initial_state())
        assert driver.observers == [rec]
        return [t.step_type.tolist() for t in rec.items]

    expected = collect(lambda rec: [rec])
    assert len(expected) == 4  # 3 steps and 1 boundary transition.
    assert collect(make_observers) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_steps=float("nan")), "`max_steps` must be a whole number or None; got nan"),
        (dict(max_steps=float("inf")), "`max_steps` must be a whole number or None; got inf"),
        (dict(max_steps=2.5), "`max_steps` must be a whole number or None; got 2.5"),
        (dict(max_episodes=10**400), "`max_episodes` must be below 2\\*\\*63"),
        (dict(max_steps="10"), "`max_steps` must be a whole number or None; got '10'"),
    ],
)
def test_run_limits_that_are_not_whole_numbers_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PyDriver(CountingEnv(), AlternatingPolicy(), [], **kwargs)


def test_whole_float_limits_are_accepted_as_in_tf_agents():
    env, rec, policy = CountingEnv(), Recorder(), AlternatingPolicy()
    PyDriver(env, policy, [rec], max_steps=2.0).run(env.reset(), policy.get_initial_state())
    assert len(rec.items) == 2


def test_progress_argument_is_checked_at_construction():
    with pytest.raises(TypeError, match="progress must be a bool or a callable"):
        PyDriver(CountingEnv(), AlternatingPolicy(), [], max_steps=1, progress="yes")


def test_reentrant_run_raises_runtime_error():
    env, policy = CountingEnv(), AlternatingPolicy()
    errors = []

    def reenter(_trajectory):
        try:
            driver.run(env.current_time_step(), policy.get_initial_state())
        except RuntimeError as e:
            errors.append(str(e))

    driver = PyDriver(env, policy, [reenter], max_steps=2)
    time_step, state = driver.run(env.reset(), policy.get_initial_state())
    assert len(errors) == 2
    assert "already running" in errors[0]
    driver.run(time_step, state)  # Not left marked as running.


# --- spec bounds -------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, minimum, maximum, message",
    [
        (np.int64, 0, float(2**63 - 1), "maximum=.* does not fit int64"),
        (np.uint64, 0, float(2**64 - 1), "maximum=.* does not fit uint64"),
        (np.float32, float("nan"), 1.0, "minimum of .* holds NaN"),
        (np.int32, float("nan"), 1, "minimum of .* holds NaN"),
        (np.int32, -0.9, -0.1, "no int32 value lies in"),
    ],
)
def test_bounds_that_do_not_survive_the_cast_are_rejected(dtype, minimum, maximum, message):
    from tfdrive.specs.array_spec import BoundedArraySpec

    with pytest.raises(ValueError, match=message):
        BoundedArraySpec((), dtype, minimum, maximum)


def test_integer_bounds_at_the_dtype_limits_and_truncated_floats_are_kept():
    from tfdrive.specs.array_spec import BoundedArraySpec

    spec = BoundedArraySpec((), np.int64, 0, 2**63 - 1)
    assert spec.maximum == 2**63 - 1
    spec = BoundedArraySpec((), np.uint64, 0, 2**64 - 1)
    assert spec.maximum == 2**64 - 1
    spec = BoundedArraySpec((2,), np.int32, 0.7, 3.9)  # TF-Agents truncates too.
    assert spec.minimum == 0 and spec.maximum == 3


# --- sampling specs ------------------------------------------------------------


@pytest.mark.parametrize(
    "spec_args",
    [
        ((2,), np.float64, [-np.inf, 10.0], [np.inf, 20.0]),
        ((2,), np.int64, [np.iinfo(np.int64).min, 5], [np.iinfo(np.int64).max, 9]),
        ((), np.int64, 2**63 - 1, 2**63 - 1),
        ((), np.uint64, None, None),
        (
            (3,),
            np.uint64,
            np.array([0, 2**64 - 2, 7], np.uint64),
            np.array([2**64 - 1] * 2 + [7], np.uint64),
        ),
        ((), np.int32, None, None),
    ],
    ids=[
        "float64-wide",
        "int64-full-range",
        "int64-at-max",
        "uint64",
        "uint64-elementwise",
        "int32",
    ],
)
def test_samples_lie_inside_their_spec(spec_args):
    from tfdrive.specs import array_spec

    spec = array_spec.BoundedArraySpec(*spec_args)
    samples = array_spec.sample_spec_nest(spec, np.random.RandomState(0), outer_dims=(200,))
    assert samples.shape == (200, *spec.shape) and samples.dtype == spec.dtype
    assert np.all(samples >= spec.minimum) and np.all(samples <= spec.maximum)


def test_zero_size_specs_and_bool_specs_sample_their_dtype():
    from tfdrive.specs import array_spec

    rng = np.random.RandomState(0)
    empty = array_spec.BoundedArraySpec((0, 3), np.int32, [0, 1, 2], [5, 6, 7])
    sample = array_spec.sample_spec_nest(empty, rng)
    assert sample.shape == (0, 3) and sample.dtype == np.int32
    flags = array_spec.sample_spec_nest(array_spec.ArraySpec((500,), np.bool_), rng)
    assert flags.dtype == np.bool_ and 0 < flags.sum() < 500


# --- native env arguments and states -------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(num_envs=-1), ValueError, "num_envs must be at least 1, got -1"),
        (dict(num_envs=2.0), TypeError, "num_envs must be an int, got float 2.0"),
        (dict(num_envs=2, seed=-1), ValueError, "seed must be at least 0, got -1"),
        (dict(num_envs=2, seed=2**64), ValueError, "seed must be below 18446744073709551616"),
        (dict(num_envs=2, num_threads=-3), ValueError, "num_threads must be at least 0, got -3"),
    ],
)
def test_native_make_argument_errors_name_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        native.make("CartPole-v1", **kwargs)


def test_native_set_env_state_rejects_nan_and_elapsed_past_the_limit():
    env = native.make("CartPole-v1", 2)
    env.reset()
    with pytest.raises(ValueError, match="CartPole-v1 state must be finite, got NaN"):
        env.set_env_state(0, [0.0, float("nan"), 0.0, 0.0])
    with pytest.raises(
        ValueError, match="elapsed=500 must be below CartPole-v1's max_episode_steps=500"
    ):
        env.set_env_state(0, [0.0] * 4, elapsed=500)
    env.set_env_state(0, [0.0] * 4, elapsed=499)
    step = env.step(np.zeros(2, np.int64))
    assert step.step_type[0] == ts.StepType.LAST  # Truncated at the limit.


# --- BatchedPyEnvironment: sub-envs returning bad time steps -------------------


class _ScriptedEnv:
    """A PyEnvironment whose `step` returns `result` (a TimeStep or anything else)."""

    def __init__(self, result):
        from tfdrive.environments import py_environment
        from tfdrive.specs import array_spec

        class Env(py_environment.PyEnvironment):
            def observation_spec(self):
                return array_spec.ArraySpec((), np.float32, name="observation")

            def action_spec(self):
                return array_spec.BoundedArraySpec((), np.int32, 0, 1, name="action")

            def _reset(self):
                return ts.restart(np.float32(0))

            def _step(self, action):
                return result

        self.env = Env()


@pytest.mark.parametrize(
    "result, error, message",
    [
        ((np.int32(1), np.float32(1)), TypeError, "env 1 returned a tuple of 2 values"),
        (
            ts.TimeStep(np.int32(7), np.float32(1), np.float32(1), np.float32(0)),
            ValueError,
            "env 1 returned step_type 7, not a StepType",
        ),
        (
            ts.TimeStep(np.int64(2**40), np.float32(1), np.float32(1), np.float32(0)),
            ValueError,
            "env 1 returned step_type 1099511627776, not a StepType",
        ),
        (
            ts.TimeStep(2**40, np.float32(1), np.float32(1), np.float32(0)),
            ValueError,
            "env 1 returned step_type 1099511627776, not a StepType",
        ),
        (
            ts.TimeStep(np.int32(1), None, np.float32(1), np.float32(0)),
            TypeError,
            "env 1 returned reward = None",
        ),
        (
            ts.TimeStep(np.int32(1), True, np.float32(1), np.float32(0)),
            TypeError,
            "env 1 returned reward = True",
        ),
        (
            ts.TimeStep(np.bool_(True), np.float32(1), np.float32(1), np.float32(0)),
            TypeError,
            "env 1 returned step_type = ",
        ),
    ],
    ids=[
        "2-tuple",
        "step-type-7",
        "step-type-2**40-numpy",
        "step-type-2**40-int",
        "reward-None",
        "reward-True",
        "step-type-bool",
    ],
)
def test_batched_env_rejects_bad_time_steps_naming_the_env(result, error, message):
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment

    good = ts.TimeStep(np.int32(1), np.float32(1), np.float32(1), np.float32(0))
    envs = [_ScriptedEnv(good).env, _ScriptedEnv(result).env]
    batched = BatchedPyEnvironment(envs)
    batched.reset()
    with pytest.raises(error, match=message):
        batched.step(np.zeros(2, np.int32))


def test_one_native_env_stepped_from_two_threads_says_so():
    import threading

    env = native.make("CartPole-v1", 200_000, num_threads=1)
    env.reset()
    actions = np.zeros(200_000, np.int64)
    errors, stop = [], threading.Event()

    def step_forever():
        while not stop.is_set():
            try:
                env.step(actions)
            except RuntimeError as e:
                errors.append(str(e))

    thread = threading.Thread(target=step_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not errors and time.monotonic() < deadline:
            try:
                env.step(actions)  # Large batches release the GIL while stepping.
            except RuntimeError as e:
                errors.append(str(e))
    finally:
        stop.set()
        thread.join()
    assert errors, "the two threads never overlapped"
    assert "in use by another thread" in errors[0]


def test_a_batch_of_zero_envs_is_rejected_instead_of_running_forever():
    class NoEnvs(CountingEnv):
        def _step(self, action):
            empty = np.zeros((0,), np.int32)
            return ts.TimeStep(empty, np.zeros((0,), np.float32), np.zeros((0,), np.float32), empty)

    env, policy = NoEnvs(), AlternatingPolicy()
    driver = PyDriver(env, policy, [], max_steps=3)
    first = env.reset()
    with pytest.raises(ValueError, match=r"a batch of 0 environments\): a run over it could never"):
        driver.run(first._replace(step_type=np.zeros((0,), np.int32)), policy.get_initial_state())


def test_driver_reads_misaligned_time_steps():
    class MisalignedEnv(CountingEnv):
        """Decodes its time steps from a byte buffer at an odd offset."""

        def _step(self, action):
            step = super()._step(action)
            return step._replace(
                step_type=misaligned([step.step_type], np.int32).reshape(()),
                reward=misaligned([step.reward], np.float32).reshape(()),
            )

    env, policy = MisalignedEnv(), AlternatingPolicy()
    metric = py_metrics.AverageReturnMetric()
    driver = PyDriver(env, policy, [metric], max_steps=20)
    driver.run(env.reset(), policy.get_initial_state())
    assert driver.last_run_counts[0] == 20
    twin_env, twin_policy = CountingEnv(), AlternatingPolicy()
    twin_metric = py_metrics.AverageReturnMetric()
    PyDriver(twin_env, twin_policy, [twin_metric], max_steps=20).run(
        twin_env.reset(), twin_policy.get_initial_state()
    )
    assert metric.result() == twin_metric.result()


def test_an_interrupt_in_an_observer_stops_the_run_as_documented():
    """KeyboardInterrupt from observer k: observers before it have the transition, later ones not."""
    env, policy = CountingEnv(), AlternatingPolicy()
    before, after = Recorder(), Recorder()
    metric = py_metrics.EnvironmentSteps()

    def interrupt_on_a_step(trajectory):
        if len(before.items) >= 3 and not trajectory.is_boundary():
            raise KeyboardInterrupt

    driver = PyDriver(env, policy, [metric, before, interrupt_on_a_step, after], max_steps=100)
    with pytest.raises(KeyboardInterrupt):
        driver.run(env.reset(), policy.get_initial_state())
    assert len(after.items) == len(before.items) - 1
    # The native metric, before it in the list, took the third transition too.
    steps = sum(int(not t.is_boundary()) for t in before.items)
    assert metric.result() == steps
    assert driver.last_run_stats is None  # No complete run.

"""Fuzz tests (hypothesis, bounded in examples and time): random specs, native
env arguments and actions, and time steps of random dtypes, shapes and values
through the driver. Each either works or raises a `TypeError`/`ValueError`
(`MemoryError` for sizes); anything else, or a crash of the process, fails.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from tfdrive.drivers.py_driver import PyDriver  # noqa: E402
from tfdrive.environments import native, py_environment  # noqa: E402
from tfdrive.policies import py_policy  # noqa: E402
from tfdrive.specs import array_spec  # noqa: E402
from tfdrive.trajectories import policy_step  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
EXPECTED = (TypeError, ValueError)
NUMERIC_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
]
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
bound_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=4),
)


@FUZZ
@given(shape=shapes, dtype=st.sampled_from(NUMERIC_DTYPES), low=bound_values, high=bound_values)
def test_spec_construction_and_sampling(shape, dtype, low, high):
    try:
        spec = array_spec.BoundedArraySpec(shape, dtype, low, high)
    except EXPECTED:
        return
    assert np.all(spec.minimum <= spec.maximum)
    samples = array_spec.sample_spec_nest(spec, np.random.RandomState(0), outer_dims=(3,))
    assert samples.dtype == spec.dtype and samples.shape == (3, *spec.shape)
    assert np.all(samples >= spec.minimum) and np.all(samples <= spec.maximum)
    for sample in samples:
        assert spec.check_array(sample)


@FUZZ
@given(
    name=st.sampled_from([*native.NAMES, "Nope-v0"]) if hasattr(native, "NAMES") else st.just(""),
    num_envs=st.one_of(st.integers(-3, 9), st.integers(2**40, 2**70), st.floats(), st.none()),
    seed=st.one_of(st.integers(-(2**65), 2**65), st.text(max_size=2)),
    num_threads=st.one_of(st.none(), st.integers(-2, 4), st.integers(2000, 2**64)),
)
def test_native_make_arguments(name, num_envs, seed, num_threads):
    try:
        env = native.make(name or "CartPole-v1", num_envs, seed=seed, num_threads=num_threads)
    except (*EXPECTED, MemoryError):
        return
    env.reset()


_native_envs = {}


def _native(name):
    if name not in _native_envs:
        _native_envs[name] = native.make(name, 3, seed=0)
        _native_envs[name].reset()
    return _native_envs[name]


@FUZZ
@given(
    name=st.sampled_from(["CartPole-v1", "Pendulum-v1", "MountainCarContinuous-v0"]),
    actions=hnp.arrays(
        dtype=st.sampled_from([*NUMERIC_DTYPES, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=None,
    ),
)
def test_native_env_actions(name, actions):
    env = _native(name)
    try:
        step = env.step(actions)
    except EXPECTED:
        return
    assert step.step_type.shape == (3,)
    assert np.all(np.isin(step.step_type, [0, 1, 2]))


class _RandomTimeStepEnv(py_environment.PyEnvironment):
    """Returns the time-step fields it is given, whatever their dtype, shape or value."""

    def __init__(self, fields):
        super().__init__(handle_auto_reset=False)
        self._fields = fields

    def observation_spec(self):
        return array_spec.ArraySpec((), np.float32, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int32, 0, 1, name="action")

    def _reset(self):
        return ts.TimeStep(*self._fields)

    def _step(self, action):
        return ts.TimeStep(*self._fields)


class _ZeroPolicy(py_policy.PyPolicy):
    def __init__(self, env):
        super().__init__(env.time_step_spec(), env.action_spec())

    def _action(self, time_step, policy_state):
        return policy_step.PolicyStep(np.int32(0), policy_state, ())


any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=2),
    hnp.arrays(
        dtype=st.sampled_from([*NUMERIC_DTYPES, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
    ),
)


@FUZZ
@given(step_type=any_value, reward=any_value, discount=any_value, observation=any_value)
def test_time_steps_of_any_kind_through_the_driver(step_type, reward, discount, observation):
    from tfdrive.metrics import py_metrics

    env = _RandomTimeStepEnv((step_type, reward, discount, observation))
    metrics = [py_metrics.AverageReturnMetric(), py_metrics.EnvironmentSteps()]

    def hung(signum, frame):
        raise AssertionError("the driver did not finish a 3-step run within 10 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        time_step = env.reset()
        # Both limits: an env stuck in LAST takes no step, only episodes.
        PyDriver(env, _ZeroPolicy(env), metrics, max_steps=3, max_episodes=3).run(time_step)
    except EXPECTED:
        return
    except OverflowError:  # A Python int beyond every numpy dtype: numpy's own error.
        return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)

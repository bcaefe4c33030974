"""Native envs and metrics survive `pickle` and `copy.deepcopy` with their whole state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from tfdrive import _core
from tfdrive.environments import native
from tfdrive.metrics import py_metrics

COPIES = {"pickle": lambda obj: pickle.loads(pickle.dumps(obj)), "deepcopy": copy.deepcopy}


@pytest.mark.parametrize("make_copy", COPIES.values(), ids=COPIES.keys())
@pytest.mark.parametrize("name", native.NAMES)
def test_a_copied_native_env_steps_exactly_as_the_original(name, make_copy):
    env = native.make(name, 5, seed=7, num_threads=2)
    actions = lambda rng: (  # noqa: E731
        rng.integers(0, env.action_spec().maximum + 1, 5)
        if env.action_spec().dtype.kind == "i"
        else rng.uniform(env.action_spec().minimum, env.action_spec().maximum, (5, 1)).astype(
            np.float32
        )
    )
    rng = np.random.default_rng(0)
    env.reset()
    for _ in range(40):
        env.step(actions(rng))
    copied = make_copy(env)
    assert copied is not env and copied.batch_size == 5 and copied.num_threads == 2
    np.testing.assert_array_equal(
        copied.current_time_step().observation, env.current_time_step().observation
    )
    for _ in range(300):  # Past episode ends: the copied RNG streams draw the same resets.
        action = actions(rng)
        original, copy_step = env.step(action), copied.step(action)
        for a, b in zip(original, copy_step):
            np.testing.assert_array_equal(a, b)


def test_a_copied_env_before_reset_still_needs_one():
    env = native.make("CartPole-v1", 2)
    copied = copy.deepcopy(env)
    with pytest.raises(ValueError, match="Current timestep not initialized"):
        copied.current_time_step()


def test_restoring_a_state_of_another_env_is_a_value_error():
    cartpole = native.make("CartPole-v1", 2)._native_env
    state = native.make("CartPole-v1", 3)._native_env.__getstate__()
    with pytest.raises(ValueError, match="snapshot elapsed has 3 entries, expected 2"):
        cartpole.__setstate__(state)
    state = cartpole.__getstate__()
    state["states"] = np.full_like(state["states"], np.nan)
    with pytest.raises(ValueError, match="snapshot states must be finite"):
        cartpole.__setstate__(state)
    del state["rng"]
    with pytest.raises(KeyError, match='state has no "rng"'):
        cartpole.__setstate__(state)


@pytest.mark.parametrize("make_copy", COPIES.values(), ids=COPIES.keys())
def test_a_copied_metric_keeps_its_episodes_and_accumulators(make_copy):
    metric = py_metrics.AverageReturnMetric(buffer_size=3, batch_size=2)
    observe = metric._native_observer.observe
    observe(
        np.array([0, 0], np.int32), np.array([1, 2], np.int32), np.array([1.0, 4.0], np.float32)
    )
    copied = make_copy(metric)
    for m in (metric, copied):
        m._native_observer.observe(
            np.array([1, 2], np.int32), np.array([2, 0], np.int32), np.array([2.0, 0.0], np.float32)
        )
    assert copied.result() == metric.result() == pytest.approx((4.0 + 3.0) / 2)
    assert copied._native_observer.get_state()["window"].tolist() == [4.0, 3.0]


def test_metric_set_state_checks_the_state():
    core = _core.EpisodeMetricCore("average_return", 2, 2)
    state = core.get_state()
    state["accumulators"] = np.zeros(3)
    with pytest.raises(
        ValueError, match="state\\['accumulators'\\] has 3 values, expected batch_size=2"
    ):
        core.set_state(state)
    state = core.get_state()
    state["window"] = np.zeros(3)
    with pytest.raises(
        ValueError, match="state\\['window'\\] has 3 values, more than buffer_size=2"
    ):
        core.set_state(state)


def test_buffer_core_position_restores_and_is_checked():
    storage = [np.zeros((2, 4), np.int32)]
    core = _core.TrajectoryBufferCore(storage, ["x"], 2, 4)
    copy_core = _core.TrajectoryBufferCore([storage[0].copy()], ["x"], 2, 4)
    copy_core.set_position(1, 4, 9)
    assert (copy_core.cursor, copy_core.len, copy_core.writes, copy_core.start) == (1, 4, 9, 1)
    for args, message in [
        ((4, 4, 9), "cursor=4 must be below max_length=4"),
        ((0, 5, 9), "len=5 must be at most max_length=4"),
        ((2, 2, 1), "writes=1 must be at least len=2"),
        ((3, 2, 2), "cursor=3 must equal len=2 until the ring is full"),
    ]:
        with pytest.raises(ValueError, match=message):
            core.set_position(*args)
    assert (core.cursor, core.len, core.writes) == (0, 0, 0)

"""Native episode metrics: values against hand-computed episodes."""

from __future__ import annotations

import numpy as np
import pytest

from driver_mocks import AlternatingPolicy, BatchedCountingEnv, CountingEnv
from tfdrive import _core
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.metrics import py_metric, py_metrics
from tfdrive.trajectories import trajectory


def _traj(step_type, next_step_type, reward):
    arr = np.asarray
    return trajectory.Trajectory(
        arr(step_type, np.int32),
        arr(0),
        arr(0),
        (),
        arr(next_step_type, np.int32),
        arr(reward, np.float32),
        arr(1.0, np.float32),
    )


def _all_metrics(**kwargs):
    return {
        "return": py_metrics.AverageReturnMetric(**kwargs),
        "length": py_metrics.AverageEpisodeLengthMetric(**kwargs),
        "max": py_metrics.MaxReturnMetric(**kwargs),
        "min": py_metrics.MinReturnMetric(**kwargs),
    }


def test_unbatched_episodes_by_hand():
    metrics = _all_metrics()
    steps, episodes = py_metrics.EnvironmentSteps(), py_metrics.NumberOfEpisodes()
    # Episode 1: rewards 1, 2 (2 steps); boundary; episode 2: reward 6 (1 step).
    for t in [_traj(0, 1, 1), _traj(1, 2, 2), _traj(2, 0, 0), _traj(0, 2, 6)]:
        for m in [*metrics.values(), steps, episodes]:
            m(t)
    assert metrics["return"].result() == np.float32(4.5)
    assert metrics["return"].result().dtype == np.float32
    assert metrics["length"].result() == np.float32(1.5)
    assert metrics["max"].result() == np.float32(6.0)
    assert metrics["min"].result() == np.float32(3.0)
    np.testing.assert_array_equal(metrics["return"].data, [3.0, 6.0])
    assert steps.result() == 3 and steps.result().dtype == np.int64
    assert episodes.result() == 2 and episodes.result().dtype == np.int64
    assert metrics["return"].batch_size == 1


def test_results_before_any_episode_ends_are_zero():
    for m in _all_metrics().values():
        m(_traj(0, 1, 5))
        assert m.result() == np.float32(0.0) and m.result().dtype == np.float32
    assert py_metrics.EnvironmentSteps().result() == 0


def test_batched_envs_accumulate_per_env():
    ret = py_metrics.AverageReturnMetric()
    length = py_metrics.AverageEpisodeLengthMetric()
    batches = [
        _traj([0, 0, 0], [1, 2, 1], [1, 10, 2]),
        _traj([1, 2, 1], [2, 0, 1], [3, 0, 2]),
        _traj([2, 0, 1], [0, 2, 2], [0, 20, 2]),
    ]
    for t in batches:
        ret(t)
        length(t)
    # Finished in order: env1 (10), env0 (1+3), env1 (20), env2 (2+2+2).
    np.testing.assert_array_equal(ret.data, [10.0, 4.0, 20.0, 6.0])
    np.testing.assert_array_equal(length.data, [1.0, 2.0, 1.0, 3.0])
    assert ret.batch_size == 3
    with pytest.raises(ValueError, match="batch_size is 3 but trajectory.step_type has 2 elements"):
        ret(_traj([0, 0], [1, 1], [0, 0]))


def test_buffer_size_keeps_the_last_episodes_and_reset_clears():
    ret = py_metrics.AverageReturnMetric(buffer_size=2)
    for r in [1, 2, 3]:
        ret(_traj(0, 2, r))
    np.testing.assert_array_equal(ret.data, [2.0, 3.0])
    assert ret.result() == np.float32(2.5)
    ret.reset()
    assert ret.data.size == 0 and ret.result() == 0.0
    unbounded = py_metrics.AverageReturnMetric(buffer_size=np.inf)
    for r in range(50):
        unbounded(_traj(0, 2, r))
    assert unbounded.data.size == 50


def test_environment_steps_reset_to_a_value():
    steps = py_metrics.EnvironmentSteps()
    steps(_traj([0, 1], [1, 2], [0, 0]))
    steps.reset(environment_steps=100)
    steps(_traj([2, 1], [0, 2], [0, 0]))
    assert steps.result() == 101


@pytest.mark.parametrize("bad", [0, -1, 2.5, "ten"])
def test_bad_buffer_size_is_named(bad):
    with pytest.raises((ValueError, TypeError), match="buffer_size"):
        py_metrics.AverageReturnMetric(buffer_size=bad)


def test_native_core_rejects_unknown_kind():
    with pytest.raises(ValueError, match='kind must be one of .*got "median"'):
        _core.EpisodeMetricCore("median")


def test_metrics_in_a_driver_with_episodes_crossing_runs():
    env, policy = CountingEnv(final_state=3), AlternatingPolicy()
    metrics = [
        py_metrics.AverageReturnMetric(),
        py_metrics.AverageEpisodeLengthMetric(),
        py_metrics.EnvironmentSteps(),
        py_metrics.NumberOfEpisodes(),
    ]
    driver = PyDriver(env, policy, metrics, max_steps=1)
    time_step, state = env.reset(), np.int32(2)
    for _ in range(7):  # one step per run: every episode crosses runs
        time_step, state = driver.run(time_step, state)
    # Each episode: 2 steps with reward 1 each; 7 steps = 3 full episodes + 1 step.
    assert metrics[0].result() == np.float32(2.0)
    assert metrics[1].result() == np.float32(2.0)
    np.testing.assert_array_equal(metrics[0].data, [2.0, 2.0, 2.0])
    assert metrics[2].result() == 7
    assert metrics[3].result() == 3


def test_native_metrics_equal_python_observers_in_a_batched_run():
    env = BatchedCountingEnv((3, 4, 6))
    policy = AlternatingPolicy(np.full(3, 2, np.int32))
    ret = py_metrics.AverageReturnMetric(buffer_size=100)
    length = py_metrics.AverageEpisodeLengthMetric(buffer_size=100)
    seen = []
    driver = PyDriver(env, policy, [ret, seen.append, length], max_steps=60)
    driver.run(env.reset(), np.full(3, 2, np.int32))
    # Recompute from the trajectories the Python observer received.
    returns, lengths = [], []
    acc_r, acc_l = np.zeros(3), np.zeros(3)
    for t in seen:
        acc_r[t.step_type == 0] = 0
        acc_r += t.reward
        acc_l[t.step_type != 2] += 1
        for i in np.flatnonzero(t.next_step_type == 2):
            returns.append(acc_r[i])
            lengths.append(acc_l[i])
            acc_l[i] = 0
    np.testing.assert_array_equal(ret.data, returns)
    np.testing.assert_array_equal(length.data, lengths)
    assert len(returns) > 10


def test_aggregate_and_counter():
    a, b = py_metrics.AverageReturnMetric(), py_metrics.AverageReturnMetric()
    a(_traj(0, 2, 2))
    b(_traj(0, 2, 4))
    assert py_metric.PyMetric.aggregate([a, b]) == 3.0
    counter = py_metrics.CounterMetric()
    counter()
    counter()
    assert counter.result() == 2
    assert a.name == "AverageReturn" and a.prefix == "Metrics"

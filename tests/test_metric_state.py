"""py metrics keep their native state through checkpoints, pickling and deep copies;
TF metrics and NumpyDeque give TF-Agents' values."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.metrics import py_metrics, tf_metrics
from tfdrive.trajectories import trajectory


def feed(metric):
    """One finished episode (return 4) and one pending (return 2 so far)."""
    for step in (
        trajectory.boundary((), (), (), 0.0, 1.0),
        trajectory.mid((), (), (), 1.0, 1.0),
        trajectory.last((), (), (), 3.0, 0.0),
        trajectory.first((), (), (), 2.0, 1.0),
    ):
        metric(step)


METRICS = [
    py_metrics.AverageReturnMetric,
    py_metrics.MaxReturnMetric,
    py_metrics.MinReturnMetric,
    py_metrics.AverageEpisodeLengthMetric,
    py_metrics.EnvironmentSteps,
    py_metrics.NumberOfEpisodes,
]


@pytest.mark.parametrize("cls", METRICS)
def test_pickle_and_deepcopy_keep_pending_episodes(cls):
    metric = cls()
    feed(metric)
    before = metric.result()
    for clone in (pickle.loads(pickle.dumps(metric)), copy.deepcopy(metric)):
        assert type(clone) is cls and clone.name == metric.name
        clone(trajectory.last((), (), (), 5.0, 0.0))
        metric_copy = copy.deepcopy(metric)
        metric_copy(trajectory.last((), (), (), 5.0, 0.0))
        assert clone.result() == metric_copy.result()
    assert metric.result() == before  # clones share no state with the original


def test_checkpoint_restores_window_and_accumulators(tmp_path):
    metrics = [cls() for cls in METRICS] + [py_metrics.CounterMetric()]
    for metric in metrics[:-1]:
        feed(metric)
    metrics[-1]()
    path = tf.train.Checkpoint(**{m.name: m for m in metrics}).save(str(tmp_path / "ckpt"))
    fresh = [type(m)() for m in metrics]
    tf.train.Checkpoint(**{m.name: m for m in fresh}).restore(path).assert_consumed()
    assert [float(m.result()) for m in fresh] == [float(m.result()) for m in metrics]
    fresh[0](trajectory.last((), (), (), 5.0, 0.0))  # pending return 2 + 5 = 7
    assert fresh[0].result() == pytest.approx((4.0 + 7.0) / 2)


def test_numpy_deque():
    deque = py_metrics.NumpyDeque(maxlen=3, dtype=np.float64)
    deque.extend([1, 2, 3, 4])
    assert (len(deque), deque.mean(), deque.last) == (3, 3.0, 4.0)
    unbounded = py_metrics.NumpyDeque(maxlen=np.inf, dtype=np.float64)
    unbounded.extend(range(25))
    assert (len(unbounded), unbounded.mean()) == (25, 12.0)
    deque.clear()
    with pytest.raises(RuntimeError, match="empty NumpyDeque"):
        _ = deque.last


def test_tf_metrics_values_on_a_batch():
    traj = trajectory.Trajectory(
        step_type=tf.constant([0, 1]),
        observation=tf.zeros([2]),
        action=tf.constant([1, 0]),
        policy_info=(),
        next_step_type=tf.constant([1, 2]),
        reward=tf.constant([1.0, 2.0]),
        discount=tf.ones([2]),
    )
    avg = tf_metrics.AverageReturnMetric(batch_size=2)
    length = tf_metrics.AverageEpisodeLengthMetric(batch_size=2)
    steps, episodes = tf_metrics.EnvironmentSteps(), tf_metrics.NumberOfEpisodes()
    for metric in (avg, length, steps, episodes):
        metric(traj)
    assert float(avg.result()) == 2.0
    assert float(length.result()) == 1.0
    assert (int(steps.result()), int(episodes.result())) == (2, 1)
    assert float(tf_metrics.MaxReturnMetric().result()) == np.finfo(np.float32).min


def test_tf_metric_summaries_are_written(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    average, steps = tf_metrics.AverageReturnMetric(), tf_metrics.EnvironmentSteps()
    histogram = tf_metrics.ChosenActionHistogram()
    histogram(trajectory.Trajectory(*[tf.constant([1, 2, 2])] * 7))
    with writer.as_default():
        assert (
            len(average.tf_summaries(train_step=tf.constant(3, tf.int64), step_metrics=[steps]))
            == 2
        )
        assert len(histogram.tf_summaries(train_step=tf.constant(3, tf.int64))) == 1
    writer.flush()
    assert list(tmp_path.glob("events.out.tfevents.*"))

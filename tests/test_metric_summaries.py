"""Metrics written to TensorBoard event files and read back."""

from __future__ import annotations

import glob

import numpy as np
import tensorflow as tf

from tfdrive.metrics import py_metrics, summaries
from tfdrive.trajectories import trajectory


def _read_scalars(logdir):
    scalars = []
    for path in sorted(glob.glob(f"{logdir}/events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name:  # written with each tag's first value
                    assert value.metadata.plugin_data.plugin_name == "scalars"
                assert value.tensor.dtype == tf.float32.as_datatype_enum
                scalars.append((value.tag, event.step, float(tf.make_ndarray(value.tensor))))
    return scalars


def _episode(ret):
    f32, i32 = np.float32, np.int32
    return trajectory.Trajectory(i32(0), 0, 0, (), i32(2), f32(ret), f32(0))


def test_summary_writer_writes_results_against_steps(tmp_path):
    ret, steps = py_metrics.AverageReturnMetric(), py_metrics.EnvironmentSteps()
    writer = summaries.SummaryWriter(str(tmp_path), [ret, steps], step_metrics=[steps])
    for r in (2.0, 4.0):
        ret(_episode(r))
        steps(_episode(r))
        writer.write(step=int(steps.result()) * 10)
    writer.close()
    assert _read_scalars(tmp_path) == [
        ("Metrics/AverageReturn", 10, 2.0),
        ("Metrics_vs_EnvironmentSteps/AverageReturn", 1, 2.0),
        ("Metrics/EnvironmentSteps", 10, 1.0),
        ("Metrics/AverageReturn", 20, 3.0),
        ("Metrics_vs_EnvironmentSteps/AverageReturn", 2, 3.0),
        ("Metrics/EnvironmentSteps", 20, 2.0),
    ]


def test_write_summaries_with_a_variable_step_and_the_default_writer(tmp_path):
    ret = py_metrics.AverageReturnMetric()
    ret(_episode(5.0))
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        summaries.write_summaries([ret], tf.Variable(7, dtype=tf.int64))
    writer.close()
    assert _read_scalars(tmp_path) == [("Metrics/AverageReturn", 7, 5.0)]

"""Replay buffers: TrajectoryBuffer's nest types and key checks; the TF and numpy buffers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.replay_buffers import py_uniform_replay_buffer, tf_uniform_replay_buffer
from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import trajectory

LEAF = array_spec.ArraySpec((), np.float32)
TRAJ_SPEC = trajectory.Trajectory(*[tensor_spec.TensorSpec((), tf.float32)] * 7)


class _Holder(tf.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec  # tf.Module wraps tuples and dicts in trackable proxies.


def test_trajectory_buffer_returns_the_specs_own_nest_types():
    held = _Holder((TRAJ_SPEC, {"a": LEAF})).spec
    assert type(held).__name__ == "_TupleWrapper"
    buffer = TrajectoryBuffer(held, batch_size=2, max_length=3)
    buffer.add_batch(
        (
            TRAJ_SPEC._replace(**{f: np.ones(2, np.float32) for f in TRAJ_SPEC._fields}),
            {"a": np.full(2, 5.0, np.float32)},
        )
    )
    got = buffer.gather_all()
    assert type(got) is tuple
    assert type(got[0]) is trajectory.Trajectory
    assert type(got[1]) is dict
    np.testing.assert_array_equal(got[1]["a"], [[5.0], [5.0]])
    assert buffer.data_spec is held


def test_trajectory_buffer_rejects_other_dict_keys_and_stores_nothing():
    buffer = TrajectoryBuffer({"a": LEAF, "b": LEAF}, batch_size=2, max_length=3)
    with pytest.raises(ValueError, match=r"items has keys \[\"'a'\", \"'c'\"\].*'b'") as err:
        buffer.add_batch({"a": np.zeros(2, np.float32), "c": np.ones(2, np.float32)})
    assert "data_spec: {'a': ArraySpec" in str(err.value)
    assert "items: {'a': array" in str(err.value)
    assert buffer.size == 0
    with pytest.raises(ValueError, match=r"items\[1\]\['x'\] has keys"):
        TrajectoryBuffer((LEAF, {"x": {"p": LEAF}}), 1, 2).add_batch(
            (np.float32(0), {"x": {"q": np.float32(1)}})
        )


def test_tf_uniform_buffer_gather_all_and_num_frames_after_wrap():
    spec = tensor_spec.TensorSpec([], tf.int64)
    rb = tf_uniform_replay_buffer.TFUniformReplayBuffer(spec, batch_size=2, max_length=3)
    for i in range(5):
        rb.add_batch(tf.constant([i, 10 + i], tf.int64))
    np.testing.assert_array_equal(rb.gather_all(), [[2, 3, 4], [12, 13, 14]])
    assert int(rb.num_frames()) == 6
    items, info = rb.get_next(sample_batch_size=4, num_steps=2)
    assert items.shape == (4, 2)
    np.testing.assert_array_equal(items[:, 1] - items[:, 0], [1, 1, 1, 1])
    np.testing.assert_allclose(info.probabilities, [1 / 4] * 4)
    rb.clear()
    assert int(rb.num_frames()) == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match="TFUniformReplayBuffer is empty"):
        rb.get_next()


def test_tf_uniform_buffer_rejects_list_specs_in_datasets():
    spec = [tensor_spec.TensorSpec([], tf.int64), tensor_spec.TensorSpec([], tf.int64)]
    rb = tf_uniform_replay_buffer.TFUniformReplayBuffer(spec, batch_size=1, max_length=3)
    with pytest.raises(ValueError, match="Convert any lists to tuples"):
        rb.as_dataset()


def test_py_uniform_buffer_checkpoint_round_trip(tmp_path):
    rb = py_uniform_replay_buffer.PyUniformReplayBuffer(LEAF, capacity=4)
    for i in range(6):
        rb.add_batch(np.array([i], np.float32))
    path = tf.train.Checkpoint(rb=rb).save(str(tmp_path / "ckpt"))
    restored = py_uniform_replay_buffer.PyUniformReplayBuffer(LEAF, capacity=4)
    tf.train.Checkpoint(rb=restored).restore(path)
    assert restored.size == 4
    np.testing.assert_array_equal(np.sort(restored.gather_all()[0]), [2, 3, 4, 5])
    with pytest.raises(NotImplementedError, match="batch size of 1"):
        rb.add_batch(np.zeros([2], np.float32))

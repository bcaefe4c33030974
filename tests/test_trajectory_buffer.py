"""TrajectoryBuffer: a [B, T] ring of trajectories, written natively, read as numpy."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from driver_mocks import AlternatingPolicy, BatchedCountingEnv, CountingEnv, Recorder
from tfdrive import _core
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.replay_buffers import BufferInfo, TrajectoryBuffer
from tfdrive.specs import array_spec
from tfdrive.trajectories import trajectory
from tfdrive.utils import nest

# A nested trajectory spec: dict observation, info nest, an unsigned leaf.
SPEC = trajectory.Trajectory(
    step_type=array_spec.ArraySpec((), np.int32),
    observation={
        "pos": array_spec.ArraySpec((2,), np.float32),
        "id": array_spec.ArraySpec((), np.int64),
    },
    action=array_spec.BoundedArraySpec((), np.int32, 0, 10),
    policy_info={
        "log_probability": array_spec.ArraySpec((), np.float32),
        "extra": (array_spec.ArraySpec((3,), np.uint8),),
    },
    next_step_type=array_spec.ArraySpec((), np.int32),
    reward=array_spec.ArraySpec((), np.float32),
    discount=array_spec.BoundedArraySpec((), np.float32, 0.0, 1.0),
)
NAMES = [
    "step_type",
    "observation['id']",
    "observation['pos']",
    "action",
    "policy_info['extra'][0]",
    "policy_info['log_probability']",
    "next_step_type",
    "reward",
    "discount",
]


def make_items(k, batch_size):
    """Batch number `k`: every leaf encodes k and the row b (id = 100 * k + b)."""
    b = np.arange(batch_size)
    return trajectory.Trajectory(
        step_type=np.full(batch_size, k % 3, np.int32),
        observation={
            "pos": np.stack([k + b / 10, -k - b / 10], axis=1).astype(np.float32),
            "id": (100 * k + b).astype(np.int64),
        },
        action=((k + b) % 11).astype(np.int32),
        policy_info={
            "log_probability": (-0.5 * k - b).astype(np.float32),
            "extra": (((np.arange(3) + 7 * k + b[:, None]) % 256).astype(np.uint8),),
        },
        next_step_type=np.full(batch_size, (k + 1) % 3, np.int32),
        reward=(k * 1.5 + b).astype(np.float32),
        discount=np.full(batch_size, 1.0 if k % 2 else 0.5, np.float32),
    )


def stack(batches):
    """The `[B, n, ...]` nest that holds `batches` (a list of `[B, ...]` nests) in order."""
    return nest.map_structure(lambda *xs: np.stack(xs, axis=1), *batches)


def assert_nest_equal(got, want):
    nest.assert_same_structure(got, want)
    assert type(got) is type(want)
    for g, w in zip(nest.flatten(got), nest.flatten(want), strict=True):
        assert isinstance(g, np.ndarray), type(g)
        w = np.asarray(w)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_array_equal(g, w)


def filled(batch_size=3, max_length=5, count=4):
    buffer = TrajectoryBuffer(SPEC, batch_size=batch_size, max_length=max_length)
    batches = [make_items(k, batch_size) for k in range(count)]
    for items in batches:
        buffer.add_batch(items)
    return buffer, batches


def test_add_batch_then_gather_all_exact_values_dtypes_and_shapes():
    buffer, batches = filled(batch_size=3, max_length=5, count=4)
    got = buffer.gather_all()
    assert isinstance(got, trajectory.Trajectory)
    assert_nest_equal(got, stack(batches))
    assert got.observation["pos"].shape == (3, 4, 2)
    assert got.policy_info["extra"][0].shape == (3, 4, 3)
    assert got.policy_info["extra"][0].dtype == np.uint8
    # gather_all is a copy.
    got.reward[...] = -1
    assert_nest_equal(buffer.gather_all(), stack(batches))


def test_sizes_and_properties():
    buffer = TrajectoryBuffer(SPEC, batch_size=3, max_length=5)
    assert buffer.data_spec is SPEC
    assert (buffer.batch_size, buffer.max_length, buffer.capacity) == (3, 5, 15)
    assert (buffer.size, buffer.num_frames(), len(buffer)) == (0, 0, 0)
    empty = buffer.gather_all()
    assert empty.observation["pos"].shape == (3, 0, 2)
    assert empty.step_type.dtype == np.int32
    for k in range(7):
        buffer.add_batch(make_items(k, 3))
        n = min(k + 1, 5)
        assert (buffer.size, buffer.num_frames(), len(buffer)) == (n, 3 * n, 3 * n)
    assert buffer._native_observer.names == NAMES
    assert isinstance(buffer._native_observer, _core.TrajectoryBufferCore)


def test_unbatched_items_with_batch_size_one():
    buffer = TrajectoryBuffer(SPEC, batch_size=1, max_length=4)
    unbatched = [nest.map_structure(lambda x: x[0], make_items(k, 1)) for k in range(3)]
    buffer.add_batch(unbatched[0])  # 0-d numpy arrays / [2] arrays
    # numpy scalars and Python numbers for 0-d leaves.
    item = unbatched[1]
    buffer.add_batch(
        item._replace(
            step_type=np.int32(item.step_type),
            action=int(item.action),
            reward=float(item.reward),
            discount=np.float32(item.discount),
        )
    )
    buffer.add_batch(make_items(2, 1))  # batched [1, ...] also accepted
    assert_nest_equal(buffer.gather_all(), stack([make_items(k, 1) for k in range(3)]))


def test_wrap_around_overwrites_the_oldest():
    buffer, batches = filled(batch_size=2, max_length=3, count=7)
    assert (buffer.size, buffer.num_frames(), buffer.start) == (3, 6, 1)
    # Only the last 3 batches remain, oldest first.
    assert_nest_equal(buffer.gather_all(), stack(batches[4:]))
    assert_nest_equal(buffer.as_numpy(), stack(batches[4:]))
    # Storage order: slot t holds batch 6, 4, 5 (k % 3); oldest at `start`.
    in_storage = buffer.as_numpy(ordered=False)
    assert_nest_equal(in_storage, stack([batches[6], batches[4], batches[5]]))
    ids = in_storage.observation["id"]
    np.testing.assert_array_equal(
        np.roll(ids, -buffer.start, axis=1), stack(batches[4:]).observation["id"]
    )


def test_wrap_around_exactly_full_and_one_slot():
    buffer, batches = filled(batch_size=2, max_length=3, count=6)
    assert buffer.start == 0
    assert_nest_equal(buffer.gather_all(), stack(batches[3:]))
    one = TrajectoryBuffer(SPEC, batch_size=2, max_length=1)
    for k in range(3):
        one.add_batch(make_items(k, 2))
    assert_nest_equal(one.gather_all(), stack([make_items(2, 2)]))


def test_as_numpy_is_a_read_only_view_until_the_buffer_wraps():
    buffer, batches = filled(batch_size=2, max_length=4, count=2)
    view = buffer.as_numpy()
    assert_nest_equal(view, stack(batches))
    for leaf in nest.flatten(view):
        assert not leaf.flags.writeable
        assert not leaf.flags.owndata  # a view of the storage
    with pytest.raises(ValueError):
        view.reward[0, 0] = 3.0
    # Same memory: a view taken when empty-ish sees later writes to its slots.
    storage_view = buffer.as_numpy(ordered=False)
    assert np.shares_memory(storage_view.reward, view.reward)
    # Full but not wrapped (start == 0): still views.
    buffer.add_batch(make_items(2, 2))
    buffer.add_batch(make_items(3, 2))
    full = buffer.as_numpy()
    assert not full.reward.flags.owndata
    assert_nest_equal(full, stack([make_items(k, 2) for k in range(4)]))
    # Wrapped: ordered=True gives a copy, ordered=False views in storage order.
    buffer.add_batch(make_items(4, 2))
    wrapped = buffer.as_numpy()
    assert_nest_equal(wrapped, stack([make_items(k, 2) for k in range(1, 5)]))
    assert not np.shares_memory(wrapped.reward, full.reward)
    assert np.shares_memory(buffer.as_numpy(ordered=False).reward, full.reward)


def check_sample(buffer, sample, sample_batch_size, num_steps):
    """Samples are stored items (rows and windows consistent, inside the stored range)."""
    n, batch_size = buffer.size, buffer.batch_size
    stored = buffer.gather_all()
    ids = sample.observation["id"]
    outer = ((sample_batch_size,) if sample_batch_size else ()) + (
        (num_steps,) if num_steps else ()
    )
    for got, spec in zip(nest.flatten(sample), nest.flatten(SPEC), strict=True):
        assert got.shape == outer + spec.shape and got.dtype == spec.dtype
    flat_ids = ids.reshape(-1, num_steps or 1)
    k, rows = flat_ids // 100, flat_ids % 100
    first_k = stored.observation["id"][0, 0] // 100
    assert (rows == rows[:, :1]).all() and (rows < batch_size).all()
    assert (np.diff(k, axis=1) == 1).all()  # consecutive, never across the write head
    assert (k >= first_k).all() and (k < first_k + n).all()
    # Every leaf comes from the same stored item.
    positions = (rows, k - first_k)
    for got, want in zip(nest.flatten(sample), nest.flatten(stored), strict=True):
        np.testing.assert_array_equal(got.reshape(flat_ids.shape + want.shape[2:]), want[positions])
    return rows, k - first_k


@pytest.mark.parametrize("sample_batch_size", [None, 1, 64])
@pytest.mark.parametrize("num_steps", [None, 1, 3])
@pytest.mark.parametrize("count", [4, 9])  # not wrapped, wrapped
def test_sample_shapes_values_and_determinism(sample_batch_size, num_steps, count):
    buffer, _ = filled(batch_size=3, max_length=5, count=count)
    sample = buffer.sample(sample_batch_size, num_steps, rng=7)
    check_sample(buffer, sample, sample_batch_size, num_steps)
    assert_nest_equal(buffer.sample(sample_batch_size, num_steps, rng=7), sample)
    assert_nest_equal(
        buffer.sample(sample_batch_size, num_steps, rng=np.random.default_rng(7)), sample
    )


def test_sample_covers_every_row_and_window_uniformly():
    buffer, _ = filled(batch_size=3, max_length=5, count=8)
    rng = np.random.default_rng(0)
    rows, starts = check_sample(buffer, buffer.sample(6000, 2, rng=rng), 6000, 2)
    assert set(rows[:, 0]) == {0, 1, 2}
    assert set(starts[:, 0]) == {0, 1, 2, 3}  # 5 items, windows of 2: starts 0..3
    counts = np.bincount(rows[:, 0] * 4 + starts[:, 0])
    assert counts.min() > 6000 / 12 * 0.8 and counts.max() < 6000 / 12 * 1.2
    # A generator advances: two draws differ.
    assert not np.array_equal(buffer.sample(50, rng=rng).reward, buffer.sample(50, rng=rng).reward)


def test_get_next_buffer_info():
    buffer, _ = filled(batch_size=2, max_length=5, count=8)
    items, info = buffer.get_next(4, 3, rng=1)
    assert isinstance(info, BufferInfo)
    np.testing.assert_array_equal(info.ids, items.observation["id"] // 100)
    assert info.ids.dtype == np.int64 and info.ids.shape == (4, 3)
    assert info.probabilities.dtype == np.float32
    np.testing.assert_allclose(info.probabilities, np.full(4, 1 / (2 * 3), np.float32))
    item, info = buffer.get_next(rng=1)
    assert item.reward.shape == () and info.ids.shape == () and info.probabilities.shape == ()
    np.testing.assert_allclose(info.probabilities, 1 / (2 * 5))
    steps, info = buffer.get_next(4, 3, time_stacked=False, rng=1)
    assert len(steps) == 3 and steps[0].observation["pos"].shape == (4, 2)
    np.testing.assert_array_equal(steps[2].reward, items.reward[:, 2])


def test_sample_errors():
    buffer = TrajectoryBuffer(SPEC, batch_size=2, max_length=5)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(3, rng=0)
    buffer.add_batch(make_items(0, 2))
    buffer.add_batch(make_items(1, 2))
    with pytest.raises(ValueError, match="num_steps=3 is more than the 2 items"):
        buffer.sample(3, num_steps=3, rng=0)
    with pytest.raises(ValueError, match="sample_batch_size"):
        buffer.sample(0, rng=0)


def test_clear():
    buffer, _ = filled(batch_size=2, max_length=3, count=5)
    buffer.clear()
    assert (buffer.size, len(buffer), buffer.start) == (0, 0, 0)
    assert buffer.gather_all().reward.shape == (2, 0)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(rng=0)
    buffer.add_batch(make_items(9, 2))
    assert_nest_equal(buffer.gather_all(), stack([make_items(9, 2)]))
    assert buffer._native_observer.cursor == 1
    _, info = buffer.get_next(rng=0)
    assert info.ids == 0  # ids restart after clear()


def test_errors_name_the_spec_leaf_and_write_nothing():
    buffer, batches = filled(batch_size=2, max_length=4, count=2)
    good = make_items(5, 2)
    bad_dtype = good._replace(
        observation={**good.observation, "pos": good.observation["pos"].astype(np.float64)}
    )
    with pytest.raises(
        TypeError, match=r"observation\['pos'\]` has dtype float64; the data_spec says float32"
    ):
        buffer.add_batch(bad_dtype)
    bad_shape = good._replace(
        policy_info={**good.policy_info, "extra": (np.zeros((2, 4), np.uint8),)}
    )
    with pytest.raises(
        ValueError, match=r"policy_info\['extra'\]\[0\]` has shape \(2, 4\); expected \(2, 3\)"
    ):
        buffer.add_batch(bad_shape)
    # A bad last leaf: the good leaves before it are not written either.
    with pytest.raises(ValueError, match=r"`discount` has shape \(3,\); expected \(2,\)"):
        buffer.add_batch(good._replace(discount=np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="unbatched"):
        TrajectoryBuffer(SPEC, 1, 2).add_batch(good)  # B=1 names both accepted shapes
    with pytest.raises(TypeError, match="`action` has dtype int64"):
        buffer.add_batch(good._replace(action=np.int64(1)))
    with pytest.raises(ValueError, match="data_spec"):
        buffer.add_batch(good._replace(observation={"pos": good.observation["pos"]}))
    with pytest.raises(
        ValueError, match=r"expects 9 leaves .*step_type, observation\['id'\].*got 2"
    ):
        buffer._native_observer.add_leaves([good.step_type, good.action])
    assert buffer.size == 2
    assert_nest_equal(buffer.gather_all(), stack(batches))


def test_non_contiguous_leaves_are_copied_in():
    buffer = TrajectoryBuffer(SPEC, batch_size=2, max_length=2)
    items = make_items(3, 2)
    pos = np.asfortranarray(np.stack([items.observation["pos"]] * 2, axis=-1))[..., 0]
    assert not pos.flags.c_contiguous
    buffer.add_batch(items._replace(observation={**items.observation, "pos": pos}))
    assert_nest_equal(buffer.gather_all(), stack([items]))


def test_constructor_checks():
    with pytest.raises(ValueError, match="batch_size"):
        TrajectoryBuffer(SPEC, batch_size=0)
    with pytest.raises(ValueError, match="max_length"):
        TrajectoryBuffer(SPEC, batch_size=1, max_length=0)
    with pytest.raises(TypeError, match="object dtypes"):
        TrajectoryBuffer({"s": array_spec.ArraySpec((), object)}, 1, 2)
    with pytest.raises(TypeError, match=r"`\['x'\]` is not a spec"):
        TrajectoryBuffer({"x": 3}, 1, 2)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.TrajectoryBufferCore([np.zeros((2, 3, 4))[:, :, ::2]], ["x"], 2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\); expected \(2, 4, ...\)"):
        _core.TrajectoryBufferCore([np.zeros((2, 3))], ["x"], 2, 4)
    assert TrajectoryBuffer(SPEC, 2, 3).capacity == 6
    assert TrajectoryBuffer(SPEC, 2).max_length == 1000


def test_the_buffer_is_an_observer():
    buffer = TrajectoryBuffer(SPEC, batch_size=2, max_length=3)
    buffer(make_items(0, 2))
    buffer(make_items(1, 2))
    assert_nest_equal(buffer.gather_all(), stack([make_items(0, 2), make_items(1, 2)]))


def test_tensor_specs_and_tensors():
    import tensorflow as tf

    spec = {"x": tf.TensorSpec((2,), tf.float32), "n": tf.TensorSpec((), tf.int32)}
    buffer = TrajectoryBuffer(spec, batch_size=2, max_length=3)
    buffer.add_batch({"x": tf.constant([[1.0, 2.0], [3.0, 4.0]]), "n": tf.constant([5, 6])})
    got = buffer.gather_all()
    np.testing.assert_array_equal(got["x"], [[[1.0, 2.0]], [[3.0, 4.0]]])
    assert got["n"].dtype == np.int32
    with pytest.raises(TypeError, match=r"`\['n'\]` has dtype int64"):
        buffer.add_batch({"x": tf.zeros((2, 2)), "n": tf.constant([5, 6], tf.int64)})
    with pytest.raises(ValueError, match="fully defined"):
        TrajectoryBuffer({"x": tf.TensorSpec((None,), tf.float32)}, 1, 2)


def test_as_dataset_element_spec_and_values():
    import tensorflow as tf

    buffer, _ = filled(batch_size=3, max_length=5, count=7)
    dataset = buffer.as_dataset(sample_batch_size=4, num_steps=2, seed=3)
    items_spec, info_spec = dataset.element_spec
    assert isinstance(items_spec, trajectory.Trajectory)
    assert items_spec.observation["pos"] == tf.TensorSpec((4, 2, 2), tf.float32)
    assert items_spec.policy_info["extra"][0] == tf.TensorSpec((4, 2, 3), tf.uint8)
    assert items_spec.reward == tf.TensorSpec((4, 2), tf.float32)
    assert info_spec == BufferInfo(tf.TensorSpec((4, 2), tf.int64), tf.TensorSpec((4,), tf.float32))
    rng = np.random.default_rng(3)
    for items, info in dataset.take(3):
        want, want_info = buffer.get_next(4, 2, rng=rng)
        assert_nest_equal(tf.nest.map_structure(lambda t: t.numpy(), items), want)
        np.testing.assert_array_equal(info.ids.numpy(), want_info.ids)
    # Iterating again restarts the seeded generator.
    first = next(iter(dataset))[0].reward.numpy()
    np.testing.assert_array_equal(first, buffer.get_next(4, 2, rng=3)[0].reward)
    single = buffer.as_dataset(seed=0)
    assert single.element_spec[0].observation["pos"] == tf.TensorSpec((2,), tf.float32)
    with pytest.raises(NotImplementedError):
        buffer.as_dataset(sequence_preprocess_fn=lambda x: x)


def test_as_dataset_single_deterministic_pass():
    import tensorflow as tf

    buffer, batches = filled(batch_size=3, max_length=5, count=7)  # wrapped: batches 2..6
    stored = stack(batches[2:])

    def ids(dataset):
        return [item.observation["id"].numpy().tolist() for item, _ in dataset]

    # Row by row, oldest first.
    assert ids(buffer.as_dataset(single_deterministic_pass=True)) == [
        100 * k + b for b in range(3) for k in range(2, 7)
    ]
    # Non-overlapping windows of 2; each row's last item (a short window) dropped.
    windows = ids(buffer.as_dataset(num_steps=2, single_deterministic_pass=True))
    assert windows == [[100 * k + b, 100 * (k + 1) + b] for b in range(3) for k in (2, 4)]
    # Groups of 2 rows (the last group has 1) per time index.
    dataset = buffer.as_dataset(sample_batch_size=2, single_deterministic_pass=True)
    assert dataset.element_spec[0].reward == tf.TensorSpec((None,), tf.float32)
    groups = ids(dataset)
    assert groups[:5] == [[100 * k, 100 * k + 1] for k in range(2, 7)]
    assert groups[5:] == [[100 * k + 2] for k in range(2, 7)]
    item, info = next(iter(buffer.as_dataset(single_deterministic_pass=True)))
    np.testing.assert_array_equal(item.reward.numpy(), stored.reward[0, 0])
    assert info.ids.numpy() == 2 and info.probabilities == ()


# The driver: the buffer's contents equal what a Python observer receives.


class CountingBuffer(TrajectoryBuffer):
    """Counts Python calls: the driver fills a native observer without any."""

    calls = 0

    def __call__(self, trajectory):
        self.calls += 1
        super().__call__(trajectory)


@pytest.mark.parametrize(
    "make_env, batch_size", [(CountingEnv, 1), (lambda: BatchedCountingEnv((3, 4, 5)), 3)]
)
@pytest.mark.parametrize("max_length", [100, 4])  # roomy, wrapped
def test_py_driver_fills_the_buffer_natively(make_env, batch_size, max_length):
    env, policy, recorder = make_env(), AlternatingPolicy(), Recorder()
    buffer = CountingBuffer(policy.trajectory_spec, batch_size=batch_size, max_length=max_length)
    driver = PyDriver(env, policy, [recorder, buffer], max_steps=15)
    time_step, state = driver.run(env.reset(), policy.get_initial_state(batch_size))
    driver.run(time_step, state)
    received = recorder.items
    assert len(received) > 4  # the buffer with max_length=4 wraps
    # The recorder's trajectories, with a batch dimension, oldest first.
    want = nest.map_structure(
        lambda spec, *xs: np.stack(
            [np.asarray(x, spec.dtype).reshape(batch_size, *spec.shape) for x in xs], 1
        ),
        policy.trajectory_spec,
        *received[-max_length:],
    )
    assert_nest_equal(buffer.gather_all(), want)
    assert buffer.size == min(len(received), max_length)
    assert buffer.calls == 0, "PyDriver called the buffer from Python: not wired natively"


def test_native_flattening_matches_nest_flatten():
    """`add_nested` (the driver's path) flattens in Rust in `tf.nest` order."""
    buffer = TrajectoryBuffer(SPEC, batch_size=2, max_length=4)
    items = make_items(1, 2)
    buffer._native_observer.add_nested(list(items))  # the Trajectory's fields
    buffer._native_observer.add_nested([make_items(2, 2)])  # one whole nest
    buffer.add_batch(make_items(3, 2))
    assert_nest_equal(buffer.gather_all(), stack([make_items(k, 2) for k in (1, 2, 3)]))
    # Non-string keys, numpy scalars and Python numbers, through the same path.
    spec = {1: array_spec.ArraySpec((), np.float32), 2: (array_spec.ArraySpec((), np.int32),)}
    small = TrajectoryBuffer(spec, batch_size=1, max_length=2)
    small._native_observer.add_nested([{2: (np.int32(4),), 1: 0.5}])
    got = small.gather_all()
    assert got[1].tolist() == [[0.5]] and got[2][0].tolist() == [[4]]
    with pytest.raises(ValueError, match="expects 2 leaves"):
        small._native_observer.add_nested([{1: 0.5}])


def test_works_without_tensorflow():
    """Import, fill, read and sample with `tensorflow` unimportable (numpy only)."""
    code = textwrap.dedent(
        """
        import sys

        class NoTensorFlow:
            def find_spec(self, name, path=None, target=None):
                if name == "tensorflow" or name.startswith("tensorflow."):
                    raise ImportError(f"blocked import of {name}")

        sys.meta_path.insert(0, NoTensorFlow())
        import numpy as np
        from tfdrive.replay_buffers import TrajectoryBuffer
        from tfdrive.specs import array_spec

        buffer = TrajectoryBuffer({"x": array_spec.ArraySpec((2,), np.float32)}, 2, 3)
        for k in range(4):
            buffer.add_batch({"x": np.full((2, 2), k, np.float32)})
        assert buffer.gather_all()["x"][:, :, 0].tolist() == [[1, 2, 3], [1, 2, 3]]
        assert buffer.sample(5, 2, rng=0)["x"].shape == (5, 2, 2)
        assert "tensorflow" not in sys.modules
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("copy_of", ["pickle", "deepcopy"])
def test_a_copied_buffer_keeps_its_items_and_position(copy_of):
    import copy
    import pickle

    buffer, batches = filled(batch_size=3, max_length=5, count=7)  # Wrapped around.
    copied = pickle.loads(pickle.dumps(buffer)) if copy_of == "pickle" else copy.deepcopy(buffer)
    assert_nest_equal(copied.gather_all(), buffer.gather_all())
    assert (copied.num_frames(), copied.start, copied.size) == (
        buffer.num_frames(),
        buffer.start,
        buffer.size,
    )
    # The two rings are independent and advance alike.
    copied.add_batch(make_items(7, 3))
    buffer.add_batch(make_items(7, 3))
    assert_nest_equal(copied.gather_all(), stack(batches[3:] + [make_items(7, 3)]))
    assert_nest_equal(buffer.gather_all(), copied.gather_all())
    copied.add_batch(make_items(8, 3))  # Only the copy moves on.
    assert_nest_equal(buffer.gather_all(), stack(batches[3:] + [make_items(7, 3)]))
    assert_nest_equal(
        copied.gather_all(), stack(batches[4:] + [make_items(7, 3), make_items(8, 3)])
    )


class _DictObservationEnv(CountingEnv):
    """CountingEnv whose observation is `{"count": state, <extra_key>: state}`."""

    def __init__(self, extra_key: str):
        super().__init__()
        self._extra_key = extra_key

    def observation_spec(self):
        return {"count": OBSERVATION_SPEC_INT, self._extra_key: OBSERVATION_SPEC_INT}

    def _wrap(self, time_step):
        obs = {"count": time_step.observation, self._extra_key: time_step.observation}
        return time_step._replace(observation=obs)

    def _reset(self):
        return self._wrap(super()._reset())

    def _step(self, action):
        if self._state >= self._final_state:
            return self.reset()
        return self._wrap(super()._step(action))


OBSERVATION_SPEC_INT = array_spec.ArraySpec((), np.int32)


@pytest.mark.parametrize("env_key, ok", [("state", True), ("other", False)])
def test_driver_path_refuses_other_dict_keys(env_key, ok):
    """The driver's native path checks dict keys: leaves are stored by position."""
    env, policy = _DictObservationEnv(env_key), AlternatingPolicy()
    spec = policy.trajectory_spec._replace(
        observation={"count": OBSERVATION_SPEC_INT, "state": OBSERVATION_SPEC_INT}
    )
    buffer = CountingBuffer(spec, batch_size=1, max_length=8)
    driver = PyDriver(env, policy, [buffer], max_steps=3)
    if ok:
        driver.run(env.reset())
        assert buffer.size > 0 and buffer.calls == 0
        observation = buffer.gather_all().observation
        np.testing.assert_array_equal(observation["state"], observation["count"])
        return
    with pytest.raises(ValueError, match=r'keys \["count", "other"\].*\["count", "state"\]'):
        driver.run(env.reset())
    assert buffer.size == 0

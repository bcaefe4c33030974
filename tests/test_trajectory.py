"""Tests of tfdrive.trajectories.trajectory: numpy and tensor paths."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories.trajectory import Trajectory, Transition

FIELDS = (
    "step_type",
    "observation",
    "action",
    "policy_info",
    "next_step_type",
    "reward",
    "discount",
)


def _np(x):
    return x.numpy() if tf.is_tensor(x) else x


def test_trajectory_fields():
    assert Trajectory._fields == FIELDS
    assert Transition._fields == ("time_step", "action_step", "next_time_step")
    traj = Trajectory(*range(7))
    assert traj.replace(action="a") == Trajectory(0, 1, "a", 3, 4, 5, 6)
    assert type(traj.replace(action="a")) is Trajectory


def _batch(step_type, next_step_type, make=np.asarray):
    return Trajectory(
        step_type=make(np.array(step_type, np.int32)),
        observation=(),
        action=(),
        policy_info=(),
        next_step_type=make(np.array(next_step_type, np.int32)),
        reward=(),
        discount=(),
    )


@pytest.mark.parametrize("make", [np.asarray, tf.constant])
def test_predicates(make):
    # FIRST->MID, MID->MID, MID->LAST, LAST->FIRST, FIRST->LAST
    traj = _batch([0, 1, 1, 2, 0], [1, 1, 2, 0, 2], make)
    np.testing.assert_array_equal(_np(traj.is_first()), [True, False, False, False, True])
    np.testing.assert_array_equal(_np(traj.is_mid()), [False, True, False, False, False])
    np.testing.assert_array_equal(_np(traj.is_last()), [False, False, True, False, True])
    np.testing.assert_array_equal(_np(traj.is_boundary()), [False, False, False, True, False])
    assert tf.is_tensor(traj.is_mid()) == (make is tf.constant)
    assert _np(traj.is_first()).dtype == np.bool_


def test_predicates_on_scalars():
    traj = trajectory.boundary(np.zeros(2), 1, (), 0.0, 1.0)
    assert traj.is_boundary() and not traj.is_last() and not traj.is_first()


HELPERS = [
    (trajectory.first, 0, 1),
    (trajectory.mid, 1, 1),
    (trajectory.last, 1, 2),
    (trajectory.single_step, 0, 2),
    (trajectory.boundary, 2, 0),
]


@pytest.mark.parametrize("helper, step, next_step", HELPERS)
def test_helpers_numpy(helper, step, next_step):
    traj = helper(
        observation={"o": [[1.0, 2.0], [3.0, 4.0]]},
        action=np.array([1, 0]),
        policy_info=(),
        reward=[0.5, 1.5],
        discount=np.array([1.0, 0.0], np.float32),
    )
    assert traj.step_type.dtype == np.int32 and traj.step_type.shape == (2,)
    np.testing.assert_array_equal(traj.step_type, [step, step])
    assert traj.next_step_type.dtype == np.int32
    np.testing.assert_array_equal(traj.next_step_type, [next_step, next_step])
    # Leaves go through np.asarray: nested lists stay nests of arrays.
    assert isinstance(traj.observation["o"], list)
    assert isinstance(traj.observation["o"][0][1], np.ndarray)
    assert traj.observation["o"][0][1] == 2.0
    assert traj.reward[1].dtype == np.float64 and traj.reward[1] == 1.5
    assert traj.discount.dtype == np.float32 and traj.policy_info == ()


def test_helpers_numpy_scalar_discount_gives_scalar_step_types():
    traj = trajectory.first(np.zeros(3), 1, (), 1.0, 0.99)
    assert traj.step_type.shape == () and traj.step_type.dtype == np.int32
    assert traj.step_type == 0 and traj.next_step_type == 1
    assert traj.discount.dtype == np.float64 and traj.discount == 0.99
    assert isinstance(traj.action, np.ndarray) and traj.action.dtype == np.int64


def test_helpers_numpy_2d_discount():
    traj = trajectory.mid((), (), (), (), np.ones((2, 3), np.float32))
    assert traj.step_type.shape == (2, 3)
    assert np.all(traj.step_type == 1) and np.all(traj.next_step_type == 1)


@pytest.mark.parametrize("helper, step, next_step", HELPERS)
def test_helpers_tensor(helper, step, next_step):
    traj = helper(
        observation=tf.zeros((2, 3)),
        action=np.array([1, 0]),
        policy_info={"lp": tf.constant([0.1, 0.2])},
        reward=tf.constant([0.5, 1.5]),
        discount=tf.constant([1.0, 0.0]),
    )
    for field in traj:
        for leaf in tf.nest.flatten(field):
            assert tf.is_tensor(leaf)
    assert traj.step_type.dtype == tf.int32 and traj.step_type.numpy().tolist() == [step, step]
    assert traj.next_step_type.numpy().tolist() == [next_step, next_step]
    assert traj.action.dtype == tf.int64


def test_from_transition_assigns_without_copy():
    obs, act, info = np.zeros(2), np.array(1), {"lp": np.array(0.5)}
    reward, discount = np.array(1.0, np.float32), np.array(0.9, np.float32)
    step = ts.TimeStep(ts.StepType.FIRST, np.array(0.0, np.float32), np.array(1.0), obs)
    action_step = policy_step.PolicyStep(act, state="state-not-kept", info=info)
    next_step = ts.TimeStep(ts.StepType.MID, reward, discount, np.ones(2))
    traj = trajectory.from_transition(step, action_step, next_step)
    assert type(traj) is Trajectory
    assert traj.step_type is ts.StepType.FIRST
    assert traj.observation is obs and traj.action is act and traj.policy_info is info
    assert traj.next_step_type is ts.StepType.MID
    assert traj.reward is reward and traj.discount is discount


def test_from_episode_numpy():
    traj = trajectory.from_episode(
        observation=np.zeros((4, 2)), action=np.arange(4), policy_info=(), reward=np.arange(4.0)
    )
    assert traj.step_type.dtype == np.int32 and traj.step_type.tolist() == [0, 1, 1, 1]
    assert traj.next_step_type.dtype == np.int32
    assert traj.next_step_type.tolist() == [1, 1, 1, 2]
    assert traj.discount.dtype == np.float32 and traj.discount.tolist() == [1, 1, 1, 1]
    one = trajectory.from_episode(np.zeros((1, 2)), np.zeros(1), (), np.zeros(1))
    assert one.step_type.tolist() == [0] and one.next_step_type.tolist() == [2]
    given = trajectory.from_episode(
        np.zeros((2, 2)), np.zeros(2), (), np.zeros(2), np.array([1.0, 0.5])
    )
    assert given.discount.dtype == np.float64 and given.discount.tolist() == [1.0, 0.5]


def test_from_episode_checks_time_dimension():
    with pytest.raises(ValueError, match="Expected first dimension to be 3, but saw outer dim: 2"):
        trajectory.from_episode(np.zeros((2, 2)), np.zeros(3), (), np.zeros(3))


def test_from_episode_tensor():
    traj = trajectory.from_episode(tf.zeros((3, 2)), tf.zeros(3), (), tf.ones(3))
    assert tf.is_tensor(traj.step_type) and traj.step_type.dtype == tf.int32
    assert traj.step_type.numpy().tolist() == [0, 1, 1]
    assert traj.next_step_type.numpy().tolist() == [1, 1, 2]
    assert traj.discount.dtype == tf.float32 and traj.discount.numpy().tolist() == [1, 1, 1]


@pytest.mark.parametrize("make", [np.asarray, tf.constant])
def test_to_transition_splits_time_axis(make):
    b, t = 2, 3
    traj = Trajectory(
        step_type=make(np.array([[0, 1, 1], [1, 1, 2]], np.int32)),
        observation={"o": make(np.arange(b * t * 2, dtype=np.float32).reshape(b, t, 2))},
        action=make(np.arange(b * t).reshape(b, t)),
        policy_info=(),
        next_step_type=make(np.array([[1, 1, 2], [1, 2, 0]], np.int32)),
        reward=make(np.arange(b * t, dtype=np.float32).reshape(b, t)),
        discount=make(np.ones((b, t), np.float32)),
    )
    out = trajectory.to_transition(traj)
    assert type(out) is Transition
    step, action_step, next_step = out
    assert type(step) is ts.TimeStep and type(action_step) is policy_step.PolicyStep
    np.testing.assert_array_equal(_np(step.step_type), [[0, 1], [1, 1]])
    np.testing.assert_array_equal(_np(step.observation["o"]), _np(traj.observation["o"])[:, :-1])
    np.testing.assert_array_equal(_np(step.reward), np.zeros((2, 2)))
    np.testing.assert_array_equal(_np(step.discount), np.zeros((2, 2)))
    assert _np(step.reward).dtype == np.float32
    assert tf.is_tensor(step.reward) == (make is tf.constant)
    np.testing.assert_array_equal(_np(action_step.action), [[0, 1], [3, 4]])
    assert action_step.state == () and action_step.info == ()
    np.testing.assert_array_equal(_np(next_step.step_type), [[1, 1], [1, 2]])
    np.testing.assert_array_equal(_np(next_step.reward), [[0, 1], [3, 4]])
    np.testing.assert_array_equal(
        _np(next_step.observation["o"]), _np(traj.observation["o"])[:, 1:]
    )


def test_to_transition_with_next_trajectory():
    traj = trajectory.first(np.zeros((2, 3)), np.zeros(2), (), np.ones(2), np.ones(2))
    nxt = trajectory.last(np.ones((2, 3)), np.zeros(2), (), np.ones(2), np.zeros(2))
    step, _, next_step = trajectory.to_transition(traj, nxt)
    assert step.step_type.tolist() == [0, 0]
    assert next_step.step_type.tolist() == [1, 1]
    assert next_step.observation.tolist() == np.ones((2, 3)).tolist()


def test_to_transition_rank_errors():
    traj = trajectory.first(np.zeros(3), 0, (), 1.0, 1.0)
    with pytest.raises(ValueError, match=r"Expect variable within rank \[1,2\], but got rank 0\."):
        trajectory.to_transition(traj)
    deep = trajectory.first((), (), (), (), np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match=r"but got rank 3\."):
        trajectory.to_transition(deep)


def test_to_n_step_transition():
    traj = Trajectory(
        step_type=tf.constant([[0, 1, 1]], tf.int32),
        observation=tf.constant([[10.0, 11.0, 12.0]]),
        action=tf.constant([[1, 2, 3]]),
        policy_info=(),
        next_step_type=tf.constant([[1, 1, 2]], tf.int32),
        reward=tf.constant([[1.0, 2.0, 4.0]]),
        discount=tf.constant([[1.0, 0.5, 1.0]]),
    )
    step, action_step, next_step = trajectory.to_n_step_transition(traj, gamma=0.9)
    # N = 2: reward = r0 + g*d0*r1 ; discount = g^(N-1) * d0 * d1
    np.testing.assert_allclose(next_step.reward.numpy(), [1.0 + 0.9 * 1.0 * 2.0])
    np.testing.assert_allclose(next_step.discount.numpy(), [0.9 * 1.0 * 0.5])
    assert next_step.step_type.numpy().tolist() == [1]
    assert next_step.observation.numpy().tolist() == [12.0]
    assert action_step.action.numpy().tolist() == [1]
    assert np.isnan(step.reward.numpy()).all() and np.isnan(step.discount.numpy()).all()
    with pytest.raises(ValueError, match="Trajectory frame count must be at least 2, but saw 1"):
        trajectory.to_n_step_transition(traj._replace(discount=tf.ones((1, 1))), 0.9)


def test_to_transition_spec():
    traj_spec = Trajectory("st", "obs", "act", "info", "nst", "rew", "disc")
    spec = trajectory.to_transition_spec(traj_spec)
    assert spec.time_step == ts.TimeStep("st", "rew", "disc", "obs")
    assert spec.next_time_step == spec.time_step
    assert spec.action_step == policy_step.PolicyStep("act", (), "info")

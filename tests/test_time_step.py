"""Tests of tfdrive.trajectories.time_step: numpy and tensor paths."""

import re

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.specs import tensor_spec
from tfdrive.specs.array_spec import ArraySpec, BoundedArraySpec
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories.time_step import StepType, TimeStep


def _check(x, value, dtype, shape):
    """Asserts a numpy array's exact value, dtype and shape."""
    assert isinstance(x, np.ndarray), type(x)
    assert x.dtype == dtype and x.shape == shape
    np.testing.assert_array_equal(x, np.asarray(value, dtype=dtype))


def _check_t(x, value, dtype, shape):
    """Asserts a tensor's exact value, dtype and shape."""
    assert tf.is_tensor(x), type(x)
    assert x.dtype == dtype and tuple(x.shape) == shape
    np.testing.assert_array_equal(x.numpy(), np.asarray(value, dtype=dtype.as_numpy_dtype))


# ------------------------------------------------------------------ StepType


def test_step_type_constants():
    for const, value in ((StepType.FIRST, 0), (StepType.MID, 1), (StepType.LAST, 2)):
        _check(const, value, np.int32, ())


def test_step_type_constructor():
    assert StepType(0) is StepType.FIRST
    assert StepType(np.int64(1)) is StepType.MID
    assert StepType(2.0) is StepType.LAST
    with pytest.raises(ValueError, match=re.escape("No known conversion for `3` into a StepType")):
        StepType(3)


# ------------------------------------------------------------------ TimeStep


def test_time_step_fields_and_predicates_numpy():
    step = TimeStep(np.array([0, 1, 2], np.int32), 0.0, 1.0, ())
    assert TimeStep._fields == ("step_type", "reward", "discount", "observation")
    np.testing.assert_array_equal(step.is_first(), [True, False, False])
    np.testing.assert_array_equal(step.is_mid(), [False, True, False])
    np.testing.assert_array_equal(step.is_last(), [False, False, True])
    assert step.is_first().dtype == np.bool_
    scalar = TimeStep(StepType.LAST, 0.0, 0.0, ())
    assert scalar.is_last() and not scalar.is_first()


def test_time_step_predicates_tensor():
    step = TimeStep(tf.constant([2, 0], tf.int32), 0.0, 1.0, ())
    _check_t(step.is_first(), [False, True], tf.bool, (2,))
    _check_t(step.is_mid(), [False, False], tf.bool, (2,))
    _check_t(step.is_last(), [True, False], tf.bool, (2,))


def test_time_step_hash_and_repr():
    assert hash(TimeStep(1, 2.0, 3.0, (4, 5))) == hash((1, 2.0, 3.0, 4, 5))
    with pytest.raises(TypeError, match="unhashable"):
        hash(ts.restart(np.zeros(2)))
    text = repr(TimeStep(0, 1.0, 2.0, "o"))
    assert (
        text == "TimeStep(\n{'step_type': 0, 'reward': 1.0, 'discount': 2.0, 'observation': 'o'})"
    )


# ------------------------------------------------------------------- restart


def test_restart_numpy_unbatched():
    obs = np.zeros(3)
    step = ts.restart(obs)
    assert step.step_type is StepType.FIRST
    _check(step.reward, 0.0, np.float32, ())
    _check(step.discount, 1.0, np.float32, ())
    assert step.observation is obs


def test_restart_numpy_batched():
    step = ts.restart({"o": np.zeros((3, 2))}, batch_size=3)
    _check(step.step_type, [0, 0, 0], np.int32, (3,))
    _check(step.reward, [0, 0, 0], np.float32, (3,))
    _check(step.discount, [1, 1, 1], np.float32, (3,))


def test_restart_numpy_reward_spec():
    spec = {"a": ArraySpec((2,), np.int32), "b": ArraySpec((), np.float64)}
    step = ts.restart(np.zeros(1), reward_spec=spec)
    _check(step.reward["a"], [0, 0], np.int32, (2,))
    _check(step.reward["b"], 0.0, np.float64, ())
    _check(step.discount, 1.0, np.float32, ())
    batched = ts.restart(np.zeros(1), batch_size=2, reward_spec=spec)
    _check(batched.reward["a"], [[0, 0], [0, 0]], np.int32, (2, 2))
    tensor_spec_reward = ts.restart(np.zeros(1), reward_spec=tf.TensorSpec((3,), tf.int64))
    _check(tensor_spec_reward.reward, [0, 0, 0], np.int64, (3,))


def test_restart_tensor_path():
    step = ts.restart(tf.zeros((4, 2)), batch_size=4)
    _check_t(step.step_type, [0] * 4, tf.int32, (4,))
    _check_t(step.reward, [0] * 4, tf.float32, (4,))
    _check_t(step.discount, [1] * 4, tf.float32, (4,))
    unbatched = ts.restart(tf.zeros(2))
    _check_t(unbatched.step_type, 0, tf.int32, ())
    with_spec = ts.restart(tf.zeros((2, 1)), 2, reward_spec=tf.TensorSpec((3,), tf.float64))
    _check_t(with_spec.reward, np.zeros((2, 3)), tf.float64, (2, 3))


# ---------------------------------------------------------------- transition


def test_transition_numpy_scalar():
    step = ts.transition(np.zeros(2), reward=3, discount=0.5)
    assert step.step_type is StepType.MID
    _check(step.reward, 3.0, np.float32, ())
    _check(step.discount, 0.5, np.float32, ())


def test_transition_numpy_batched_infers_from_reward():
    step = ts.transition(
        np.zeros((3, 2)), reward=np.array([1.0, 2.0, 3.0]), discount=[1.0, 0.5, 0.0]
    )
    _check(step.step_type, [1, 1, 1], np.int32, (3,))
    _check(step.reward, [1, 2, 3], np.float32, (3,))
    _check(step.discount, [1.0, 0.5, 0.0], np.float32, (3,))
    nested = ts.transition(np.zeros(2), reward={"x": np.array([1, 2]), "y": np.array([3, 4])})
    _check(nested.reward["x"], [1, 2], np.float32, (2,))
    _check(nested.step_type, [1, 1], np.int32, (2,))
    # A list is a nest, not an array: each element becomes a scalar reward.
    listed = ts.transition(np.zeros(2), reward=[1, 2])
    assert isinstance(listed.reward, list)
    _check(listed.reward[1], 2.0, np.float32, ())
    assert listed.step_type is StepType.MID


def test_transition_numpy_outer_dims_keeps_reward():
    reward = np.array([1, 2], np.int64)
    step = ts.transition(np.zeros((2, 3)), reward=reward, outer_dims=[2])
    assert step.reward is reward
    _check(step.step_type, [1, 1], np.int32, (2,))
    _check(step.discount, 1.0, np.float32, ())


@pytest.mark.parametrize("bad", [None, np.nan, [1.0, None]])
def test_transition_none_or_nan_reward_raises(bad):
    with pytest.raises(
        ValueError,
        match=r"Received a time_step input that converted to a nan array\. Did you accidentally "
        r"set some input value to None\?\.\nGot:\n",
    ):
        ts.transition(np.zeros(2), reward=bad)


def test_transition_nan_discount_raises():
    with pytest.raises(ValueError, match="converted to a nan array"):
        ts.transition(np.zeros(2), reward=1.0, discount=None)


def test_transition_tensor_path():
    step = ts.transition(tf.zeros((3, 2)), reward=tf.constant([1.0, 2.0, 3.0]), discount=0.5)
    _check_t(step.step_type, [1, 1, 1], tf.int32, (3,))
    _check_t(step.reward, [1, 2, 3], tf.float32, (3,))
    _check_t(step.discount, [0.5] * 3, tf.float32, (3,))
    scalar = ts.transition(tf.zeros(2), reward=tf.constant(1.0))
    _check_t(scalar.step_type, 1, tf.int32, ())
    _check_t(scalar.discount, 1.0, tf.float32, ())
    outer = ts.transition(tf.zeros((2, 2)), tf.constant([1.0, 2.0]), [0.1, 0.2], outer_dims=[2])
    _check_t(outer.discount, [0.1, 0.2], tf.float32, (2,))


# ---------------------------------------------------- termination / truncation


def test_termination_numpy():
    step = ts.termination(np.zeros(2), reward=1)
    assert step.step_type is StepType.LAST
    _check(step.reward, 1.0, np.float32, ())
    _check(step.discount, 0.0, np.float32, ())
    batched = ts.termination(np.zeros((2, 2)), reward=np.array([1.0, 2.0]))
    _check(batched.step_type, [2, 2], np.int32, (2,))
    _check(batched.discount, [0, 0], np.float32, (2,))
    outer = ts.termination(np.zeros((2, 2)), reward=[1, 2], outer_dims=(2,))
    assert outer.reward == [1, 2]
    _check(outer.discount, [0, 0], np.float32, (2,))
    with pytest.raises(ValueError, match="converted to a nan array"):
        ts.termination(np.zeros(2), reward=None)


def test_termination_tensor():
    step = ts.termination(tf.zeros((2, 4)), reward=tf.constant([1.0, 2.0]))
    _check_t(step.step_type, [2, 2], tf.int32, (2,))
    _check_t(step.discount, [0, 0], tf.float32, (2,))


def test_truncation_numpy_and_tensor():
    step = ts.truncation(np.zeros(2), reward=1.0, discount=0.9)
    assert step.step_type is StepType.LAST
    _check(step.discount, 0.9, np.float32, ())
    batched = ts.truncation(np.zeros((2, 1)), reward=np.array([1.0, 2.0]))
    _check(batched.step_type, [2, 2], np.int32, (2,))
    _check(batched.discount, 1.0, np.float32, ())
    t = ts.truncation(tf.zeros((2, 1)), reward=tf.constant([1.0, 2.0]), discount=0.25)
    _check_t(t.step_type, [2, 2], tf.int32, (2,))
    _check_t(t.discount, [0.25, 0.25], tf.float32, (2,))
    with pytest.raises(ValueError, match="converted to a nan array"):
        ts.truncation(np.zeros(2), reward=float("nan"))


# ------------------------------------------------------------ time_step_spec


def test_time_step_spec_none():
    assert ts.time_step_spec() == TimeStep((), (), (), ())


def test_time_step_spec_array():
    obs = {"o": ArraySpec((2,), np.float32)}
    spec = ts.time_step_spec(obs)
    assert type(spec.step_type) is ArraySpec and spec.step_type.name == "step_type"
    assert spec.step_type == ArraySpec((), np.int32)
    assert type(spec.reward) is ArraySpec and spec.reward.name == "reward"
    assert spec.reward == ArraySpec((), np.float32)
    assert spec.discount == BoundedArraySpec((), np.float32, 0.0, 1.0)
    assert spec.discount.name == "discount"
    assert spec.observation is obs
    reward = ArraySpec((3,), np.float64)
    assert ts.time_step_spec(obs, reward).reward is reward


def test_time_step_spec_tensor():
    obs = tf.TensorSpec((2,), tf.float32)
    spec = ts.time_step_spec(obs)
    assert spec.step_type == tf.TensorSpec((), tf.int32, name="step_type")
    assert spec.reward == tf.TensorSpec((), tf.float32, name="reward")
    assert spec.discount == tensor_spec.BoundedTensorSpec((), tf.float32, 0.0, 1.0, "discount")
    assert isinstance(spec.discount, tensor_spec.BoundedTensorSpec)


def test_time_step_spec_mixed_kinds_raise_type_error():
    with pytest.raises(
        TypeError,
        match=r"Expected observation and reward specs to both be either tensor or array specs, "
        r"but saw spec values ArraySpec\(shape=\(2,\).* vs\. TensorSpec\(shape=\(\),",
    ):
        ts.time_step_spec(ArraySpec((2,), np.float32), tf.TensorSpec((), tf.float32))
    with pytest.raises(TypeError, match="Expected observation and reward specs"):
        ts.time_step_spec(tf.TensorSpec((2,), tf.float32), ArraySpec((), np.float32))

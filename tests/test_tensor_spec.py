"""Tests of tfdrive.specs.tensor_spec."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import tensor_spec as tf_tensor_spec

from tfdrive import specs
from tfdrive.specs import tensor_spec
from tfdrive.specs.array_spec import ArraySpec, BoundedArraySpec


def test_spec_classes_are_tensorflows():
    assert tensor_spec.TensorSpec is tf.TensorSpec
    assert tensor_spec.BoundedTensorSpec is tf_tensor_spec.BoundedTensorSpec
    assert specs.TensorSpec is tf.TensorSpec
    assert specs.tensor_spec is tensor_spec
    assert specs.sample_spec_nest is tensor_spec.sample_spec_nest
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        specs.nope  # noqa: B018


def test_is_bounded_discrete_continuous():
    assert tensor_spec.is_bounded(tensor_spec.BoundedTensorSpec((), tf.int32, 0, 1))
    assert tensor_spec.is_bounded(BoundedArraySpec((), np.int32))
    assert tensor_spec.is_bounded(tf.TensorSpec((), tf.int32)) is None
    assert tensor_spec.is_bounded(ArraySpec((), np.int32)) is None
    assert tensor_spec.is_discrete(tf.TensorSpec((), tf.int64))
    assert not tensor_spec.is_discrete(tf.TensorSpec((), tf.bool))
    assert tensor_spec.is_discrete(ArraySpec((), np.uint8))
    assert tensor_spec.is_continuous(tf.TensorSpec((), tf.float16))
    assert not tensor_spec.is_continuous(tf.TensorSpec((), tf.int32))
    assert tensor_spec.is_continuous(ArraySpec((), np.float64))


def test_from_spec_keeps_bounds_and_names():
    nest = {
        "a": ArraySpec((2,), np.float32, "a"),
        "b": BoundedArraySpec((3,), np.int32, 0, [1, 2, 3], "b"),
        "t": tf.TensorSpec((1,), tf.int8, "t"),
    }
    out = tensor_spec.from_spec(nest)
    assert type(out["a"]) is tf.TensorSpec
    assert out["a"] == tf.TensorSpec((2,), tf.float32, "a")
    assert type(out["b"]) is tensor_spec.BoundedTensorSpec
    assert out["b"].shape == (3,) and out["b"].dtype == tf.int32 and out["b"].name == "b"
    np.testing.assert_array_equal(out["b"].minimum, 0)
    np.testing.assert_array_equal(out["b"].maximum, [1, 2, 3])
    assert out["t"] is nest["t"]
    with pytest.raises(
        ValueError,
        match=r"No known conversion from type `<class 'int'>` to a TensorSpec\.  Saw:\n  3",
    ):
        tensor_spec.from_spec([3])


def test_to_array_spec_keeps_bounds_and_names():
    nest = [
        tf.TensorSpec((2, 3), tf.float64, "x"),
        tensor_spec.BoundedTensorSpec((2,), tf.int64, -1, 5, "y"),
        ArraySpec((1,), np.int8),
    ]
    out = tensor_spec.to_array_spec(nest)
    assert type(out[0]) is ArraySpec
    assert out[0] == ArraySpec((2, 3), np.float64) and out[0].name == "x"
    assert type(out[1]) is BoundedArraySpec
    assert out[1] == BoundedArraySpec((2,), np.int64, -1, 5) and out[1].name == "y"
    assert out[2] is nest[2]
    assert tensor_spec.to_nest_array_spec(nest[0]) == ArraySpec((2, 3), np.float64)


def test_round_trip_array_tensor_array():
    spec = BoundedArraySpec((2,), np.float32, [-1.0, 0.0], 1.0, "r")
    assert tensor_spec.to_array_spec(tensor_spec.from_spec(spec)) == spec


def test_sample_spec_nest_shapes_dtypes_bounds():
    nest = {
        "f": tensor_spec.BoundedTensorSpec((3,), tf.float32, -1.0, 1.0),
        "i": tensor_spec.BoundedTensorSpec((2,), tf.int32, [0, 10], [1, 11]),
        "u": tf.TensorSpec((4,), tf.uint8),
        "b": tf.TensorSpec((5,), tf.bool),
        "s": tf.TensorSpec((2,), tf.string),
        "open": tf.TensorSpec((3,), tf.float64),
    }
    out = tensor_spec.sample_spec_nest(nest, seed=1, outer_dims=(6,))
    assert out["f"].shape == (6, 3) and out["f"].dtype == tf.float32
    assert np.all(np.abs(out["f"].numpy()) <= 1.0)
    assert out["i"].shape == (6, 2) and out["i"].dtype == tf.int32
    i = out["i"].numpy()
    assert set(np.unique(i[:, 0])) <= {0, 1} and set(np.unique(i[:, 1])) <= {10, 11}
    assert out["u"].dtype == tf.uint8 and out["u"].shape == (6, 4)
    assert out["b"].dtype == tf.bool and out["b"].shape == (6, 5)
    assert out["s"].dtype == tf.string
    assert {int(x) for x in out["s"].numpy().ravel()} <= set(range(11))
    assert np.all(np.isfinite(out["open"].numpy()))
    assert np.all(np.abs(out["open"].numpy()) <= np.finfo(np.float64).max / 8)


def test_sample_spec_nest_minimum_maximum():
    spec = tf.TensorSpec((100,), tf.int32)
    out = tensor_spec.sample_spec_nest(spec, seed=2, minimum=3, maximum=4).numpy()
    assert set(np.unique(out)) <= {3, 4}


def test_sample_spec_nest_seeded_reproducible():
    spec = [
        tensor_spec.BoundedTensorSpec((4,), tf.float32, 0.0, 1.0),
        tf.TensorSpec((2,), tf.int32),
    ]
    tf.random.set_seed(7)
    a = tensor_spec.sample_spec_nest(spec, seed=3)
    tf.random.set_seed(7)
    b = tensor_spec.sample_spec_nest(spec, seed=3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_sample_spec_nest_sparse_and_errors():
    sparse = tensor_spec.sample_spec_nest(tf.SparseTensorSpec((3, 4), tf.float32), seed=1)
    assert isinstance(sparse, tf.SparseTensor)
    assert sparse.dense_shape.numpy().tolist() == [3, 4]
    with pytest.raises(TypeError, match="Spec type not supported: 'ArraySpec"):
        tensor_spec.sample_spec_nest(ArraySpec((), np.int32))


def test_zero_spec_nest():
    nest = {
        "a": tf.TensorSpec((2,), tf.int32),
        "b": tensor_spec.BoundedTensorSpec((), tf.float64, 1, 2),
    }
    out = tensor_spec.zero_spec_nest(nest)
    assert out["a"].dtype == tf.int32 and out["a"].numpy().tolist() == [0, 0]
    assert out["b"].dtype == tf.float64 and out["b"].shape == ()
    batched = tensor_spec.zero_spec_nest(nest, outer_dims=[3])
    assert batched["a"].shape == (3, 2) and batched["b"].shape == (3,)
    assert tensor_spec.zero_spec_nest(()) == ()
    with pytest.raises(NotImplementedError, match="Spec type not supported: 'ArraySpec"):
        tensor_spec.zero_spec_nest(ArraySpec((), np.int32))


def test_add_outer_dims_nest_and_add_outer_dim():
    nest = {
        "a": ArraySpec((2,), np.float32, "a"),
        "b": tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3, "b"),
    }
    out = tensor_spec.add_outer_dims_nest(nest, (4,))
    assert out["a"] == tf.TensorSpec((4, 2), tf.float32, "a")
    assert type(out["b"]) is tensor_spec.BoundedTensorSpec
    assert out["b"] == tensor_spec.BoundedTensorSpec((4,), tf.int32, 0, 3, "b")
    assert tensor_spec.add_outer_dim(tf.TensorSpec((2,), tf.int8)).shape.as_list() == [None, 2]
    with pytest.raises(ValueError, match="outer_dims must be a tuple or list of dimensions"):
        tensor_spec.add_outer_dims_nest(nest, 4)


def test_remove_outer_dims_and_with_dtype():
    spec = tensor_spec.BoundedTensorSpec((4, 2), tf.int32, 0, 3, "s")
    removed = tensor_spec.remove_outer_dims_nest(spec, 1)
    assert removed == tensor_spec.BoundedTensorSpec((2,), tf.int32, 0, 3, "s")
    with pytest.raises(ValueError, match="has rank lower than the specified num_outer_dims 3"):
        tensor_spec.remove_outer_dims_nest(spec, 3)
    assert tensor_spec.with_dtype(tf.TensorSpec((2,), tf.int32), tf.float32) == tf.TensorSpec(
        (2,), tf.float32
    )
    assert tensor_spec.with_dtype(spec, tf.int64).dtype == tf.int64

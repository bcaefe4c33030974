"""Value-by-value tests of tfdrive.specs.array_spec (numpy only)."""

import pickle
import re

import numpy as np
import pytest

from tfdrive.specs import array_spec
from tfdrive.specs.array_spec import ArraySpec, BoundedArraySpec

# ---------------------------------------------------------------- ArraySpec


def test_array_spec_fields_and_types():
    spec = ArraySpec([2, 3], "float32", name="obs")
    assert spec.shape == (2, 3)
    assert isinstance(spec.shape, tuple)
    assert spec.dtype == np.dtype(np.float32)
    assert isinstance(spec.dtype, np.dtype)
    assert spec.name == "obs"
    assert ArraySpec((), np.int64).name is None


def test_array_spec_repr():
    assert (
        repr(ArraySpec((2,), np.int32, "a"))
        == "ArraySpec(shape=(2,), dtype=dtype('int32'), name='a')"
    )


def test_array_spec_equality_ignores_name():
    assert ArraySpec((2,), np.int32, "a") == ArraySpec([2], "int32", "b")
    assert not ArraySpec((2,), np.int32, "a") != ArraySpec([2], "int32", "b")
    assert ArraySpec((2,), np.int32) != ArraySpec((3,), np.int32)
    assert ArraySpec((2,), np.int32) != ArraySpec((2,), np.int64)
    assert ArraySpec((2,), np.int32) != (2,)
    assert ArraySpec((), np.float32) != np.zeros((), np.float32)


def test_array_spec_is_unhashable():
    with pytest.raises(TypeError, match="unhashable"):
        hash(ArraySpec((), np.int32))


def test_array_spec_is_immutable():
    spec = ArraySpec((2,), np.int32)
    with pytest.raises(AttributeError):
        spec.shape = (3,)
    with pytest.raises(AttributeError):
        spec.extra = 1


def test_array_spec_bad_arguments():
    with pytest.raises(TypeError):
        ArraySpec(3, np.int32)
    with pytest.raises(TypeError):
        ArraySpec((2,), "not-a-dtype")


@pytest.mark.parametrize(
    "value, expected",
    [
        (np.zeros((2, 3), np.float32), True),
        (np.zeros((2, 3), np.float64), False),
        (np.zeros((3, 2), np.float32), False),
        ([[0.0] * 3] * 2, False),
        (((0.0,) * 3,) * 2, False),
    ],
)
def test_check_array_exact_shape_and_dtype(value, expected):
    assert ArraySpec((2, 3), np.float32).check_array(value) is expected


def test_check_array_python_numbers():
    assert ArraySpec((), np.int64).check_array(3)
    assert not ArraySpec((), np.int32).check_array(3)
    assert ArraySpec((), np.float64).check_array(3.0)
    assert not ArraySpec((), np.float32).check_array(3.0)
    assert ArraySpec((), np.float32).check_array(np.float32(3.0))
    assert ArraySpec((), np.bool_).check_array(True)
    assert not ArraySpec((1,), np.int64).check_array(3)
    assert not ArraySpec((), np.str_).check_array("a")


def test_from_array():
    spec = ArraySpec.from_array(np.zeros((4, 1), np.uint8), name="img")
    assert (spec.shape, spec.dtype, spec.name) == ((4, 1), np.dtype(np.uint8), "img")
    assert ArraySpec.from_array(1.5) == ArraySpec((), np.float64)
    assert ArraySpec.from_array(2) == ArraySpec((), np.int64)
    with pytest.raises(
        ValueError, match=re.escape("Array must be a np.ndarray or number. Got [1, 2].")
    ):
        ArraySpec.from_array([1, 2])


def test_from_spec_and_replace():
    bounded = BoundedArraySpec((2,), np.int32, 0, 3, name="b")
    plain = ArraySpec.from_spec(bounded)
    assert type(plain) is ArraySpec
    assert (plain.shape, plain.dtype, plain.name) == ((2,), np.dtype(np.int32), "b")
    spec = ArraySpec((2,), np.int32, "x")
    replaced = spec.replace(shape=(5,))
    assert (replaced.shape, replaced.dtype, replaced.name) == ((5,), np.dtype(np.int32), "x")
    replaced = spec.replace(dtype=np.float32, name="y")
    assert (replaced.shape, replaced.dtype, replaced.name) == ((2,), np.dtype(np.float32), "y")


def test_array_spec_pickles():
    spec = ArraySpec((2, 1), np.float16, "p")
    back = pickle.loads(pickle.dumps(spec))
    assert type(back) is ArraySpec
    assert (back.shape, back.dtype, back.name) == ((2, 1), np.dtype(np.float16), "p")


# --------------------------------------------------------- BoundedArraySpec


def test_bounded_defaults_to_dtype_range():
    spec = BoundedArraySpec((2,), np.int8)
    assert spec.minimum.dtype == np.int8 and spec.maximum.dtype == np.int8
    assert spec.minimum == -128 and spec.maximum == 127
    spec = BoundedArraySpec((), np.uint64)
    assert spec.minimum == 0 and spec.maximum == np.iinfo(np.uint64).max
    spec = BoundedArraySpec((), np.float32)
    assert spec.minimum == np.finfo(np.float32).min
    assert spec.maximum == np.finfo(np.float32).max
    spec = BoundedArraySpec((), np.float16)
    assert spec.minimum == -65504.0 and spec.minimum.dtype == np.float16


def test_bounded_bounds_cast_and_broadcast():
    spec = BoundedArraySpec((3,), np.float32, minimum=-1, maximum=[1, 2, 3])
    assert spec.minimum.dtype == np.float32 and spec.minimum.shape == ()
    np.testing.assert_array_equal(spec.maximum, np.array([1, 2, 3], np.float32))
    assert spec.maximum.dtype == np.float32
    spec = BoundedArraySpec((2,), np.int32, minimum=0.7, maximum=3.9)
    assert spec.minimum == 0 and spec.maximum == 3 and spec.minimum.dtype == np.int32


def test_bounded_infinities_become_finite_extremes():
    spec = BoundedArraySpec((2,), np.float32, minimum=-np.inf, maximum=[np.inf, 1.0])
    assert spec.minimum == np.finfo(np.float32).min
    np.testing.assert_array_equal(
        spec.maximum, np.array([np.finfo(np.float32).max, 1.0], np.float32)
    )
    spec = BoundedArraySpec((), np.float64, minimum=np.inf, maximum=np.inf)
    assert spec.minimum == spec.maximum == np.finfo(np.float64).max


def test_bounded_bounds_are_read_only():
    spec = BoundedArraySpec((2,), np.float32, minimum=[0.0, 1.0], maximum=2.0)
    with pytest.raises(ValueError, match="read-only"):
        spec.minimum[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        spec.maximum[...] = 5.0


def test_bounded_bounds_do_not_alias_inputs():
    low = np.array([0.0, 1.0])
    spec = BoundedArraySpec((2,), np.float64, minimum=low, maximum=2.0)
    low[0] = -5.0
    assert spec.minimum[0] == 0.0
    assert low.flags.writeable


def test_bounded_incompatible_shape_names_bound_and_spec():
    with pytest.raises(
        ValueError,
        match=r"minimum is not compatible with shape\. Message: .*"
        r"Got minimum=\[0, 1, 2\] for a spec with shape=\(2,\), dtype=int32, name='act'\.",
    ):
        BoundedArraySpec((2,), np.int32, [0, 1, 2], 3, name="act")
    with pytest.raises(
        ValueError, match=r"maximum is not compatible with shape\. .*maximum=\[1, 2\]"
    ):
        BoundedArraySpec((3,), np.int32, 0, [1, 2])


def test_bounded_min_greater_than_max():
    with pytest.raises(
        ValueError,
        match=re.escape("Spec bounds min has values greater than max: [[0 5],3]")
        + r" in BoundedArraySpec\(shape=\(2,\), dtype=dtype\('int32'\), name='a'\)",
    ):
        BoundedArraySpec((2,), np.int32, [0, 5], 3, name="a")


def test_bounded_bounds_outside_dtype():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Spec bounds [-1,3] not within the range [0, 255] of the given dtype (uint8)"
        )
        + r" in BoundedArraySpec\(shape=\(\), name='u'\)",
    ):
        BoundedArraySpec((), np.uint8, -1, 3, name="u")
    with pytest.raises(ValueError, match="not within the range"):
        BoundedArraySpec((), np.float32, 0.0, 1e39)


@pytest.mark.parametrize("dtype", [np.bool_, np.complex64, np.str_])
def test_bounded_non_numeric_dtype_raises_type_error(dtype):
    with pytest.raises(
        TypeError,
        match=r"Cannot find minimum value of dtype\(.*Cannot build BoundedArraySpec\(shape=\(2,\)",
    ):
        BoundedArraySpec((2,), dtype)


def test_bounded_equality_compares_bounds():
    a = BoundedArraySpec((2,), np.int32, 0, 3, name="a")
    assert a == BoundedArraySpec((2,), np.int32, [0, 0], [3, 3], name="b")
    assert a != BoundedArraySpec((2,), np.int32, 0, 4)
    assert a != BoundedArraySpec((2,), np.int32, 1, 3)
    assert a != ArraySpec((2,), np.int32)
    # The subclass's __eq__ runs first, in both orders: never equal.
    assert ArraySpec((2,), np.int32) != a


def test_bounded_repr():
    assert repr(BoundedArraySpec((2,), np.int32, 0, 3, "a")) == (
        "BoundedArraySpec(shape=(2,), dtype=dtype('int32'), name='a', minimum=0, maximum=3)"
    )


def test_bounded_check_array():
    spec = BoundedArraySpec((2,), np.int32, 0, [3, 4])
    assert spec.check_array(np.array([0, 4], np.int32)) is True
    assert spec.check_array(np.array([0, 5], np.int32)) is False
    assert spec.check_array(np.array([-1, 0], np.int32)) is False
    assert spec.check_array(np.array([0, 1], np.int64)) is False
    assert spec.check_array([0, 1]) is False
    assert BoundedArraySpec((), np.float64, 0.0, 1.0).check_array(0.5) is True
    assert BoundedArraySpec((), np.float64, 0.0, 1.0).check_array(1.5) is False


def test_bounded_num_values():
    np.testing.assert_array_equal(BoundedArraySpec((2,), np.int32, 0, [3, 1]).num_values, [4, 2])
    assert BoundedArraySpec((2,), np.int32, 0, 3).num_values.shape == (2,)
    assert BoundedArraySpec((2,), np.float32, 0, 3).num_values is None


def test_bounded_from_spec_and_replace():
    spec = BoundedArraySpec.from_spec(ArraySpec((2,), np.int8, "x"))
    assert spec.minimum == -128 and spec.maximum == 127 and spec.name == "x"
    copy = BoundedArraySpec.from_spec(BoundedArraySpec((2,), np.int8, 1, 2, "y"), name="z")
    assert (copy.minimum, copy.maximum, copy.name) == (1, 2, "z")
    replaced = copy.replace(maximum=5)
    assert (replaced.minimum, replaced.maximum, replaced.name) == (1, 5, "z")
    assert replaced.replace(dtype=np.float32).minimum.dtype == np.float32


def test_bounded_pickles():
    spec = BoundedArraySpec((2,), np.float32, [0.0, -1.0], 1.0, "b")
    back = pickle.loads(pickle.dumps(spec))
    assert type(back) is BoundedArraySpec
    assert back == spec and back.name == "b"
    np.testing.assert_array_equal(back.minimum, [0.0, -1.0])
    assert not back.minimum.flags.writeable


# ------------------------------------------------------------ module helpers


def test_is_bounded_discrete_continuous():
    assert array_spec.is_bounded(BoundedArraySpec((), np.int32))
    assert not array_spec.is_bounded(ArraySpec((), np.int32))
    assert array_spec.is_discrete(ArraySpec((), np.uint8))
    assert not array_spec.is_discrete(ArraySpec((), np.bool_))
    assert not array_spec.is_discrete(ArraySpec((), np.float32))
    assert array_spec.is_continuous(ArraySpec((), np.float16))
    assert not array_spec.is_continuous(ArraySpec((), np.int32))
    assert array_spec.is_discrete(np.int64) and array_spec.is_continuous("float64")


def test_check_arrays_nest_and_assert():
    spec = {"a": ArraySpec((2,), np.float32), "b": [BoundedArraySpec((), np.int32, 0, 2)]}
    good = {"a": np.zeros(2, np.float32), "b": [np.array(1, np.int32)]}
    assert array_spec.check_arrays_nest(good, spec) is True
    assert array_spec.check_arrays_nest({"a": np.zeros(2, np.float32)}, spec) is False
    bad = {"a": np.zeros(2, np.float32), "b": [np.array(5, np.int32)]}
    assert array_spec.check_arrays_nest(bad, spec) is False
    with pytest.raises(ValueError, match=r'The value "5" does not match spec: BoundedArraySpec\('):
        array_spec.assert_arrays_spec_nest(bad, spec)
    with pytest.raises(TypeError, match=r'The spec "3" is not an ArraySpec'):
        array_spec.assert_arrays_spec_nest(np.zeros(()), 3)
    with pytest.raises(ValueError, match="don't have the same nested structure"):
        array_spec.assert_arrays_spec_nest({"a": np.zeros(2), "c": 1}, spec)
    with pytest.raises(TypeError, match="don't have the same sequence type"):
        array_spec.assert_arrays_spec_nest([np.zeros(2), [1]], spec)


def test_add_outer_dims_nest():
    spec = {"a": ArraySpec((2,), np.float32, "a"), "b": BoundedArraySpec((), np.int32, 0, 2, "b")}
    out = array_spec.add_outer_dims_nest(spec, (4, 5))
    assert type(out["a"]) is ArraySpec and out["a"].shape == (4, 5, 2) and out["a"].name == "a"
    assert type(out["b"]) is BoundedArraySpec and out["b"].shape == (4, 5)
    assert (out["b"].minimum, out["b"].maximum, out["b"].name) == (0, 2, "b")
    with pytest.raises(TypeError):
        array_spec.add_outer_dims_nest(spec, [4])


def test_sample_spec_nest_shapes_dtypes_bounds():
    rng = np.random.RandomState(0)
    spec = {
        "f": BoundedArraySpec((3,), np.float32, -1.0, [0.0, 1.0, 2.0]),
        "i": BoundedArraySpec((2, 2), np.int32, 0, 2),
        "u": ArraySpec((5,), np.uint8),
        "per": BoundedArraySpec((3,), np.int64, [0, 10, 20], [1, 11, 21]),
        "full64": ArraySpec((4,), np.int64),
        "f64": ArraySpec((4,), np.float64),
    }
    out = array_spec.sample_spec_nest(spec, rng, outer_dims=(7,))
    assert out["f"].shape == (7, 3) and out["f"].dtype == np.float32
    assert np.all(out["f"] >= -1.0) and np.all(out["f"] <= [0.0, 1.0, 2.0])
    assert out["i"].shape == (7, 2, 2) and out["i"].dtype == np.int32
    assert set(np.unique(out["i"])) <= {0, 1, 2}
    assert out["u"].shape == (7, 5) and out["u"].dtype == np.uint8
    assert out["per"].shape == (7, 3) and out["per"].dtype == np.int64
    assert np.all((out["per"] - [0, 10, 20] >= 0) & (out["per"] - [0, 10, 20] <= 1))
    assert out["full64"].dtype == np.int64 and out["f64"].dtype == np.float64
    assert np.all(np.isfinite(out["f64"]))


def test_sample_spec_nest_is_seeded():
    spec = [BoundedArraySpec((4,), np.float32, 0.0, 1.0), BoundedArraySpec((4,), np.int32, 0, 9)]
    a = array_spec.sample_spec_nest(spec, np.random.RandomState(3))
    b = array_spec.sample_spec_nest(spec, np.random.RandomState(3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    # The exact draws: uniform then randint on the same RandomState.
    rng = np.random.RandomState(3)
    np.testing.assert_array_equal(a[0], rng.uniform(0.0, 1.0, size=(4,)).astype(np.float32))
    np.testing.assert_array_equal(a[1], rng.randint(0, 10, size=(4,), dtype=np.int32))


def test_sample_bounded_spec_full_int_range_reaches_max():
    spec = BoundedArraySpec((200,), np.int8, 126, 127)
    out = array_spec.sample_bounded_spec(spec, np.random.RandomState(1))
    assert out.dtype == np.int8 and set(np.unique(out)) == {126, 127}


def test_list_where_array_required_names_value_and_spec():
    spec = ArraySpec((2,), np.int64, "pos")
    assert spec.check_array([0, 1]) is False
    assert array_spec.check_arrays_nest([0, 1], spec) is False
    with pytest.raises(ValueError) as err:
        array_spec.assert_arrays_spec_nest([0, 1], spec)
    message = str(err.value)
    assert "type=list str=[0, 1]" in message
    assert "ArraySpec(shape=(2,), dtype=dtype('int64'), name='pos')" in message
    with pytest.raises(
        ValueError,
        match=re.escape(
            'The value "[0 1]" does not match spec: '
            "ArraySpec(shape=(2,), dtype=dtype('int64'), name='pos')"
        ),
    ):
        array_spec.assert_arrays_spec_nest([np.array([0, 1], np.int32)], [spec])

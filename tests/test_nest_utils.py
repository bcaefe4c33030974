"""Tests of tfdrive.utils.nest (against tf.nest) and tfdrive.utils.nest_utils."""

import collections
import re

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.specs.array_spec import ArraySpec, BoundedArraySpec
from tfdrive.utils import nest, nest_utils

NT = collections.namedtuple("NT", ["b", "a"])
NTSame = collections.namedtuple("NT", ["b", "a"])
NTOther = collections.namedtuple("NX", ["b", "a"])
OD = collections.OrderedDict

STRUCTURES = [
    1,
    None,
    (),
    [],
    {},
    "leaf",
    np.zeros(3),
    [1, (2, 3), {"z": 4, "a": [5, None]}],
    {"b": 1, "a": 2, "c": {"y": (3,), "x": 4}},
    OD([("b", 1), ("a", 2)]),
    NT(b=[1, 2], a={"k": 3}),
    (None, (), [()], {"e": ()}),
    collections.defaultdict(list, {"q": 1, "p": 2}),
    {"a": 1}.values(),
    [ArraySpec((2,), np.int32), BoundedArraySpec((), np.float32, 0, 1)],
    {"t": tf.TensorSpec((2,), tf.float32)},
]


# ------------------------------------------------------------------- nest


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_flatten_and_is_nested_match_tf_nest(structure):
    ours = nest.flatten(structure)
    theirs = tf.nest.flatten(structure)
    assert len(ours) == len(theirs)
    assert all(a is b for a, b in zip(ours, theirs, strict=True))
    assert nest.is_nested(structure) == tf.nest.is_nested(structure)


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_pack_and_map_match_tf_nest(structure):
    n = len(tf.nest.flatten(structure))
    flat = list(range(100, 100 + n))
    ours = nest.pack_sequence_as(structure, flat)
    theirs = tf.nest.pack_sequence_as(structure, flat)
    assert type(ours) is type(theirs)
    assert ours == theirs
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)  # key order restored
    if isinstance(structure, collections.defaultdict):
        assert ours.default_factory is list
    mapped = nest.map_structure(lambda x: ("m", x), structure)
    assert mapped == tf.nest.map_structure(lambda x: ("m", x), structure)


@pytest.mark.parametrize(
    "structure",
    [range(3), collections.deque([1, [2, 3]]), bytearray(b"ab"), b"ab", {1, 2}],
    ids=["range", "deque", "bytearray", "bytes", "set"],
)
def test_flatten_other_sequences_match_tf_nest(structure):
    assert nest.flatten(structure) == tf.nest.flatten(structure)
    assert nest.is_nested(structure) == tf.nest.is_nested(structure)


def test_flatten_orders_dicts_by_sorted_key():
    assert nest.flatten(OD([("b", 1), ("a", 2)])) == [2, 1]
    assert nest.flatten({"b": {"d": 1, "c": 2}, "a": 3}) == [3, 2, 1]
    assert nest.flatten(NT(b=1, a=2)) == [1, 2]


def test_flatten_unsortable_keys_raises_type_error():
    with pytest.raises(TypeError, match="'<' not supported"):
        nest.flatten({1: "x", "a": "y"})


MISMATCHES = [
    ([1], (1,), True),
    ([1], [1, 2], True),
    ({"a": 1}, {"b": 1}, True),
    (1, [1], True),
    ([1], 1, True),
    (NT(1, 2), NTOther(1, 2), True),
    ((), None, True),
    ([[1]], [1], True),
    ({"a": [1]}, {"a": (1,)}, True),
    (NT(1, 2), (1, 2), True),
    ([1], [1, 2], False),
]


@pytest.mark.parametrize("a, b, check_types", MISMATCHES, ids=range(len(MISMATCHES)))
def test_assert_same_structure_errors_match_tf_nest(a, b, check_types):
    with pytest.raises((TypeError, ValueError)) as theirs:
        tf.nest.assert_same_structure(a, b, check_types=check_types)
    with pytest.raises(theirs.type) as ours:
        nest.assert_same_structure(a, b, check_types=check_types)
    assert str(ours.value) == str(theirs.value)


MATCHES = [
    ([1], [2]),
    (NT(1, 2), NTSame(3, 4)),
    ({"a": 1}, OD(a=2)),
    ((None, ()), (5, ())),
    ([1], (2,), False),
]


@pytest.mark.parametrize("args", MATCHES, ids=range(len(MATCHES)))
def test_assert_same_structure_accepts(args):
    a, b, *check = args
    nest.assert_same_structure(a, b, *check)
    tf.nest.assert_same_structure(a, b, *check)


def test_map_structure_multiple_structures_and_errors():
    assert nest.map_structure(lambda x, y: x + y, {"a": 1, "b": [2]}, {"a": 10, "b": [20]}) == {
        "a": 11,
        "b": [22],
    }
    assert nest.map_structure(lambda x, y: x, [1], (2,), check_types=False) == [1]
    with pytest.raises(TypeError, match="func must be callable, got: 3"):
        nest.map_structure(3, [1])
    with pytest.raises(ValueError, match="Must provide at least one structure"):
        nest.map_structure(lambda x: x)


def test_pack_sequence_as_errors_match_tf_nest():
    cases = [([1, 2], [1]), (1, [1, 2]), ([1], 5)]
    for structure, flat in cases:
        with pytest.raises((TypeError, ValueError)) as theirs:
            tf.nest.pack_sequence_as(structure, flat)
        with pytest.raises(theirs.type) as ours:
            nest.pack_sequence_as(structure, flat)
        assert str(ours.value) == str(theirs.value)


# ------------------------------------------------------------- nest_utils

SPEC = {"obs": ArraySpec((2,), np.float32), "n": ArraySpec((), np.int32)}


def _arrays(*outer):
    return {
        "obs": np.zeros(outer + (2,), np.float32),
        "n": np.zeros(outer, np.int32),
    }


def test_is_tensor_and_has_tensors():
    assert nest_utils.is_tensor(tf.constant(1))
    assert not nest_utils.is_tensor(np.zeros(1))
    assert nest_utils.has_tensors([np.zeros(1), {"a": tf.constant(1)}])
    assert not nest_utils.has_tensors([np.zeros(1)], 3, None)
    assert nest_utils.has_tensors() is False


def test_assert_same_structure_message():
    with pytest.raises(
        ValueError,
        match=re.escape("Mine:\n  [., .]\nvs.\n  [.]\nValues:\n  [1, 2]\nvs.\n  [3]."),
    ):
        nest_utils.assert_same_structure([1, 2], [3], message="Mine")
    with pytest.raises(TypeError, match="The two structures do not match"):
        nest_utils.assert_same_structure([1], (1,))
    with pytest.raises(TypeError, match="check_types must be a bool but saw: '1'"):
        nest_utils.assert_same_structure([1], [1], check_types=1)
    nest_utils.assert_same_structure([1, 2], [[1, 2], {"a": 3}], allow_shallow_nest1=True)
    with pytest.raises(ValueError, match="The two structures do not match"):
        nest_utils.assert_same_structure([1, 2], [1], allow_shallow_nest1=True)


def test_prune_extra_keys():
    wide = [{"a": "a", "b": "b"}]
    assert nest_utils.prune_extra_keys([{"a": 1}], wide) == [{"a": "a"}]
    pruned = nest_utils.prune_extra_keys([{"c": 1}], wide)
    assert pruned == wide and pruned[0] is wide[0]
    assert nest_utils.prune_extra_keys("scalar", wide) is wide
    assert nest_utils.prune_extra_keys((), wide) == ()
    assert nest_utils.prune_extra_keys({"a": ()}, {"a": 1, "b": 2}) == {"a": ()}
    out = nest_utils.prune_extra_keys(
        {"a": {"b": 1}, "d": None}, {"a": {"b": "b", "c": "c"}, "d": [1, 2]}
    )
    assert out == {"a": {"b": "b"}, "d": [1, 2]}
    pruned = nest_utils.prune_extra_keys(NT(b={"x": 1}, a=2), NT(b={"x": 1, "y": 2}, a=3))
    assert pruned == NT(b={"x": 1}, a=3) and type(pruned) is NT
    od = nest_utils.prune_extra_keys({"b": 1, "a": 1}, OD([("a", 1), ("b", 2), ("c", 3)]))
    assert type(od) is OD and list(od.items()) == [("b", 2), ("a", 1)]


@pytest.mark.parametrize("make", [lambda x: x, tf.convert_to_tensor])
def test_is_batched_and_outer_rank(make):
    arrays = {k: make(v) for k, v in _arrays(4).items()}
    assert nest_utils.is_batched_nested_tensors(arrays, SPEC) is True
    assert nest_utils.is_batched_nested_tensors(_arrays(), SPEC) is False
    assert nest_utils.is_batched_nested_tensors(_arrays(3, 4), SPEC) is False
    assert nest_utils.is_batched_nested_tensors(_arrays(3, 4), SPEC, num_outer_dims=2) is True
    assert nest_utils.get_outer_rank(arrays, SPEC) == 1
    assert nest_utils.get_outer_rank(_arrays(), SPEC) == 0
    assert nest_utils.get_outer_rank(_arrays(2, 3), SPEC) == 2
    mixed = {"obs": make(np.zeros((4, 2), np.float32)), "n": np.zeros((), np.int32)}
    with pytest.raises(ValueError, match="Received a mix of batched and unbatched Tensors"):
        nest_utils.is_batched_nested_tensors(mixed, SPEC)
    with pytest.raises(ValueError, match=r"num_outer_dims: 0\.\nSaw tensor_shapes:"):
        nest_utils.get_outer_rank(mixed, SPEC)


def test_is_batched_dtype_mismatch_and_extra_fields():
    bad = {"obs": np.zeros((4, 2), np.float64), "n": np.zeros(4, np.int32)}
    with pytest.raises(
        TypeError,
        match=r"(?s)Tensor dtypes do not match spec dtypes.*Number of mismatched entries: 1",
    ):
        nest_utils.is_batched_nested_arrays(bad, SPEC)
    assert nest_utils.is_batched_nested_arrays(bad, SPEC, check_dtypes=False) is True
    assert nest_utils.is_batched_nested_array(bad, SPEC, check_dtypes=False) is True
    extra = dict(_arrays(4), more=np.zeros(3))
    with pytest.raises(ValueError, match="Tensors and specs do not have matching structures"):
        nest_utils.is_batched_nested_tensors(extra, SPEC)
    assert nest_utils.is_batched_nested_tensors(extra, SPEC, allow_extra_fields=True) is True


def test_is_batched_with_tensor_specs_unknown_dims():
    spec = tf.TensorSpec((None, 3), tf.float32)
    assert nest_utils.is_batched_nested_tensors(tf.zeros((2, 5, 3)), spec) is True
    assert nest_utils.is_batched_nested_tensors(np.zeros((5, 3), np.float32), spec) is False


def test_get_outer_shape_numpy_and_tensor():
    out = nest_utils.get_outer_shape(_arrays(3, 4), SPEC)
    assert out.dtype == np.int32 and out.tolist() == [3, 4]
    empty = nest_utils.get_outer_shape(_arrays(), SPEC)
    assert empty.dtype == np.int32 and empty.shape == (0,)
    t = nest_utils.get_outer_shape(tf.zeros((5, 2)), ArraySpec((2,), np.float32))
    assert tf.is_tensor(t) and t.dtype == tf.int32 and t.numpy().tolist() == [5]
    assert nest_utils.get_outer_array_shape(_arrays(3, 4), SPEC) == (3, 4)


def test_batch_and_unbatch_nested_array():
    batched = nest_utils.batch_nested_array(_arrays())
    assert batched["obs"].shape == (1, 2) and batched["n"].shape == (1,)
    assert batched["obs"].dtype == np.float32
    back = nest_utils.unbatch_nested_array(batched)
    assert back["obs"].shape == (2,) and back["n"].shape == ()
    with pytest.raises(ValueError):
        nest_utils.unbatch_nested_array(_arrays(2))


def test_stack_and_unstack_nested_arrays():
    items = [{"obs": np.full(2, i, np.float32), "n": np.array(i, np.int32)} for i in range(3)]
    stacked = nest_utils.stack_nested_arrays(items)
    np.testing.assert_array_equal(stacked["obs"], [[0, 0], [1, 1], [2, 2]])
    assert stacked["n"].dtype == np.int32 and stacked["n"].tolist() == [0, 1, 2]
    unstacked = nest_utils.unstack_nested_arrays(stacked)
    assert len(unstacked) == 3
    assert unstacked[2]["n"] == 2 and unstacked[1]["obs"].tolist() == [1.0, 1.0]
    flat_items = nest_utils.unstack_nested_arrays_into_flat_items(stacked)
    assert [item[0] for item in flat_items] == [0, 1, 2]  # "n" sorts before "obs"


@pytest.mark.parametrize("make", [lambda x: x, tf.convert_to_tensor])
def test_batch_unbatch_nested_tensors(make):
    unbatched = {k: make(v) for k, v in _arrays().items()}
    batched = nest_utils.batch_nested_tensors(unbatched, SPEC)
    assert tuple(batched["obs"].shape) == (1, 2) and tuple(batched["n"].shape) == (1,)
    assert nest_utils.is_tensor(batched["obs"]) == nest_utils.is_tensor(unbatched["obs"])
    already = {k: make(v) for k, v in _arrays(3).items()}
    assert tuple(nest_utils.batch_nested_tensors(already, SPEC)["obs"].shape) == (3, 2)
    assert tuple(nest_utils.batch_nested_tensors(already)["obs"].shape) == (1, 3, 2)
    back = nest_utils.unbatch_nested_tensors(batched, SPEC)
    assert tuple(back["obs"].shape) == (2,)
    assert tuple(nest_utils.unbatch_nested_tensors(unbatched, SPEC)["obs"].shape) == (2,)
    assert tuple(nest_utils.unbatch_nested_tensors(batched)["n"].shape) == ()
    with pytest.raises(ValueError, match="Tensor does not have the correct dimensions"):
        nest_utils.batch_nested_tensors({k: make(v) for k, v in _arrays(2, 3).items()}, SPEC)
    with pytest.raises(ValueError, match="incompatible"):
        nest_utils.batch_nested_tensors(
            {"obs": make(np.zeros(3, np.float32)), "n": make(np.int32(1))}, SPEC
        )


@pytest.mark.parametrize("make", [lambda x: x, tf.convert_to_tensor])
def test_split_unstack_stack_nested_tensors(make):
    value = {
        "obs": make(np.arange(8, dtype=np.float32).reshape(4, 2)),
        "n": make(np.arange(4, dtype=np.int32)),
    }
    parts = nest_utils.split_nested_tensors(value, SPEC, 2)
    assert len(parts) == 2 and tuple(parts[1]["obs"].shape) == (2, 2)
    np.testing.assert_array_equal(np.asarray(parts[1]["n"]), [2, 3])
    sized = nest_utils.split_nested_tensors(value, SPEC, [1, 3])
    assert [tuple(p["n"].shape) for p in sized] == [(1,), (3,)]
    items = nest_utils.unstack_nested_tensors(value, SPEC)
    assert len(items) == 4 and int(items[3]["n"]) == 3 and tuple(items[0]["obs"].shape) == (2,)
    restacked = nest_utils.stack_nested_tensors(items)
    np.testing.assert_array_equal(np.asarray(restacked["obs"]), np.asarray(value["obs"]))
    assert nest_utils.is_tensor(restacked["obs"]) == nest_utils.is_tensor(value["obs"])
    with pytest.raises(ValueError, match="Can only split tensors with a batch dimension."):
        nest_utils.split_nested_tensors(_arrays(), SPEC, 1)
    with pytest.raises(ValueError, match="Can only unstack tensors with a batch dimension."):
        nest_utils.unstack_nested_tensors(_arrays(), SPEC)


@pytest.mark.parametrize("make", [lambda x: x, tf.convert_to_tensor])
def test_flatten_multi_batched_nested_tensors(make):
    value = {k: make(v) for k, v in _arrays(2, 3).items()}
    out, dims = nest_utils.flatten_multi_batched_nested_tensors(value, SPEC)
    assert tuple(out["obs"].shape) == (6, 2) and tuple(out["n"].shape) == (6,)
    assert np.asarray(dims).tolist() == [2, 3]
    assert np.asarray(dims).dtype == np.int64


@pytest.mark.parametrize("make", [lambda x: x, tf.convert_to_tensor])
def test_where(make):
    cond = make(np.array([True, False]))
    t = {"a": make(np.ones((2, 3), np.float32)), "b": make(np.array([1, 2]))}
    f = {"a": make(np.zeros((2, 3), np.float32)), "b": make(np.array([7, 8]))}
    out = nest_utils.where(cond, t, f)
    np.testing.assert_array_equal(np.asarray(out["a"]), [[1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(out["b"]), [1, 8])
    assert nest_utils.is_tensor(out["a"]) == nest_utils.is_tensor(cond)
    with pytest.raises(
        ValueError, match='"true_outputs" and "false_outputs" structures do not match'
    ):
        nest_utils.where(cond, t, {"a": f["a"]})


def test_tile_batch():
    out = nest_utils.tile_batch({"a": np.array([[1, 2], [3, 4]])}, 2)
    np.testing.assert_array_equal(out["a"], [[1, 2], [1, 2], [3, 4], [3, 4]])
    t = nest_utils.tile_batch(tf.constant([1, 2]), 3)
    assert t.numpy().tolist() == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match="t must have statically known rank"):
        nest_utils.tile_batch(np.array(1), 2)


def test_assert_matching_dtypes_and_inner_shapes():
    specs = {"a": tf.TensorSpec((2,), tf.float32), "b": ArraySpec((), np.int64)}
    nest_utils.assert_matching_dtypes_and_inner_shapes(
        {"a": tf.zeros((5, 2)), "b": np.zeros(5, np.int64)}, specs, "caller", "t", "s"
    )
    # Python numbers take the spec's dtype when they fit it.
    nest_utils.assert_matching_dtypes_and_inner_shapes(
        {"a": np.zeros(2, np.float32), "b": 3}, specs, "caller", "t", "s"
    )
    with pytest.raises(
        ValueError, match=r"(?s)me: Inconsistent dtypes or shapes between obs and spec\.\ndtypes:"
    ):
        nest_utils.assert_matching_dtypes_and_inner_shapes(
            {"a": tf.zeros((5, 3)), "b": np.zeros(5, np.int64)}, specs, "me", "obs", "spec"
        )
    with pytest.raises(ValueError, match="Inconsistent dtypes"):
        nest_utils.assert_matching_dtypes_and_inner_shapes(
            {"a": np.zeros(2, np.float64), "b": 1}, specs, "me", "obs", "spec"
        )
    with pytest.raises(ValueError, match="me: obs and spec do not have matching structures"):
        nest_utils.assert_matching_dtypes_and_inner_shapes({"a": 1}, specs, "me", "obs", "spec")
    nest_utils.assert_matching_dtypes_and_inner_shapes(
        {"a": tf.zeros(2), "b": 1, "c": 5}, specs, "me", "obs", "spec", allow_extra_fields=True
    )


def test_assert_tensors_matching_dtypes_and_shapes():
    nest_utils.assert_tensors_matching_dtypes_and_shapes(
        [np.zeros(2, np.float32)], [tf.zeros(3)], "c", "x", "y"
    )
    with pytest.raises(ValueError, match="c: Inconsistent dtypes or shapes between x and y"):
        nest_utils.assert_tensors_matching_dtypes_and_shapes(
            [np.zeros(2, np.float32)], [tf.zeros((3, 1))], "c", "x", "y"
        )


def test_assert_value_spec():
    nest_utils.assert_value_spec(tf.TensorSpec((1,), tf.float32), "net")
    with pytest.raises(ValueError, match="net emits multiple values"):
        nest_utils.assert_value_spec(tf.TensorSpec((2,), tf.float32), "net")
    with pytest.raises(ValueError, match="net emits outputs that are not real numbers"):
        nest_utils.assert_value_spec(tf.TensorSpec((), tf.int32), "net")
    with pytest.raises(ValueError, match="net emits outputs that are not tensors"):
        nest_utils.assert_value_spec(ArraySpec((), np.float32), "net")

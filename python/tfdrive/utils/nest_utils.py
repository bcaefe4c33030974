"""Helpers for nests of numpy arrays and TensorFlow tensors.

Ports of the TF-Agents `nest_utils` functions that collection code uses.
Every function accepts numpy arrays, Python scalars and (when TensorFlow is
loaded) tensors; numpy inputs give numpy outputs and tensor inputs give
tensor outputs, computed the way TF-Agents computes them. This module never
imports TensorFlow itself: a leaf is a tensor only if `tensorflow` is already
in `sys.modules` and `tf.is_tensor` says so.

Shapes and specs: a "spec" is an `ArraySpec`, a `tf.TensorSpec` or anything
with `shape` and `dtype`; its shape describes one unbatched item. A nest is
"batched" when every leaf has `num_outer_dims` extra leading dimensions on
top of its spec's shape.
"""

import collections
import numbers
import sys
from collections import abc as _abc

import numpy as np

from tfdrive import _tf
from tfdrive.utils import nest

__all__ = [
    "assert_matching_dtypes_and_inner_shapes",
    "assert_same_structure",
    "assert_tensors_matching_dtypes_and_shapes",
    "assert_value_spec",
    "batch_nested_array",
    "batch_nested_tensors",
    "fast_map_structure",
    "fast_map_structure_flatten",
    "flatten_multi_batched_nested_tensors",
    "flatten_up_to",
    "get_outer_array_shape",
    "get_outer_rank",
    "get_outer_shape",
    "has_tensors",
    "is_batched_nested_array",
    "is_batched_nested_arrays",
    "is_batched_nested_tensors",
    "is_tensor",
    "map_structure_up_to",
    "prune_extra_keys",
    "spec_shape",
    "split_nested_tensors",
    "stack_nested_arrays",
    "stack_nested_tensors",
    "tile_batch",
    "unbatch_nested_array",
    "unbatch_nested_tensors",
    "unbatch_nested_tensors_to_arrays",
    "unstack_nested_arrays",
    "unstack_nested_arrays_into_flat_items",
    "unstack_nested_tensors",
    "where",
]


# --------------------------------------------------------------------------
# Tensor detection without importing TensorFlow.


# `is_tensor` stays public here (TF-Agents' callers import it from nest_utils).
is_tensor = _tf.is_tensor


def has_tensors(*x):
    """True if any leaf of the nests `x` is a tensor."""
    return any(is_tensor(t) for t in nest.flatten(x))


# --------------------------------------------------------------------------
# Structure helpers.


def assert_same_structure(
    nest1,
    nest2,
    check_types=True,
    expand_composites=False,
    allow_shallow_nest1=False,
    message=None,
):
    """`assert_same_structure` with a message that shows both nests.

    Args:
      nest1, nest2: nests to compare.
      check_types: also compare nest types (lists with lists, mappings with
        mappings, namedtuples by name and fields).
      expand_composites: accepted for TF-Agents compatibility; composite
        tensors are compared as leaves.
      allow_shallow_nest1: `nest1` may stop at a leaf where `nest2` goes on.
      message: prefix of the error message.

    Raises:
      ValueError / TypeError: as `tf.nest.assert_same_structure`, with the
        message `'{message}:\n  {nest1 layout}\nvs.\n  {nest2 layout}\n...'`.
    """
    if not isinstance(check_types, bool):
        raise TypeError(f"check_types must be a bool but saw: '{check_types}'")
    if not isinstance(expand_composites, bool):
        raise TypeError(f"expand_composites must be a bool but saw: '{expand_composites}'")
    message = message or "The two structures do not match"
    exception = None
    try:
        if allow_shallow_nest1:
            _assert_shallow_structure(nest1, nest2, check_types)
        else:
            nest.assert_same_structure(nest1, nest2, check_types=check_types)
    except (TypeError, ValueError) as e:
        exception = type(e)
    if exception:
        str1 = nest.map_structure(lambda _: nest._DOT, nest1)
        str2 = nest.map_structure(lambda _: nest._DOT, nest2)
        raise exception(f"{message}:\n  {str1}\nvs.\n  {str2}\nValues:\n  {nest1}\nvs.\n  {nest2}.")


def _assert_shallow_structure(shallow, deep, check_types):
    if not nest.is_nested(shallow):
        return
    if not nest.is_nested(deep):
        raise TypeError(
            "If shallow structure is a sequence, input must also be a sequence. "
            f"Input has type: {type(deep)}."
        )
    if check_types and not (
        type(shallow) is type(deep)
        or (isinstance(shallow, _abc.Mapping) and isinstance(deep, _abc.Mapping))
        or (nest._is_namedtuple(shallow) and nest._is_namedtuple(deep))
    ):
        raise TypeError(
            "The two structures don't have the same sequence type. Input structure "
            f"has type {type(deep)}, while shallow structure has type {type(shallow)}."
        )
    if isinstance(shallow, _abc.Mapping):
        if set(shallow) != set(deep):
            raise ValueError(
                f"The two structures don't have the same keys. Input structure has keys "
                f"{sorted(deep)}, while shallow structure has keys {sorted(shallow)}."
            )
    elif len(shallow) != len(deep):
        raise ValueError(
            "The two structures don't have the same sequence length. Input structure "
            f"has length {len(deep)}, while shallow structure has length {len(shallow)}."
        )
    for s, d in zip(nest._children(shallow), nest._children(deep), strict=False):
        _assert_shallow_structure(s, d, check_types)


def flatten_up_to(shallow_tree, input_tree, check_types=True):
    """The subtrees of `input_tree` at the leaves of `shallow_tree`, in `flatten` order.

    Raises:
      TypeError: `input_tree` is a leaf or of another sequence type where
        `shallow_tree` is nested (types checked when `check_types`).
      ValueError: Mappings with different keys, sequences of different lengths.
    """
    _assert_shallow_structure(shallow_tree, input_tree, check_types)
    if not nest.is_nested(shallow_tree):
        return [input_tree]
    flat = []
    for s, d in zip(nest._children(shallow_tree), nest._children(input_tree), strict=True):
        flat.extend(flatten_up_to(s, d, check_types=False))
    return flat


def map_structure_up_to(shallow_tree, func, *inputs, **kwargs):
    """Applies `func` to the subtrees of `inputs` at the leaves of `shallow_tree`.

    Every input must have `shallow_tree`'s structure down to its leaves (and
    may go deeper there). Returns a nest structured like `shallow_tree`.
    ``check_types`` (keyword, default True) is passed to `flatten_up_to`.
    """
    check_types = kwargs.pop("check_types", True)
    if kwargs:
        raise TypeError(f"map_structure_up_to got unexpected keyword arguments {sorted(kwargs)}")
    flats = [flatten_up_to(shallow_tree, x, check_types=check_types) for x in inputs]
    return nest.pack_sequence_as(shallow_tree, [func(*leaves) for leaves in zip(*flats)])


def fast_map_structure_flatten(func, structure, *flat_structure, **kwargs):
    """Maps `func` over already flattened leaves and packs like `structure`."""
    del kwargs
    return nest.pack_sequence_as(structure, [func(*x) for x in zip(*flat_structure, strict=False)])


def fast_map_structure(func, *structure, **kwargs):
    """`map_structure` without structure checks (leaves are zipped)."""
    del kwargs
    flats = [nest.flatten(s) for s in structure]
    return nest.pack_sequence_as(structure[0], [func(*x) for x in zip(*flats, strict=False)])


def _unproxied(value):
    """The object a `wrapt.ObjectProxy` wraps (TF's `_TupleWrapper` of a tracked
    tuple is one), else `value`; wrapt is only looked at if already imported."""
    wrapt = sys.modules.get("wrapt")
    if wrapt is not None and isinstance(value, wrapt.ObjectProxy):
        return value.__wrapped__
    return value


def prune_extra_keys(narrow, wide):
    """Drops from mappings in `wide` the keys absent from `narrow`, recursively.

    Where the two disagree (types, lengths, a key of `narrow` missing in
    `wide`), that part of `wide` is returned unchanged; `narrow == ()` gives
    `()`. Mappings keep `narrow`'s key order and `wide`'s type. Objects that
    `wrapt` proxies (tracked tuples of `tf.Module`s) count as what they wrap.
    """
    narrow_raw = _unproxied(narrow)
    if isinstance(narrow_raw, tuple) and not narrow_raw and type(narrow_raw) is tuple:
        return narrow
    if _unproxied(wide) is not wide:
        return type(wide)(prune_extra_keys(narrow, wide.__wrapped__))
    if (
        type(narrow_raw) is not type(wide)
        and not (isinstance(narrow_raw, list) and isinstance(wide, list))
        and not (isinstance(narrow_raw, _abc.Mapping) and isinstance(wide, _abc.Mapping))
    ):
        return wide
    if isinstance(narrow, _abc.Mapping):
        if len(narrow) > len(wide):
            return wide
        if not set(wide.keys()).issuperset(narrow.keys()):
            return wide
        items = [(k, prune_extra_keys(v, wide[k])) for k, v in narrow.items()]
        if isinstance(wide, collections.defaultdict):
            return type(wide)(wide.default_factory, items)
        return type(wide)(items)
    if nest.is_nested(narrow):
        if nest._is_attrs(wide):
            names = [a.name for a in type(wide).__attrs_attrs__]
            return type(wide)(
                *[prune_extra_keys(getattr(narrow, n), getattr(wide, n)) for n in names]
            )
        if len(narrow) != len(wide):
            return wide
        items = [prune_extra_keys(n, w) for n, w in zip(narrow, wide, strict=False)]
        if nest._is_namedtuple(wide):
            return type(wide)(*items)
        return type(wide)(items)
    return wide


# --------------------------------------------------------------------------
# Shapes and dtypes of leaves (arrays, scalars, tensors, specs).


def spec_shape(t):
    """The shape of a spec or tensor (a SparseTensor's is all-unknown dims)."""
    tf = _tf.loaded()
    if tf is not None and isinstance(t, tf.SparseTensor):
        rank = tf.compat.dimension_value(t.dense_shape.shape[0])
        return tf.TensorShape([None] * rank)
    return t.shape


def _dims(shape):
    """A shape as a tuple of ints / None, or None when the rank is unknown."""
    if shape is None:
        return None
    if isinstance(shape, tuple):
        return shape
    rank = getattr(shape, "rank", 0)
    if rank is None:
        return None
    if hasattr(shape, "as_list"):
        return tuple(shape.as_list())
    return tuple(shape)


def _leaf_shape(x):
    if hasattr(x, "shape"):
        return x.shape
    return np.shape(x)


def _compatible(spec_dims, t_dims):
    """`TensorShape.is_compatible_with` on `_dims` tuples."""
    if spec_dims is None or t_dims is None:
        return True
    if len(spec_dims) != len(t_dims):
        return False
    return all(a is None or b is None or a == b for a, b in zip(spec_dims, t_dims, strict=False))


def _np_dtype(dtype):
    """A numpy dtype for a numpy or TensorFlow dtype (None if impossible)."""
    if dtype is None:
        return None
    as_np = getattr(dtype, "as_numpy_dtype", None)
    if as_np is not None:
        try:
            return np.dtype(as_np)
        except TypeError:
            return None
    try:
        return np.dtype(dtype)
    except TypeError:
        return None


def _default_dtype(x, hint=None):
    """The dtype `tf.convert_to_tensor(x, dtype_hint=hint)` would give a Python value."""
    if hasattr(x, "dtype"):
        return x.dtype
    hint = _np_dtype(hint)
    if hint is not None:
        try:
            converted = np.asarray(x, dtype=hint)
            if np.array_equal(converted, np.asarray(x)):
                return hint
        except (TypeError, ValueError, OverflowError):
            pass
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return np.dtype(np.float32)
    if arr.dtype == np.int64 and (arr.size == 0 or np.all(np.abs(arr) < 2**31)):
        return np.dtype(np.int32)
    return arr.dtype


def _same_dtype(a, b):
    na, nb = _np_dtype(a), _np_dtype(b)
    if na is None or nb is None:
        return a == b
    return na == nb


def _count_mismatched(flat_a, flat_b):
    return sum(1 for a, b in zip(flat_a, flat_b, strict=False) if not _same_dtype(a, b))


def assert_tensors_matching_dtypes_and_shapes(
    tensors_1, tensors_2, caller, tensors_1_name, tensors_2_name
):
    """Checks that two nests have the same layout, dtypes and ranks.

    Raises:
      ValueError: naming `caller` and both nests, if they differ.
    """
    assert_same_structure(
        tensors_1,
        tensors_2,
        message=(
            f"{caller}: {tensors_1_name} and {tensors_2_name} do not have matching structures"
        ),
    )
    flat_1 = nest.flatten(tensors_1)
    flat_2 = nest.flatten(tensors_2)
    compatible = all(
        _same_dtype(_default_dtype(a), _default_dtype(b))
        for a, b in zip(flat_1, flat_2, strict=False)
    )
    if compatible:
        for a, b in zip(flat_1, flat_2, strict=False):
            da, db = _dims(_leaf_shape(a)), _dims(_leaf_shape(b))
            if (da is None) != (db is None) or (da is not None and len(da) != len(db)):
                compatible = False
                break
    if not compatible:
        raise ValueError(
            f"{caller}: Inconsistent dtypes or shapes between {tensors_1_name} and {tensors_2_name}.\n"
            f"dtypes:\n{nest.map_structure(_default_dtype, tensors_1)}\nvs.\n{nest.map_structure(_default_dtype, tensors_2)}.\n"
            f"shapes:\n{nest.map_structure(_leaf_shape, tensors_1)}\nvs.\n{nest.map_structure(_leaf_shape, tensors_2)}."
        )


def assert_matching_dtypes_and_inner_shapes(
    tensors_or_specs,
    specs,
    caller,
    tensors_name,
    specs_name,
    allow_extra_fields=False,
):
    """Checks that each leaf has its spec's dtype and ends in its spec's shape.

    Args:
      tensors_or_specs: nest of arrays, tensors, Python values or specs;
        Python values take the spec's dtype when it represents them exactly.
      specs: nest of specs of the same layout.
      caller: object named in the error message.
      tensors_name, specs_name: names of the two nests in the error message.
      allow_extra_fields: prune mapping keys of `tensors_or_specs` absent from
        `specs` first.

    Raises:
      ValueError: different layouts, a dtype mismatch, or a leaf whose
        trailing dimensions are incompatible with its spec's shape.
    """
    if allow_extra_fields:
        tensors_or_specs = prune_extra_keys(specs, tensors_or_specs)
    assert_same_structure(
        tensors_or_specs,
        specs,
        message=f"{caller}: {tensors_name} and {specs_name} do not have matching structures",
    )
    flat_tensors = nest.flatten(tensors_or_specs)
    flat_specs = nest.flatten(specs)
    compatible = True
    for t, s in zip(flat_tensors, flat_specs, strict=False):
        if not _same_dtype(s.dtype, _default_dtype(t, s.dtype)):
            compatible = False
            break
    if compatible:
        for t, s in zip(flat_tensors, flat_specs, strict=False):
            s_dims = _dims(spec_shape(s))
            t_dims = _dims(_leaf_shape(t))
            if s_dims is None or len(s_dims) == 0 or t_dims is None:
                continue
            if len(s_dims) > len(t_dims) or not _compatible(s_dims, t_dims[-len(s_dims) :]):
                compatible = False
                break
    if not compatible:
        raise ValueError(
            "{}: Inconsistent dtypes or shapes between {} and {}.\n"
            "dtypes:\n{}\nvs.\n{}.\n"
            "shapes:\n{}\nvs.\n{}.".format(
                caller,
                tensors_name,
                specs_name,
                nest.map_structure(
                    lambda x: getattr(x, "dtype", _default_dtype(x)), tensors_or_specs
                ),
                nest.map_structure(lambda x: x.dtype, specs),
                nest.map_structure(_leaf_shape, tensors_or_specs),
                nest.map_structure(spec_shape, specs),
            )
        )


def _mix_message(num_outer_dims, tensor_shapes, spec_shapes):
    return (
        "Received a mix of batched and unbatched Tensors, or Tensors"
        f" are not compatible with Specs.  num_outer_dims: {num_outer_dims}.\n"
        f"Saw tensor_shapes:\n   {tensor_shapes}\n"
        f"And spec_shapes:\n   {spec_shapes}"
    )


def is_batched_nested_tensors(
    tensors,
    specs,
    num_outer_dims=1,
    allow_extra_fields=False,
    check_dtypes=True,
):
    """Whether every leaf has exactly `num_outer_dims` outer dims over its spec.

    Args:
      tensors: nest of tensors or numpy arrays.
      specs: nest of specs (unbatched shapes).
      num_outer_dims: the number of batch dimensions expected.
      allow_extra_fields: prune extra mapping keys of `tensors` first.
      check_dtypes: also require each leaf's dtype to equal its spec's.

    Returns:
      True if all leaves are batched with `num_outer_dims` dimensions; False if
      all are unbatched, or all carry the same other number of outer dims.

    Raises:
      ValueError: layouts differ, a rank is unknown, or batched and unbatched
        leaves are mixed / incompatible with their specs.
      TypeError: dtypes differ (with `check_dtypes`).
    """
    if allow_extra_fields:
        tensors = prune_extra_keys(specs, tensors)
    assert_same_structure(
        tensors, specs, message="Tensors and specs do not have matching structures"
    )
    flat_tensors = nest.flatten(tensors)
    flat_specs = nest.flatten(specs)
    tensor_shapes = [_leaf_shape(t) for t in flat_tensors]
    spec_shapes = [spec_shape(s) for s in flat_specs]
    t_dims = [_dims(s) for s in tensor_shapes]
    s_dims = [_dims(s) for s in spec_shapes]

    if any(d is None for d in s_dims):
        raise ValueError(
            f"All specs should have ndims defined.  Saw shapes: {nest.pack_sequence_as(specs, spec_shapes)}"
        )
    if any(d is None for d in t_dims):
        raise ValueError(
            f"All tensors should have ndims defined.  Saw shapes: {nest.pack_sequence_as(specs, tensor_shapes)}"
        )
    if check_dtypes:
        tensor_dtypes = [_default_dtype(t) for t in flat_tensors]
        spec_dtypes = [s.dtype for s in flat_specs]
        if _count_mismatched(tensor_dtypes, spec_dtypes):
            mismatched = nest.pack_sequence_as(
                specs,
                [not _same_dtype(t, s) for t, s in zip(tensor_dtypes, spec_dtypes, strict=False)],
            )
            raise TypeError(
                f"Tensor dtypes do not match spec dtypes:\n{nest.pack_sequence_as(specs, tensor_dtypes)}\nvs.\n{nest.pack_sequence_as(specs, spec_dtypes)}\nNumber of"
                f" mismatched entries: {_count_mismatched(tensor_dtypes, spec_dtypes)}\nMismatch:\n{mismatched}"
            )
    if all(_compatible(s, t) for s, t in zip(s_dims, t_dims, strict=False)):
        return False
    discrepancy = [len(t) - len(s) for s, t in zip(s_dims, t_dims, strict=False)]
    matches = [
        # A leaf with fewer dims than its spec can never match it.
        d >= 0 and _compatible(s, t[d:])
        for d, s, t in zip(discrepancy, s_dims, t_dims, strict=False)
    ]
    if all(d == num_outer_dims for d in discrepancy) and all(matches):
        return True
    if all(d == discrepancy[0] for d in discrepancy) and all(matches):
        return False
    raise ValueError(
        _mix_message(
            num_outer_dims,
            nest.pack_sequence_as(specs, tensor_shapes),
            nest.pack_sequence_as(specs, spec_shapes),
        )
    )


def is_batched_nested_arrays(
    arrays, specs, num_outer_dims=1, allow_extra_fields=False, check_dtypes=True
):
    """`is_batched_nested_tensors` for nests of numpy arrays (same rules)."""
    return is_batched_nested_tensors(
        arrays,
        specs,
        num_outer_dims=num_outer_dims,
        allow_extra_fields=allow_extra_fields,
        check_dtypes=check_dtypes,
    )


# Singular spelling, for callers that use it.
is_batched_nested_array = is_batched_nested_arrays


def get_outer_rank(tensors, specs):
    """The number of outer (batch) dimensions shared by all leaves.

    Returns:
      0 if every leaf matches its spec's shape, else the common number of
      extra leading dimensions.

    Raises:
      ValueError: layouts differ, ranks are unknown, or leaves disagree.
    """
    assert_same_structure(
        tensors, specs, message="Tensors and specs do not have matching structures"
    )
    tensor_shapes = [_leaf_shape(t) for t in nest.flatten(tensors)]
    spec_shapes = [spec_shape(s) for s in nest.flatten(specs)]
    t_dims = [_dims(s) for s in tensor_shapes]
    s_dims = [_dims(s) for s in spec_shapes]
    if any(d is None for d in s_dims):
        raise ValueError(f"All specs should have ndims defined.  Saw shapes: {spec_shapes}")
    if any(d is None for d in t_dims):
        raise ValueError(f"All tensors should have ndims defined.  Saw shapes: {tensor_shapes}")
    if all(_compatible(s, t) for s, t in zip(s_dims, t_dims, strict=False)):
        return 0
    discrepancy = [len(t) - len(s) for s, t in zip(s_dims, t_dims, strict=False)]
    matches = [
        d >= 0 and _compatible(s, t[d:])
        for d, s, t in zip(discrepancy, s_dims, t_dims, strict=False)
    ]
    num_outer_dims = discrepancy[0]
    if all(d == num_outer_dims for d in discrepancy) and all(matches):
        return num_outer_dims
    raise ValueError(_mix_message(num_outer_dims, tensor_shapes, spec_shapes))


def get_outer_shape(nested_tensor, spec):
    """The outer (batch) shape of a nest, from its first leaf.

    Returns:
      A 1-D int32 tensor (tensor input) or int32 numpy array (numpy input)
      holding the leading dimensions of the first leaf beyond its spec's rank;
      empty when the nest is not batched.
    """
    assert_same_structure(
        nested_tensor, spec, message="Tensors and specs do not have matching structures"
    )
    first_tensor = nest.flatten(nested_tensor)[0]
    first_spec = nest.flatten(spec)[0]
    num_outer_dims = len(_leaf_shape(first_tensor)) - len(first_spec.shape)
    batched = is_batched_nested_tensors(
        nested_tensor, spec, num_outer_dims=num_outer_dims, check_dtypes=False
    )
    if is_tensor(first_tensor):
        tf = _tf.loaded()
        if not batched:
            return tf.constant([], dtype=tf.int32)
        return tf.shape(input=first_tensor)[:num_outer_dims]
    if not batched:
        return np.zeros([0], dtype=np.int32)
    return np.asarray(np.shape(first_tensor)[:num_outer_dims], dtype=np.int32)


def get_outer_array_shape(nested_array, spec):
    """The leading dims of the first array beyond its spec's rank (a tuple)."""
    first_array = nest.flatten(nested_array)[0]
    first_spec = nest.flatten(spec)[0]
    num_outer_dims = len(first_array.shape) - len(first_spec.shape)
    return first_array.shape[:num_outer_dims]


# --------------------------------------------------------------------------
# Adding and removing batch dimensions.


def _expand_dims(x, axis):
    if is_tensor(x):
        tf = _tf.loaded()
        if isinstance(x, tf.SparseTensor):
            return tf.sparse.expand_dims(x, axis)
        return tf.expand_dims(x, axis)
    return np.expand_dims(x, axis)


def _squeeze(x, axis):
    if is_tensor(x):
        return _tf.loaded().squeeze(x, [axis])
    return np.squeeze(x, axis)


def _check_compatible(t_dims, s_dims, t_shape, s_shape):
    if not _compatible(t_dims, s_dims):
        raise ValueError(f"Shapes {t_shape} and {s_shape} are incompatible")


def batch_nested_array(nested_array):
    """Adds a leading dimension of size 1 to every array of the nest."""
    return nest.map_structure(lambda x: np.expand_dims(x, 0), nested_array)


def unbatch_nested_array(nested_array):
    """Removes a leading dimension of size 1 from every array of the nest."""
    return nest.map_structure(lambda x: np.squeeze(x, 0), nested_array)


def unbatch_nested_tensors_to_arrays(nested_tensors):
    """Converts eager tensors to numpy and drops their leading size-1 dim."""
    return nest.map_structure(
        lambda t: np.squeeze(t.numpy() if hasattr(t, "numpy") else np.asarray(t), 0),
        nested_tensors,
    )


def batch_nested_tensors(tensors, specs=None):
    """Adds a leading batch dimension where a leaf lacks one.

    Args:
      tensors: nest of tensors or arrays.
      specs: nest of specs (unbatched shapes), or None to batch every leaf.

    Returns:
      The nest with every leaf shaped `[B, *spec.shape]` (B = 1 when added).

    Raises:
      ValueError: a leaf's rank is neither the spec's nor the spec's + 1, or
        its shape is incompatible with the spec.
    """
    if specs is None:
        return nest.map_structure(lambda x: _expand_dims(x, 0), tensors)
    assert_same_structure(
        tensors, specs, message="Tensors and specs do not have matching structures"
    )
    out = []
    for tensor, spec in zip(nest.flatten(tensors), nest.flatten(specs), strict=False):
        shape = spec_shape(spec)
        t_shape = _leaf_shape(tensor)
        t_dims, s_dims = _dims(t_shape), _dims(shape)
        if len(t_dims) == len(s_dims):
            _check_compatible(t_dims, s_dims, t_shape, shape)
            tensor = _expand_dims(tensor, 0)
        elif len(t_dims) == len(s_dims) + 1:
            _check_compatible(t_dims[1:], s_dims, t_shape[1:], shape)
        else:
            raise ValueError(
                "Tensor does not have the correct dimensions. "
                f"tensor.shape {t_shape} expected shape {shape}"
            )
        out.append(tensor)
    return nest.pack_sequence_as(tensors, out)


def _flatten_and_check_shape_nested_tensors(tensors, specs, num_outer_dims=1):
    assert_same_structure(
        tensors, specs, message="Tensors and specs do not have matching structures"
    )
    flat_tensors = nest.flatten(tensors)
    flat_shapes = [spec_shape(s) for s in nest.flatten(specs)]
    for tensor, shape in zip(flat_tensors, flat_shapes, strict=False):
        t_shape = _leaf_shape(tensor)
        t_dims, s_dims = _dims(t_shape), _dims(shape)
        if len(t_dims) == len(s_dims):
            _check_compatible(t_dims, s_dims, t_shape, shape)
        elif len(t_dims) == len(s_dims) + num_outer_dims:
            _check_compatible(t_dims[num_outer_dims:], s_dims, t_shape[num_outer_dims:], shape)
        else:
            raise ValueError(
                "Tensor does not have the correct dimensions. "
                f"tensor.shape {t_shape} expected shape {[None] + list(s_dims)}"
            )
    return flat_tensors, flat_shapes


def unbatch_nested_tensors(tensors, specs=None):
    """Removes the leading batch dimension where a leaf has one.

    With `specs=None` the first dimension of every leaf is squeezed.

    Raises:
      ValueError: a leaf's rank is neither the spec's nor the spec's + 1.
    """
    if specs is None:
        return nest.map_structure(lambda x: _squeeze(x, 0), tensors)
    flat_tensors, flat_shapes = _flatten_and_check_shape_nested_tensors(tensors, specs)
    out = []
    for tensor, shape in zip(flat_tensors, flat_shapes, strict=False):
        if len(_leaf_shape(tensor)) == len(_dims(shape)) + 1:
            tensor = _squeeze(tensor, 0)
        out.append(tensor)
    return nest.pack_sequence_as(tensors, out)


def split_nested_tensors(tensors, specs, num_or_size_splits):
    """Splits a batched nest along its batch dimension into a list of nests.

    `num_or_size_splits` is as for `tf.split` / `np.split` (a count, or a list
    of sizes); each returned nest keeps a (smaller) batch dimension.

    Raises:
      ValueError: a leaf has no batch dimension or mismatches its spec.
    """

    def split(tensor):
        if is_tensor(tensor):
            tf = _tf.loaded()
            if isinstance(tensor, tf.SparseTensor):
                if not isinstance(num_or_size_splits, numbers.Number):
                    raise ValueError(
                        "Saw a SparseTensor, for which num_or_size_splits must be a "
                        f"scalar.  But it is not: {num_or_size_splits}"
                    )
                return tf.sparse.split(sp_input=tensor, num_split=num_or_size_splits, axis=0)
            return tf.split(tensor, num_or_size_splits)
        if isinstance(num_or_size_splits, numbers.Integral):
            return np.split(tensor, num_or_size_splits)
        return np.split(tensor, np.cumsum(list(num_or_size_splits))[:-1])

    return _split_batched_leaves(tensors, specs, "split", split)


def unstack_nested_tensors(tensors, specs):
    """Unstacks a batched nest into a list of unbatched nests.

    Raises:
      ValueError: a leaf has no batch dimension or mismatches its spec.
    """

    def unstack(tensor):
        if is_tensor(tensor):
            return _tf.loaded().unstack(tensor)
        return [tensor[i] for i in range(len(tensor))]

    return _split_batched_leaves(tensors, specs, "unstack", unstack)


def _split_batched_leaves(tensors, specs, verb, split_leaf):
    """Cuts every leaf of a batched nest with `split_leaf` into a list of parts;
    returns the list of nests made of the i-th parts.

    Raises:
      ValueError: a leaf has no batch dimension ("Can only {verb} tensors ...")
        or mismatches its spec.
    """
    flat_tensors, flat_shapes = _flatten_and_check_shape_nested_tensors(tensors, specs)
    lists = []
    for tensor, shape in zip(flat_tensors, flat_shapes, strict=False):
        if len(_leaf_shape(tensor)) == len(_dims(shape)):
            raise ValueError(f"Can only {verb} tensors with a batch dimension.")
        lists.append(split_leaf(tensor))
    return [nest.pack_sequence_as(tensors, zipped) for zipped in zip(*lists, strict=False)]


def stack_nested_tensors(tensors, axis=0):
    """Stacks a list of nests leaf-wise along `axis` (tensors or arrays)."""

    def _stack(*leaves):
        if any(is_tensor(x) for x in leaves):
            return _tf.loaded().stack(leaves, axis=axis)
        return np.stack(leaves, axis=axis)

    return nest.map_structure(_stack, *tensors)


def flatten_multi_batched_nested_tensors(tensors, specs):
    """Collapses all outer dimensions of each leaf into one.

    Returns:
      `(nest, batch_dims)`: each leaf reshaped to `[prod(outer), *spec.shape]`,
      and the outer dims of the first leaf (an int64 tensor, or an int64 numpy
      array for numpy input).
    """
    assert_same_structure(
        tensors, specs, message="Tensors and specs do not have matching structures"
    )
    flat_tensors = nest.flatten(tensors)
    flat_spec_shapes = [spec_shape(s) for s in nest.flatten(specs)]
    if flat_tensors and any(is_tensor(t) for t in flat_tensors):
        return _flatten_multi_batched_tf(tensors, flat_tensors, flat_spec_shapes)
    out = []
    batch_dims = []
    batch_prod = 1
    for i, (tensor, sp_shape) in enumerate(zip(flat_tensors, flat_spec_shapes, strict=False)):
        tensor = np.asarray(tensor)
        sp = _dims(sp_shape)
        n_outer = tensor.ndim - len(sp)
        if i == 0:
            batch_dims = np.asarray(tensor.shape[:n_outer], dtype=np.int64)
            batch_prod = int(np.prod(batch_dims))
        if any(d is None for d in sp):
            new_shape = (batch_prod,) + tensor.shape[n_outer:]
        else:
            new_shape = (batch_prod,) + tuple(sp)
        out.append(np.reshape(tensor, new_shape))
    return nest.pack_sequence_as(tensors, out), batch_dims


def _flatten_multi_batched_tf(tensors, flat_tensors, flat_spec_shapes):
    tf = _tf.loaded()
    out = []
    batch_dims = []
    batch_prod = None
    for i, (tensor, sp_shape) in enumerate(zip(flat_tensors, flat_spec_shapes, strict=False)):
        tensor = tf.convert_to_tensor(tensor) if not tf.is_tensor(tensor) else tensor
        sp_shape = tf.TensorShape(sp_shape)
        if i == 0:
            batch_dims = tensor.shape[: tensor.shape.rank - sp_shape.rank]
            if batch_dims.is_fully_defined():
                batch_dims = batch_dims.as_list()
                batch_prod = np.prod(batch_dims)
                batch_dims = tf.constant(batch_dims, dtype=tf.int64)
            else:
                batch_dims = tf.shape(tensor)[: tensor.shape.rank - sp_shape.rank]
                batch_prod = tf.reduce_prod(batch_dims)
        if not sp_shape.is_fully_defined():
            non_batch_dims = tf.shape(tensor)[tensor.shape.rank - sp_shape.rank :]
            reshaped_dims = tf.concat([[batch_prod], non_batch_dims], 0)
        else:
            reshaped_dims = [batch_prod] + sp_shape.as_list()
        if isinstance(tensor, tf.SparseTensor):
            out.append(tf.sparse.reshape(tensor, reshaped_dims))
        else:
            out.append(tf.reshape(tensor, reshaped_dims))
    return nest.pack_sequence_as(tensors, out), batch_dims


def unstack_nested_arrays(nested_array):
    """Splits a nest of `[B, ...]` arrays into a list of B nests (views)."""
    return [
        nest.pack_sequence_as(nested_array, items)
        for items in unstack_nested_arrays_into_flat_items(nested_array)
    ]


def unstack_nested_arrays_into_flat_items(nested_array):
    """Like `unstack_nested_arrays` but each item is the flat list of leaves (tuples)."""
    columns = [[a[i] for i in range(len(a))] for a in nest.flatten(nested_array)]
    return list(zip(*columns, strict=False))


def stack_nested_arrays(nested_arrays):
    """Stacks a list of nests of arrays leaf-wise into one nest of `[N, ...]` arrays."""
    flats = [nest.flatten(a) for a in nested_arrays]
    stacked = [np.stack(leaves) for leaves in zip(*flats, strict=False)]
    return nest.pack_sequence_as(nested_arrays[0], stacked)


def where(condition, true_outputs, false_outputs):
    """Leaf-wise `where` over two nests of the same layout.

    `condition` (bool, shape `[B, ...]`) is padded with trailing size-1 dims to
    each leaf's rank; leaves must have at least its rank. Tensor inputs give
    tensors (`tf.where`), numpy inputs numpy arrays (`np.where`).
    """
    assert_same_structure(
        true_outputs,
        false_outputs,
        message='"true_outputs" and "false_outputs" structures do not match',
    )
    if has_tensors(condition, true_outputs, false_outputs):
        return _where_tf(condition, true_outputs, false_outputs)
    condition = np.asarray(condition)

    def _where(t, f):
        t = np.asarray(t)
        if t.ndim < condition.ndim:
            raise ValueError(
                f"where: a leaf of rank {t.ndim} has a lower rank than the condition "
                f"(rank {condition.ndim})"
            )
        cond = np.reshape(condition, condition.shape + (1,) * (t.ndim - condition.ndim))
        return np.where(cond, t, f)

    return nest.map_structure(_where, true_outputs, false_outputs)


def _where_tf(condition, true_outputs, false_outputs):
    tf = _tf.loaded()
    if not nest.flatten(true_outputs):
        return nest.map_structure(
            lambda t, f: tf.where(condition, t, f), true_outputs, false_outputs
        )
    condition = tf.convert_to_tensor(condition)
    condition_rank = tf.rank(condition)

    def per_field_where(t, f):
        t = tf.convert_to_tensor(t)
        f = tf.convert_to_tensor(f, dtype=t.dtype)
        tf.debugging.assert_rank_at_least(t, condition_rank)
        rank_difference = tf.rank(t) - condition_rank
        condition_shape = tf.concat(
            [tf.shape(condition), tf.ones(rank_difference, dtype=tf.int32)], axis=0
        )
        return tf.where(tf.reshape(condition, condition_shape), t, f)

    return nest.map_structure(per_field_where, true_outputs, false_outputs)


def tile_batch(tensors, multiplier):
    """Repeats each batch entry `multiplier` times: `[B, ...]` -> `[B * m, ...]`.

    Entries are repeated in place (`t[0], t[0], ..., t[1], t[1], ...`).

    Raises:
      ValueError: a leaf has rank 0 (or unknown rank, for tensors).
    """

    def _tile(t):
        if is_tensor(t):
            tf = _tf.loaded()
            if t.shape.ndims is None or t.shape.ndims < 1:
                raise ValueError("t must have statically known rank")
            shape_t = tf.shape(t)
            tiling = [1] * (t.shape.ndims + 1)
            tiling[1] = multiplier
            tiled = tf.tile(tf.expand_dims(t, 1), tiling)
            tiled = tf.reshape(tiled, tf.concat(([shape_t[0] * multiplier], shape_t[1:]), 0))
            if not tf.is_tensor(multiplier):
                n = tf.compat.dimension_value(t.shape.dims[0])
                static = n * multiplier if n is not None else None
                tiled = tf.ensure_shape(tiled, tf.TensorShape([static]).concatenate(t.shape[1:]))
            return tiled
        t = np.asarray(t)
        if t.ndim < 1:
            raise ValueError("t must have statically known rank")
        return np.repeat(t, multiplier, axis=0)

    return nest.map_structure(_tile, tensors)


def assert_value_spec(output_spec, network_name):
    """Checks that `output_spec` is a nest of float specs shaped `()` or `(1,)`.

    Raises:
      ValueError: naming `network_name` and the spec otherwise.
    """

    def check_value_spec(v):
        tf = _tf.loaded()
        if tf is None or not isinstance(v, tf.TensorSpec):
            raise ValueError(
                f"{network_name} emits outputs that are not tensors; spec: {output_spec}"
            )
        if v.shape not in ((), (1,)):
            raise ValueError(f"{network_name} emits multiple values; spec: {output_spec}")
        if not v.dtype.is_floating:
            raise ValueError(
                f"{network_name} emits outputs that are not real numbers; spec: {output_spec}"
            )

    nest.map_structure(check_value_spec, output_spec)

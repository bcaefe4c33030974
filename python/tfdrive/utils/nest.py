"""A numpy-only nest module with `tf.nest`'s traversal rules.

tfdrive's numpy code paths must not import TensorFlow, yet they handle the
same nested structures as TF-Agents, which relies on `tf.nest`. This module
reproduces the part of `tf.nest` that collection code needs (`is_nested`,
`flatten`, `pack_sequence_as`, `map_structure`, `assert_same_structure`)
with the same ordering, leaves and errors:

* Nests are sequences (`collections.abc.Sequence`: lists, tuples and
  namedtuples, ...) other than `str` and `bytes`, mappings (entries ordered
  by sorted key; packing restores the mapping's own key order), mapping
  views and `attrs` classes.
* Everything else is a leaf: `None`, strings, numpy arrays, tensors, specs,
  sets.
  `()`, `[]` and `{}` are empty nests and contribute no leaves.
"""

import collections
import sys
from collections import abc as _abc

import numpy as np

__all__ = [
    "assert_same_structure",
    "flatten",
    "is_nested",
    "leaf_paths",
    "map_structure",
    "pack_sequence_as",
]


def _is_namedtuple(x):
    if not isinstance(x, tuple):
        return False
    fields = getattr(type(x), "_fields", None)
    return isinstance(fields, _abc.Sequence) and all(isinstance(f, str) for f in fields)


def _is_attrs(x):
    return getattr(type(x), "__attrs_attrs__", None) is not None


# Common leaves, recognised without the (slow) abstract-base-class checks.
_LEAF_TYPES = (np.ndarray, np.generic, float, int, type(None))


def is_nested(structure):
    """Returns True if `structure` is a nest (not a leaf), like `tf.nest.is_nested`."""
    if isinstance(structure, _LEAF_TYPES):
        return False
    if isinstance(structure, (_abc.Mapping, _abc.MappingView, _abc.Sequence)):
        return not isinstance(structure, (str, bytes))
    return _is_attrs(structure)


def _sorted_keys(mapping):
    return sorted(mapping.keys())


def _children(structure):
    """The direct children of a nest, in `tf.nest` order."""
    if isinstance(structure, _abc.Mapping):
        return [structure[k] for k in _sorted_keys(structure)]
    if _is_attrs(structure):
        return [getattr(structure, a.name) for a in type(structure).__attrs_attrs__]
    return list(structure)


def _sequence_like(instance, args):
    """Builds a nest of the same kind as `instance` from its children `args`."""
    if isinstance(instance, _abc.Mapping):
        try:
            by_key = dict(zip(_sorted_keys(instance), args, strict=False))
        except TypeError:
            raise TypeError("nest only supports dicts with sortable keys.") from None
        instance_type = type(instance)
        if instance_type is collections.defaultdict:
            result = collections.defaultdict(instance.default_factory)
            for key in instance:
                result[key] = by_key[key]
            return result
        if isinstance(instance, _abc.MutableMapping):
            result = instance_type()
            for key in instance:
                result[key] = by_key[key]
            return result
        return instance_type((key, by_key[key]) for key in instance)
    if isinstance(instance, _abc.MappingView):
        return list(args)
    if _is_namedtuple(instance) or _is_attrs(instance):
        return type(instance)(*args)
    return type(instance)(args)


def flatten(structure):
    """Returns the leaves of `structure` as a flat list, in `tf.nest` order.

    A leaf (including `None`) flattens to `[leaf]`.
    """
    if not is_nested(structure):
        return [structure]
    out = []
    stack = [structure]
    # Iterative depth-first traversal, children visited left to right.
    while stack:
        node = stack.pop()
        if is_nested(node):
            stack.extend(reversed(_children(node)))
        else:
            out.append(node)
    return out


def _labelled_children(structure):
    """`(label, child)` pairs of a nest in `tf.nest` order: `['key']`, `.field` or `[i]`."""
    if isinstance(structure, _abc.Mapping):
        return [(f"[{k!r}]", structure[k]) for k in _sorted_keys(structure)]
    if _is_attrs(structure):
        return [(f".{a.name}", getattr(structure, a.name)) for a in type(structure).__attrs_attrs__]
    if _is_namedtuple(structure):
        return [(f".{f}", v) for f, v in zip(type(structure)._fields, structure)]
    return [(f"[{i}]", v) for i, v in enumerate(structure)]


def leaf_paths(structure, root=""):
    """The paths of `structure`'s leaves in `flatten` order, for messages.

    E.g. `observation['pos']` for `TimeStep(..., observation={'pos': x})`:
    fields of namedtuples and attrs classes after a dot (none at the top),
    mapping keys and sequence indices in brackets. A bare leaf's path is `root`.
    """
    if not is_nested(structure):
        return [root]
    return list(_paths_below(structure, ""))


def _paths_below(structure, prefix):
    for label, child in _labelled_children(structure):
        path = label[1:] if (not prefix and label.startswith(".")) else prefix + label
        if is_nested(child):
            yield from _paths_below(child, path)
        else:
            yield path


def _truncate(value, length):
    text = str(value)
    return text[:length] + (text[length:] and "...")


def _pack(structure, flat, index):
    packed = []
    for child in _children(structure):
        if is_nested(child):
            index, sub = _pack(child, flat, index)
            packed.append(_sequence_like(child, sub))
        else:
            packed.append(flat[index])
            index += 1
    return index, packed


def pack_sequence_as(structure, flat_sequence):
    """Packs the flat list `flat_sequence` into the nest layout of `structure`.

    Raises:
      TypeError: if `flat_sequence` is not a sequence.
      ValueError: if the number of leaves of `structure` differs from
        `len(flat_sequence)`.
    """
    if not is_nested(flat_sequence):
        raise TypeError(
            f"Attempted to pack value:\n  {_truncate(flat_sequence, 100)}\ninto a structure, but found "
            f"incompatible type `{type(flat_sequence)}` instead."
        )
    if not is_nested(structure):
        if len(flat_sequence) != 1:
            raise ValueError(
                f"The target structure is of type `{type(structure)}`\n  {_truncate(structure, 100)}\nHowever the input "
                f"is a sequence ({type(flat_sequence)}) of length {len(flat_sequence)}.\n  {_truncate(flat_sequence, 100)}\nnest cannot "
                "guarantee that it is safe to map one to the other."
            )
        return flat_sequence[0]
    flat_sequence = list(flat_sequence)
    try:
        final_index, packed = _pack(structure, flat_sequence, 0)
        if final_index < len(flat_sequence):
            raise IndexError
    except IndexError:
        n_leaves = len(flatten(structure))
        raise ValueError(
            f"Could not pack sequence. Structure had {n_leaves} atoms, but "
            f"flat_sequence had {len(flat_sequence)} items.  Structure: {structure}, "
            f"flat_sequence: {flat_sequence}."
        ) from None
    return _sequence_like(structure, packed)


class _Dot:
    """Renders as `.`; stands for a leaf in structure error messages."""

    def __repr__(self):
        return "."

    __str__ = __repr__


_DOT = _Dot()


def _describe(x):
    return f"type={type(x).__name__} str={x}"


def _same_namedtuples(a, b):
    return type(a).__name__ == type(b).__name__ and tuple(type(a)._fields) == tuple(type(b)._fields)


def _proxied(value):
    """What a `wrapt.ObjectProxy` wraps (only looked at if wrapt is loaded), else `value`."""
    wrapt = sys.modules.get("wrapt")
    if wrapt is not None and isinstance(value, wrapt.ObjectProxy):
        return value.__wrapped__
    return value


def _check_same(a, b, check_types):
    """Raises (exception type, message detail) on the first mismatch."""
    a_nested = is_nested(a)
    b_nested = is_nested(b)
    if a_nested != b_nested:
        seq, leaf = (a, b) if a_nested else (b, a)
        raise ValueError(
            f'Substructure "{_describe(seq)}" is a sequence, while substructure "{_describe(leaf)}" is not'
        )
    if not a_nested:
        return
    if check_types:
        # A tracked tuple (TF's `_TupleWrapper`, a wrapt proxy) counts as a tuple.
        type_a, type_b = type(_proxied(a)), type(_proxied(b))
        if _is_namedtuple(a) and _is_namedtuple(b):
            same = _same_namedtuples(a, b)
        else:
            same = (
                type_a is type_b
                or (isinstance(a, list) and isinstance(b, list))
                or (isinstance(a, _abc.Mapping) and isinstance(b, _abc.Mapping))
            )
        if not same:
            raise TypeError(
                "The two namedtuples don't have the same sequence type. First "
                f"structure {_describe(a)} has type {type_a.__name__}, while second structure {_describe(b)} has type {type_b.__name__}"
            )
        if isinstance(a, _abc.Mapping):
            keys_a, keys_b = list(a.keys()), list(b.keys())
            if set(keys_a) != set(keys_b):
                raise ValueError(
                    "The two dictionaries don't have the same set of keys. First "
                    f"structure has keys {_describe(keys_a)}, while second structure has keys {_describe(keys_b)}"
                )
    children_a, children_b = _children(a), _children(b)
    if len(children_a) != len(children_b):
        raise ValueError(
            "The two structures don't have the same number of elements. First "
            f"structure: {_describe(a)}. Second structure: {_describe(b)}"
        )
    for child_a, child_b in zip(children_a, children_b, strict=False):
        _check_same(child_a, child_b, check_types)


def _skeleton(structure):
    return pack_sequence_as(structure, [_DOT] * len(flatten(structure)))


def assert_same_structure(nest1, nest2, check_types=True):
    """Asserts that two nests have the same layout, like `tf.nest.assert_same_structure`.

    With `check_types`, nest types must match too: any two lists, any two
    mappings, and namedtuples with the same name and fields count as equal.

    Raises:
      ValueError: different nesting, lengths, or dictionary keys.
      TypeError: different nest types (only with `check_types`).
    """
    try:
        _check_same(nest1, nest2, bool(check_types))
    except (ValueError, TypeError) as e:
        raise type(e)(
            "The two structures don't have the same nested structure.\n\n"
            f"First structure: {_describe(nest1)}\n\nSecond structure: {_describe(nest2)}\n\nMore specifically: {e}\n"
            f"Entire first structure:\n{_skeleton(nest1)}\nEntire second structure:\n{_skeleton(nest2)}"
        ) from None


def map_structure(func, *structure, check_types=True):
    """Applies `func` leaf-wise across nests of the same layout.

    Returns a nest shaped like `structure[0]` whose leaves are
    `func(*leaves)`; like `tf.nest.map_structure`.
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got: {func}")
    if not structure:
        raise ValueError("Must provide at least one structure")
    if len(structure) == 1 and not is_nested(structure[0]):
        return func(structure[0])
    for other in structure[1:]:
        assert_same_structure(structure[0], other, check_types=check_types)
    flats = [flatten(s) for s in structure]
    return pack_sequence_as(structure[0], [func(*leaves) for leaves in zip(*flats, strict=False)])

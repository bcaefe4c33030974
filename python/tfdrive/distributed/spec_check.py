"""Comparing spec nests leaf by leaf, and batches with the spec they were collected for.

Specs from different processes, libraries (tfdrive's and TF-Agents') or
kinds (`ArraySpec`, `TensorSpec`) are compared by what the data depends on:
the nest's structure, and each leaf's shape and dtype. Bounds and names are
not compared. Messages name the leaf by its path, e.g.
`policy_info['dist_params']['logits']`.
"""

from __future__ import annotations

from collections import abc
from typing import Any

import numpy as np

from tfdrive.utils import nest

__all__ = ["batch_mismatch", "leaf_paths", "spec_mismatch"]


def leaf_paths(structure: Any, prefix: str = "") -> list[str]:
    """The path of each leaf of `structure`, in `nest.flatten` order."""
    structure = getattr(structure, "__wrapped__", structure)
    if not nest.is_nested(structure):
        return [prefix or "<root>"]
    if isinstance(structure, abc.Mapping):
        children = [(f"{prefix}[{key!r}]", structure[key]) for key in sorted(structure)]
    elif hasattr(type(structure), "__attrs_attrs__"):
        children = [
            (f"{prefix}.{a.name}" if prefix else a.name, getattr(structure, a.name))
            for a in type(structure).__attrs_attrs__
        ]
    elif hasattr(type(structure), "_fields"):
        children = [
            (f"{prefix}.{f}" if prefix else f, v)
            for f, v in zip(type(structure)._fields, structure, strict=True)
        ]
    else:
        children = [(f"{prefix}[{i}]", v) for i, v in enumerate(structure)]
    return [path for name, child in children for path in leaf_paths(child, name)]


def _shape(spec: Any) -> tuple:
    shape = spec.shape
    return tuple(shape.as_list() if hasattr(shape, "as_list") else shape)


def _dtype(spec: Any) -> np.dtype:
    dtype = spec.dtype
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def spec_mismatch(spec: Any, expected: Any) -> str | None:
    """Where `spec` first differs from `expected` (a description), or None if they agree."""
    leaves, expected_leaves = nest.flatten(spec), nest.flatten(expected)
    paths, expected_paths = leaf_paths(spec), leaf_paths(expected)
    if paths != expected_paths:
        extra = sorted(set(paths) - set(expected_paths))
        missing = sorted(set(expected_paths) - set(paths))
        return (
            f"the structures differ (leaves only in one: {extra}; only in the other: {missing})"
            if extra or missing
            else f"the structures differ ({len(leaves)} vs {len(expected_leaves)} leaves)"
        )
    for path, leaf, want in zip(paths, leaves, expected_leaves, strict=True):
        if _shape(leaf) != _shape(want) or _dtype(leaf) != _dtype(want):
            return (
                f"{path} is {_dtype(leaf).name}{list(_shape(leaf))} where "
                f"{_dtype(want).name}{list(_shape(want))} is expected"
            )
    return None


def batch_mismatch(trajectory: Any, spec: Any, outer_dims: int = 2) -> str | None:
    """Where a batch's arrays first differ from `spec` (with `outer_dims` leading dims), or None."""
    paths = leaf_paths(spec)
    leaves, specs = nest.flatten(trajectory), nest.flatten(spec)
    if len(leaves) != len(specs):
        return f"{len(leaves)} arrays where the spec has {len(specs)} leaves ({paths})"
    outer = None
    for path, leaf, want in zip(paths, leaves, specs, strict=True):
        array = np.asarray(leaf)
        inner = array.shape[outer_dims:]
        if array.ndim < outer_dims or inner != _shape(want) or array.dtype != _dtype(want):
            dims = ["B", "T"][:outer_dims] + [str(d) for d in _shape(want)]
            return (
                f"{path} is {array.dtype.name}{list(array.shape)} where "
                f"{_dtype(want).name}[{', '.join(dims)}] is expected"
            )
        if outer is None:
            outer = array.shape[:outer_dims]
        elif array.shape[:outer_dims] != outer:
            return f"{path} has outer dims {array.shape[:outer_dims]} where others have {outer}"
    return None

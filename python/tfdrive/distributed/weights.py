"""Policy weights as numpy: read from a learner's policy, checked, assigned on a worker.

The learner publishes a policy's variables once per round as a flat list of
numpy arrays, in the order of `policy.variables()`; a worker whose policy
was built the same way assigns them to its own variables in that order.
Variables are matched by position, shape and dtype, not by name: TF
uniquifies layer names per process, so the same network can be named
`dense_3/kernel` on the learner and `dense/kernel` on a worker.

`Signature` describes a variable list (names, shapes, dtypes) without the
values; the collector compares the workers' signatures with each other and
with every published list before anything is broadcast.

Importing this module needs only numpy; reading and assigning TF variables
imports nothing either (they are used through `.numpy()` and `.assign`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Signature", "assign", "assignable_variables", "check_weights", "to_numpy"]


@dataclasses.dataclass(frozen=True)
class Signature:
    """Names, shapes and dtypes of a flat list of variables (no values).

    Attributes:
      names: one name per variable (`var.name` for TF variables, `[i]`
        for plain arrays); for messages only.
      shapes: one shape tuple per variable.
      dtypes: one numpy dtype name per variable (`'float32'`).
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]

    @classmethod
    def of(cls, variables: Sequence[Any]) -> Signature:
        """The signature of TF variables or numpy arrays."""
        names, shapes, dtypes = [], [], []
        for i, v in enumerate(variables):
            names.append(str(getattr(v, "name", f"[{i}]")))
            shapes.append(tuple(int(d) for d in _shape(v)))
            dtypes.append(_dtype(v).name)
        return cls(tuple(names), tuple(shapes), tuple(dtypes))

    def __len__(self) -> int:
        return len(self.shapes)

    def describe(self, i: int) -> str:
        return f"variable {i} ({self.names[i]}: shape {self.shapes[i]}, {self.dtypes[i]})"

    def mismatch(self, other: Signature) -> str | None:
        """Where `other` first differs from this signature (shapes, dtypes, count), or None."""
        if len(other) != len(self):
            return f"{len(other)} variables where the policy has {len(self)}"
        for i in range(len(self)):
            if other.shapes[i] != self.shapes[i] or other.dtypes[i] != self.dtypes[i]:
                return (
                    f"{other.describe(i).replace('variable', 'array', 1)} where the policy has "
                    f"{self.describe(i)}"
                )
        return None


def _shape(value: Any) -> tuple[int, ...]:
    shape = value.shape
    return tuple(shape.as_list() if hasattr(shape, "as_list") else shape)


def _dtype(value: Any) -> np.dtype:
    dtype = value.dtype
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def assignable_variables(policy: Any) -> list[Any] | None:
    """The TF variables of `policy` that published weights are assigned to, in order.

    A `TFPolicy` (tfdrive's or TF-Agents'), a loaded saved policy
    (`SavedModelPyTFEagerPolicy`) and a `PyTFEagerPolicy` (whose own
    `variables()` returns copies) give their TF variables; a policy without
    variables (a numpy policy such as `RandomPyPolicy`) gives None.
    """
    inner = getattr(policy, "_policy", None)
    # PyTFEagerPolicy.variables() returns numpy copies; its wrapped TF policy
    # (or loaded model) holds the variables themselves.
    for candidate in (policy, inner, getattr(inner, "loaded", None)):
        if candidate is None:
            continue
        found = _tf_variables(candidate)
        if found is not None:
            return found
    return None


def _tf_variables(obj: Any) -> list[Any] | None:
    variables = getattr(obj, "model_variables", None)
    if variables is None:
        method = getattr(obj, "variables", None)
        if method is None:
            return None
        variables = method() if callable(method) else method
    variables = list(variables)
    if not all(hasattr(v, "assign") for v in variables):
        return None
    return variables


def to_numpy(weights: Any) -> list[np.ndarray]:
    """`weights` as a flat list of C-contiguous numpy arrays.

    Args:
      weights: a policy or agent policy with TF variables (see
        `assignable_variables`), a `tf.Module` (its `variables`), or a
        sequence of arrays / tensors / variables in the policy's variable
        order.

    Raises:
      TypeError: if `weights` is none of those.
    """
    if isinstance(weights, np.ndarray):
        raise TypeError(
            "weights must be a policy or a sequence of arrays (one per policy variable); "
            f"got a single array of shape {weights.shape}"
        )
    if isinstance(weights, Sequence) and not isinstance(weights, str | bytes):
        values = list(weights)
    else:
        found = assignable_variables(weights)
        if found is None:
            raise TypeError(
                "weights must be a policy with TF variables, a tf.Module, or a sequence of "
                f"arrays (one per policy variable); got {type(weights).__name__}"
            )
        values = found
    arrays = []
    for i, value in enumerate(values):
        array = value.numpy() if hasattr(value, "numpy") else value
        if not isinstance(array, np.ndarray | np.generic):
            raise TypeError(
                f"weights[{i}] must be an array, tensor or variable; got {type(value).__name__}"
            )
        arrays.append(np.asarray(array, order="C"))  # ascontiguousarray makes 0-d 1-d
    return arrays


def check_weights(arrays: Sequence[np.ndarray], signature: Signature) -> None:
    """Raises ValueError naming the first array whose shape or dtype differs from `signature`."""
    found = signature.mismatch(Signature.of(arrays))
    if found is not None:
        raise ValueError(f"weights do not match the workers' policy variables: {found}")


def assign(variables: Sequence[Any], arrays: Sequence[np.ndarray]) -> None:
    """Assigns `arrays` to TF `variables` in order (after `check_weights`)."""
    check_weights(arrays, Signature.of(variables))
    for variable, array in zip(variables, arrays, strict=True):
        variable.assign(array)

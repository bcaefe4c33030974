"""Specs for numpy arrays (`array_spec`) and tensors (`tensor_spec`).

The same names as `tf_agents.specs`. `array_spec`, `ArraySpec` and
`BoundedArraySpec` need only numpy; `tensor_spec` and the names taken from it
(`TensorSpec`, `BoundedTensorSpec`, `from_spec`, `is_bounded`, `is_discrete`,
`is_continuous`, `sample_spec_nest`, `zero_spec_nest`) import TensorFlow on
first access.
"""

import importlib

from tfdrive.specs import array_spec
from tfdrive.specs.array_spec import ArraySpec, BoundedArraySpec

_FROM_TENSOR_SPEC = (
    "BoundedTensorSpec",
    "TensorSpec",
    "from_spec",
    "is_bounded",
    "is_continuous",
    "is_discrete",
    "sample_spec_nest",
    "zero_spec_nest",
)

__all__ = ["ArraySpec", "BoundedArraySpec", "array_spec", "tensor_spec", *_FROM_TENSOR_SPEC]


def __getattr__(name):
    if name == "tensor_spec":
        return importlib.import_module("tfdrive.specs.tensor_spec")
    if name in _FROM_TENSOR_SPEC:
        return getattr(importlib.import_module("tfdrive.specs.tensor_spec"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

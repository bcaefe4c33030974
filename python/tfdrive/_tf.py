"""TensorFlow as an optional import: the one place that decides when to load it.

tfdrive's numpy side (specs, time steps, trajectories, PyDriver, native envs)
must import and run without TensorFlow, and must not pay TensorFlow's import
time when the user never touches a tensor. A value can only be a tensor if
TensorFlow is already imported, so the checks below look at `sys.modules`
and never import it; `tf()` imports it for code that builds tensors.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["is_tensor", "is_type_spec", "loaded", "tf"]

# Values that are never tensors, recognised without asking TensorFlow.
_NEVER_TENSORS = (np.ndarray, np.generic, int, float, complex, str, bytes, type(None))


def loaded() -> ModuleType | None:
    """The `tensorflow` module if something already imported it, else None."""
    return sys.modules.get("tensorflow")


def tf() -> ModuleType:
    """The `tensorflow` module, imported on first use."""
    import tensorflow

    return tensorflow


def is_tensor(x: Any) -> bool:
    """True if `x` is a TensorFlow tensor (never imports TensorFlow)."""
    if isinstance(x, _NEVER_TENSORS):  # skips tf.is_tensor's slow protocol check
        return False
    module = loaded()
    return module is not None and hasattr(module, "is_tensor") and module.is_tensor(x)


def is_type_spec(x: Any) -> bool:
    """True if `x` is a `tf.TypeSpec` (`tf.TensorSpec` and the like); never imports TensorFlow."""
    module = loaded()
    return module is not None and hasattr(module, "TypeSpec") and isinstance(x, module.TypeSpec)

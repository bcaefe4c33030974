"""Environments (``tf_agents.environments``): the PyEnvironment API, batching,
the Gymnasium adapter and tfdrive's native vectorized environments.

Importing this package needs only numpy; the Gymnasium modules
(``suite_gymnasium``, ``gymnasium_wrapper`` and their TF-Agents-named aliases
``suite_gym``, ``gym_wrapper``) import Gymnasium when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from tfdrive.environments import py_environment
from tfdrive.environments.py_environment import PyEnvironment

_LAZY_MODULES = (
    "suite_gymnasium",
    "gymnasium_wrapper",
    "suite_gym",
    "gym_wrapper",
    "batched_py_environment",
    "native",
)
_LAZY_ATTRS = {
    "GymnasiumWrapper": "gymnasium_wrapper",
    "GymWrapper": "gym_wrapper",
    "BatchedPyEnvironment": "batched_py_environment",
}

__all__ = ["PyEnvironment", "py_environment", *_LAZY_MODULES, *_LAZY_ATTRS]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRS:
        module = importlib.import_module(f"{__name__}.{_LAZY_ATTRS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

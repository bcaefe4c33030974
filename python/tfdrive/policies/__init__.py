"""Policies: numpy (`PyPolicy`) and TensorFlow (`TFPolicy`) ones.

Submodules load lazily, so ``import tfdrive.policies.py_policy`` and
``random_py_policy`` do not import TensorFlow; attribute access such as
``tfdrive.policies.ActorPolicy`` imports the module that defines it.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "actor_policy",
    "policy_saver",
    "py_policy",
    "py_tf_eager_policy",
    "random_py_policy",
    "random_tf_policy",
    "tf_policy",
)
_CLASSES = {
    "ActorPolicy": "actor_policy",
    "PolicySaver": "policy_saver",
    "PyPolicy": "py_policy",
    "PyTFEagerPolicy": "py_tf_eager_policy",
    "SavedModelPyTFEagerPolicy": "py_tf_eager_policy",
    "RandomPyPolicy": "random_py_policy",
    "RandomTFPolicy": "random_tf_policy",
    "TFPolicy": "tf_policy",
}

__all__ = list(_SUBMODULES) + list(_CLASSES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _CLASSES:
        module = importlib.import_module(f"{__name__}.{_CLASSES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Lazy package namespaces: submodules and re-exported classes load on first access.

TF-Agents' packages import every submodule (and so TensorFlow) at import
time; tfdrive's import a submodule only when an attribute names it, so the
numpy-only paths stay free of TensorFlow.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable


def lazy_namespace(
    package: str, path: list[str], classes: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """Returns ``(__all__, __getattr__, __dir__)`` for a package.

    Args:
      package: The package's ``__name__``.
      path: The package's ``__path__``; every public submodule found there is
        exported under its name.
      classes: Exported attribute name -> submodule defining it.
    """
    submodules = sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_"))
    exported = submodules + sorted(classes)

    def __getattr__(name: str) -> Any:
        if name in classes:
            return getattr(importlib.import_module(f"{package}.{classes[name]}"), name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return exported

    return exported, __getattr__, __dir__

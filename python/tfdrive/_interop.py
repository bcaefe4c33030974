"""tfdrive's classes as virtual subclasses of TF-Agents' abstract base classes.

TF-Agents checks some arguments with ``isinstance`` against its ABCs
(`PyEnvironment`, `TFEnvironment`, `PyPolicy`, `TFPolicy`, `PyMetric`,
`Network`): its `TFPyEnvironment` rejects any other environment, its
`PolicySaver` any other policy. tfdrive's counterparts have the same API, so
they are registered as virtual subclasses of TF-Agents' classes, and a user
can mix the two libraries. TF-Agents is never imported here: a class is
registered the first time one of its instances is built after TF-Agents'
module has been loaded (a dict lookup per construction until then).
"""

from __future__ import annotations

import sys

__all__ = ["register_with_tf_agents"]

# tfdrive class -> (TF-Agents module, class name), until registered.
_PENDING: dict[type, tuple[str, str]] = {}


def register_with_tf_agents(cls: type, module: str, name: str) -> None:
    """Registers `cls` as a virtual subclass of TF-Agents' `module.name` once it is loaded.

    Call it where `cls` is defined, and call `ensure_registered()` in its
    ``__init__``.
    """
    _PENDING[cls] = (module, name)
    ensure_registered()


def ensure_registered() -> None:
    """Registers every pending class whose TF-Agents module is loaded now."""
    if not _PENDING:
        return
    for cls, (module, name) in list(_PENDING.items()):
        loaded = sys.modules.get(module)
        base = getattr(loaded, name, None) if loaded is not None else None
        if base is not None and hasattr(base, "register"):
            base.register(cls)
            del _PENDING[cls]

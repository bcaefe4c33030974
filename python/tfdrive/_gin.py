"""Gin configuration of tfdrive's classes under TF-Agents' names.

TF-Agents marks its networks ``@gin.configurable``, so gin files set their
arguments by class name (``QNetwork.fc_layer_params = (100,)``). The same
files should configure tfdrive's drop-ins, but gin resolves a short name to
one class only: if both libraries registered ``QNetwork``, any process that
also imports TF-Agents (importing any ``tf_agents`` module registers all of
its classes) would fail to parse such a file as ambiguous. So:

* without TF-Agents installed, tfdrive registers its classes with gin itself;
* with TF-Agents installed, tfdrive registers nothing: each class reads, when
  built, the bindings gin holds for TF-Agents' class of the same module path
  (``tf_agents.networks.q_network.QNetwork`` for
  ``tfdrive.networks.q_network.QNetwork``), in the active gin scope, for the
  arguments the caller did not pass. TF-Agents must then be imported before
  the gin file is parsed (gin needs the name registered).

Without gin-config installed, `configurable` leaves the class unchanged.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from typing import Any, TypeVar

__all__ = ["configurable"]

T = TypeVar("T")

try:
    import gin as _gin
except ImportError:  # gin-config is optional.
    _gin = None


def _tf_agents_selector(cls: Any) -> str:
    """``tfdrive.a.b.Name`` -> ``tf_agents.a.b.Name``."""
    return "tf_agents" + cls.__module__[len("tfdrive") :] + "." + cls.__qualname__


def _bindings(selector: str) -> dict:
    try:
        return _gin.get_bindings(selector)
    except ValueError:  # Not registered: TF-Agents' module was not imported.
        return {}


def _follow_bindings(cls: Any, selector: str) -> Any:
    """`cls`, its `__init__` wrapped in place (deliberately dynamic, hence `Any`)."""
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def init_with_gin_bindings(self: Any, *args: Any, **kwargs: Any) -> None:
        bindings = _bindings(selector)
        if bindings:
            try:
                given = signature.bind_partial(self, *args, **kwargs).arguments
            except TypeError:
                given = None  # Bad arguments: `init` raises Python's own error.
            if given is not None:
                kwargs.update({k: v for k, v in bindings.items() if k not in given})
        init(self, *args, **kwargs)

    cls.__init__ = init_with_gin_bindings
    return cls


def configurable(cls: T) -> T:
    """Makes `cls` (a tfdrive class mirroring a TF-Agents one) configurable by gin."""
    if _gin is None:
        return cls
    if importlib.util.find_spec("tf_agents") is None:
        return _gin.configurable(cls)
    return _follow_bindings(cls, _tf_agents_selector(cls))

"""Agents. tfdrive provides the collection side only: `agents.ppo.ppo_policy`."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ppo"]


def __getattr__(name: str) -> Any:
    if name == "ppo":
        return importlib.import_module(f"{__name__}.ppo")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

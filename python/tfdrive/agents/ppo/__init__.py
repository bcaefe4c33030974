"""PPO's collection policy (`ppo_policy.PPOPolicy`); training is not part of tfdrive."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ppo_policy", "PPOPolicy"]


def __getattr__(name: str) -> Any:
    if name == "ppo_policy":
        return importlib.import_module(f"{__name__}.ppo_policy")
    if name == "PPOPolicy":
        return importlib.import_module(f"{__name__}.ppo_policy").PPOPolicy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

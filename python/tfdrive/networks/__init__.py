"""Networks used by tfdrive's actor and PPO policies.

Submodules load lazily (each imports TensorFlow); ``tfdrive.networks.Network``
and the network classes resolve on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "actor_distribution_network",
    "actor_distribution_rnn_network",
    "layers",
    "lstm_encoding_network",
    "categorical_projection_network",
    "normal_projection_network",
    "network",
    "value_network",
    "value_rnn_network",
)
_CLASSES = {
    "Network": "network",
    "DistributionNetwork": "network",
    "ActorDistributionNetwork": "actor_distribution_network",
    "ActorDistributionRnnNetwork": "actor_distribution_rnn_network",
    "ValueNetwork": "value_network",
    "ValueRnnNetwork": "value_rnn_network",
}

__all__ = list(_SUBMODULES) + list(_CLASSES)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _CLASSES:
        return getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

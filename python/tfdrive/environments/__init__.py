"""Environments (``tf_agents.environments``): the PyEnvironment API, batching,
wrappers, the TF environment API, the Gym/Gymnasium adapters and tfdrive's
native vectorized environments.

Importing this package needs only numpy; every other module (TensorFlow for
the TF environments, Gym/Gymnasium for the adapters) is imported when first
used, by name: ``environments.TFPyEnvironment``, ``environments.wrappers``...
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
    "random_py_environment",
    "random_tf_environment",
    "test_envs",
    "tf_environment",
    "tf_py_environment",
    "tf_wrappers",
    "trajectory_replay",
    "utils",
    "wrappers",
)
_WRAPPERS = (
    "ActionClipWrapper",
    "ActionDiscretizeWrapper",
    "ActionOffsetWrapper",
    "ActionRepeat",
    "FlattenObservationsWrapper",
    "GoalReplayEnvWrapper",
    "HistoryWrapper",
    "ObservationFilterWrapper",
    "OneHotActionWrapper",
    "PerformanceProfiler",
    "PyEnvironmentBaseWrapper",
    "RunStats",
    "TimeLimit",
)
_LAZY_ATTRS = {
    "GymnasiumWrapper": "gymnasium_wrapper",
    "GymWrapper": "gym_wrapper",
    "BatchedPyEnvironment": "batched_py_environment",
    "RandomPyEnvironment": "random_py_environment",
    "RandomTFEnvironment": "random_tf_environment",
    "TFEnvironment": "tf_environment",
    "TFPyEnvironment": "tf_py_environment",
    "TrajectoryReplay": "trajectory_replay",
    "validate_py_environment": "utils",
    **{name: "wrappers" for name in _WRAPPERS},
}

__all__ = ["PyEnvironment", "py_environment", *_LAZY_MODULES, *_LAZY_ATTRS]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRS:
        module = importlib.import_module(f"{__name__}.{_LAZY_ATTRS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

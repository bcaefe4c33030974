"""Deterministic counting environments for tests (``tf_agents.environments.test_envs``).

All three reset by themselves after a ``LAST`` step (``handle_auto_reset``)
and end each episode after ``steps_per_episode`` steps with reward 1
(0 on the other steps):

- :class:`CountingEnv`: the observation is the step within the episode,
  plus ``10 * episode`` after the first episode.
- :class:`EpisodeCountingEnv`: the observation is ``(episode, step)``.
- :class:`NestedCountingEnv`: the observation is ``{'total_steps':
  10 * episode + step, 'current_steps': step}``; the action may be nested.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfdrive import _gin
from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

__all__ = ["CountingEnv", "EpisodeCountingEnv", "NestedCountingEnv"]


def _ended_an_episode(env: py_environment.PyEnvironment) -> bool:
    """Whether ``env``'s current time step (if any) is ``LAST``."""
    current = env._current_time_step
    return current is not None and bool(current.is_last())


def _binary_action_spec() -> array_spec.BoundedArraySpec:
    return array_spec.BoundedArraySpec((), dtype=np.int32, minimum=0, maximum=1)


@_gin.configurable
class CountingEnv(py_environment.PyEnvironment):
    """Counts steps (see the module docs); observations of ``dtype``, shape ``[]``.

    Args:
      steps_per_episode: the episode length.
      dtype: the observation and action dtype.
    """

    def __init__(self, steps_per_episode: int = 10, dtype: Any = np.int32):
        self._steps_per_episode = steps_per_episode
        self._dtype = np.dtype(dtype)
        self._episodes = 0
        self._current_step = np.array(0, dtype=self._dtype)
        super().__init__(handle_auto_reset=True)

    def observation_spec(self) -> array_spec.BoundedArraySpec:
        return array_spec.BoundedArraySpec((), dtype=self._dtype)

    def action_spec(self) -> array_spec.BoundedArraySpec:
        return array_spec.BoundedArraySpec((), dtype=self._dtype, minimum=0, maximum=1)

    def _observation(self) -> np.ndarray:
        if self._episodes:
            return np.array(10 * self._episodes + self._current_step, dtype=self._dtype)
        return self._current_step

    def _step(self, action: Any) -> ts.TimeStep:
        del action  # The count ignores actions.
        self._current_step = np.array(1 + self._current_step, dtype=self._dtype)
        if self._current_step < self._steps_per_episode:
            return ts.transition(self._observation(), 0)
        return ts.termination(self._observation(), 1)

    def _reset(self) -> ts.TimeStep:
        if _ended_an_episode(self):
            self._episodes += 1
        self._current_step = np.array(0, dtype=self._dtype)
        return ts.restart(self._observation())

    def get_info(self) -> dict:
        """An empty info dict."""
        return {}


@_gin.configurable
class EpisodeCountingEnv(py_environment.PyEnvironment):
    """Observations ``(episode, step)``, two int32 scalars (see the module docs)."""

    def __init__(self, steps_per_episode: int = 10):
        self._steps_per_episode = steps_per_episode
        self._episodes = 0
        self._steps = 0
        super().__init__(handle_auto_reset=True)

    def observation_spec(self) -> tuple:
        return (
            array_spec.BoundedArraySpec((), dtype=np.int32),
            array_spec.BoundedArraySpec((), dtype=np.int32),
        )

    def action_spec(self) -> array_spec.BoundedArraySpec:
        return _binary_action_spec()

    def _observation(self) -> tuple:
        return (np.array(self._episodes, dtype=np.int32), np.array(self._steps, dtype=np.int32))

    def _step(self, action: Any) -> ts.TimeStep:
        del action  # The count ignores actions.
        self._steps += 1
        if self._steps < self._steps_per_episode:
            return ts.transition(self._observation(), 0)
        return ts.termination(self._observation(), 1)

    def _reset(self) -> ts.TimeStep:
        if _ended_an_episode(self):
            self._episodes += 1
            self._steps = 0
        return ts.restart(self._observation())


@_gin.configurable
class NestedCountingEnv(py_environment.PyEnvironment):
    """Dict observations (see the module docs).

    Args:
      steps_per_episode: the episode length.
      nested_action: use the action spec ``{'foo': ..., 'bar': ...}`` (two
        int32 scalars in ``[0, 1]``) instead of a single one.
    """

    def __init__(self, steps_per_episode: int = 10, nested_action: bool = False):
        self._steps_per_episode = steps_per_episode
        self._episodes = 0
        self._current_step = np.array(0, dtype=np.int32)
        self._nested_action = nested_action
        super().__init__(handle_auto_reset=True)

    def observation_spec(self) -> dict:
        return {
            "total_steps": array_spec.BoundedArraySpec((), dtype=np.int32),
            "current_steps": array_spec.BoundedArraySpec((), dtype=np.int32),
        }

    def action_spec(self) -> Any:
        if self._nested_action:
            return {"foo": _binary_action_spec(), "bar": _binary_action_spec()}
        return _binary_action_spec()

    def _observation(self) -> dict:
        return {
            "total_steps": np.array(10 * self._episodes + self._current_step, dtype=np.int32),
            "current_steps": self._current_step,
        }

    def _step(self, action: Any) -> ts.TimeStep:
        del action  # The count ignores actions.
        self._current_step = np.array(1 + self._current_step, dtype=np.int32)
        if self._current_step < self._steps_per_episode:
            return ts.transition(self._observation(), 0)
        return ts.termination(self._observation(), 1)

    def _reset(self) -> ts.TimeStep:
        if _ended_an_episode(self):
            self._episodes += 1
        self._current_step = np.array(0, dtype=np.int32)
        return ts.restart(self._observation())

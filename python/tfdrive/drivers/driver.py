"""The driver base class: an environment, a policy and three observer lists."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any


class Driver(abc.ABC):
    """Takes steps in an environment with a policy and notifies observers.

    Args:
      env: the environment to step.
      policy: the policy that picks the actions.
      observers: callables, each called with every `Trajectory`.
      transition_observers: callables, each called with every transition
        `(time_step, action_step, next_time_step)`.
      info_observers: callables, each called with `env.get_info()` after
        every step.

    A `None` observer list is stored as an empty list; any other sequence is
    stored as given, so a list appended to between two `run()` calls takes
    effect at the next one.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        observers: Sequence[Callable[[Any], Any]] | None = None,
        transition_observers: Sequence[Callable[[Any], Any]] | None = None,
        info_observers: Sequence[Callable[[Any], Any]] | None = None,
    ):
        self._env = env
        self._policy = policy
        self._observers = observers or []
        self._transition_observers = transition_observers or []
        self._info_observers = info_observers or []

    @property
    def env(self) -> Any:
        return self._env

    @property
    def policy(self) -> Any:
        return self._policy

    @property
    def observers(self) -> Sequence[Callable[[Any], Any]]:
        return self._observers

    @property
    def transition_observers(self) -> Sequence[Callable[[Any], Any]]:
        return self._transition_observers

    @property
    def info_observers(self) -> Sequence[Callable[[Any], Any]]:
        return self._info_observers

    @abc.abstractmethod
    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Takes steps in the environment and updates the observers."""

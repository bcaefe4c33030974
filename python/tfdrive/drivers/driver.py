"""The driver base class: an environment, a policy and three observer lists."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import Any


def _observer_list(argument: str, observers: Any) -> Any:
    """`observers or []`, after checking it is a collection of callables.

    A list or tuple is kept as given (as TF-Agents does); any other iterable
    (a generator, `map(...)`, `iter(...)`) is read once into a list, since
    checking it would otherwise consume it and leave the run no observers.

    Raises:
      TypeError: naming `argument` and the index of the offending entry.
    """
    if observers is None:
        return []
    if not isinstance(observers, Iterable) or isinstance(observers, (str, bytes)):
        raise TypeError(
            f"{argument} must be a list of callables; got {type(observers).__name__} {observers!r}"
        )
    if not isinstance(observers, Sequence):
        observers = list(observers)
    if not observers:
        return []
    for i, observer in enumerate(observers):
        if not callable(observer):
            raise TypeError(f"{argument}[{i}] is not callable: {observer!r}")
    return observers


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
        self._observers = _observer_list("observers", observers)
        self._transition_observers = _observer_list("transition_observers", transition_observers)
        self._info_observers = _observer_list("info_observers", info_observers)

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

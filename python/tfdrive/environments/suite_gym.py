"""Loads Gym or Gymnasium environments as PyEnvironments (``tf_agents.environments.suite_gym``).

``load('CartPole-v1')`` makes the registered environment (from legacy
``gym``'s registry when ``gym`` is installed and knows the id, as in
TF-Agents, else from Gymnasium's), wraps it in a
:class:`~tfdrive.environments.gym_wrapper.GymWrapper` and limits its
episodes with :class:`~tfdrive.environments.wrappers.TimeLimit` (the
registered ``max_episode_steps`` unless overridden).

For Gymnasium's own conventions (its ``TimeLimit``, truncations with
discount 1) and the fast Rust stepping of batches, see
:mod:`tfdrive.environments.suite_gymnasium`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

from tfdrive.environments import gym_wrapper, wrappers

__all__ = ["load", "wrap_env"]

#: ``time_limit_wrapper(env, max_episode_steps) -> env``.
TimeLimitWrapperType = Callable[[Any, int], Any]


def _configurable(fn: Callable) -> Callable:
    """Lets gin bindings of TF-Agents' function of the same name fill missing arguments.

    Like ``tfdrive._gin.configurable`` for classes: with TF-Agents installed,
    ``suite_gym.load.environment_name = ...`` in a gin file (parsed after
    importing TF-Agents' module) configures this function too.
    """
    selector = f"tf_agents.environments.suite_gym.{fn.__name__}"
    gin = importlib.import_module("gin") if importlib.util.find_spec("gin") else None
    if gin is None:
        return fn

    @functools.wraps(fn)
    def with_bindings(*args: Any, **kwargs: Any) -> Any:
        try:
            bindings = gin.get_bindings(selector)
        except ValueError:  # TF-Agents' function is not registered.
            bindings = {}
        names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        given = set(names[: len(args)]) | set(kwargs)
        kwargs.update({k: v for k, v in bindings.items() if k not in given})
        return fn(*args, **kwargs)

    return with_bindings


def _registry(environment_name: str) -> Any:
    """The ``gym`` module whose registry knows ``environment_name`` (legacy gym first)."""
    if importlib.util.find_spec("gym") is not None:
        gym = importlib.import_module("gym")
        try:
            gym.spec(environment_name)
            return gym
        except gym.error.Error:
            pass
    return importlib.import_module("gymnasium")


@_configurable
def load(
    environment_name: str,
    discount: float = 1.0,
    max_episode_steps: int | None = None,
    gym_env_wrappers: Sequence[Callable[[Any], Any]] = (),
    env_wrappers: Sequence[Callable[[Any], Any]] = (),
    spec_dtype_map: dict | None = None,
    gym_kwargs: dict | None = None,
    render_kwargs: dict | None = None,
) -> Any:
    """Makes a registered environment and wraps it as a PyEnvironment.

    Args:
      environment_name: a registered id, e.g. ``'CartPole-v1'``.
      discount: the discount of non-terminal steps.
      max_episode_steps: the ``TimeLimit`` duration; None uses the registered
        one, 0 (or a registered None) applies none.
      gym_env_wrappers: Gym wrappers applied to the Gym env, innermost first.
      env_wrappers: PyEnvironment wrappers applied last, innermost first.
      spec_dtype_map: maps space classes to spec dtypes.
      gym_kwargs: keyword arguments for making the env.
      render_kwargs: keyword arguments for ``render()``.

    Returns:
      A non-batched PyEnvironment.
    """
    gym_spec = _registry(environment_name).spec(environment_name)
    gym_env = _make(gym_spec, gym_kwargs or {})
    if max_episode_steps is None and gym_spec.max_episode_steps is not None:
        max_episode_steps = gym_spec.max_episode_steps
    return wrap_env(
        gym_env,
        discount=discount,
        max_episode_steps=max_episode_steps,
        gym_env_wrappers=gym_env_wrappers,
        env_wrappers=env_wrappers,
        spec_dtype_map=spec_dtype_map,
        render_kwargs=render_kwargs,
    )


def _make(gym_spec: Any, gym_kwargs: dict) -> Any:
    """The env of a registry entry: ``spec.make`` (gym) or ``gymnasium.make(spec)``."""
    if callable(getattr(gym_spec, "make", None)):
        return gym_spec.make(**gym_kwargs)
    return importlib.import_module("gymnasium").make(gym_spec, **gym_kwargs)


@_configurable
def wrap_env(
    gym_env: Any,
    discount: float = 1.0,
    max_episode_steps: int | None = None,
    gym_env_wrappers: Sequence[Callable[[Any], Any]] = (),
    time_limit_wrapper: TimeLimitWrapperType = wrappers.TimeLimit,
    env_wrappers: Sequence[Callable[[Any], Any]] = (),
    spec_dtype_map: dict | None = None,
    auto_reset: bool = True,
    render_kwargs: dict | None = None,
) -> Any:
    """Wraps a Gym/Gymnasium env as a PyEnvironment (see ``load``).

    Args:
      gym_env: the environment.
      discount: the discount of non-terminal steps.
      max_episode_steps: the ``time_limit_wrapper`` duration (None or <= 0: none).
      gym_env_wrappers: Gym wrappers applied to ``gym_env`` first.
      time_limit_wrapper: ``wrapper(env, max_episode_steps)`` applying the limit.
      env_wrappers: PyEnvironment wrappers applied last.
      spec_dtype_map: maps space classes to spec dtypes.
      auto_reset: reset on the ``step()`` after a ``LAST`` step.
      render_kwargs: keyword arguments for ``render()``.
    """
    for wrapper in gym_env_wrappers:
        gym_env = wrapper(gym_env)
    env = gym_wrapper.GymWrapper(
        gym_env,
        discount=discount,
        spec_dtype_map=spec_dtype_map,
        auto_reset=auto_reset,
        render_kwargs=render_kwargs,
    )
    if max_episode_steps is not None and max_episode_steps > 0:
        env = time_limit_wrapper(env, max_episode_steps)
    for wrapper in env_wrappers:
        env = wrapper(env)
    return env

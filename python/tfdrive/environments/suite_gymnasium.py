"""Loads Gymnasium environments as PyEnvironments (``tf_agents.environments.suite_gym``
for Gymnasium).

``load('CartPole-v1')`` gives a :class:`~tfdrive.environments.gymnasium_wrapper.GymnasiumWrapper`
around ``gymnasium.make('CartPole-v1')``: Gymnasium's own ``TimeLimit``
(the registered ``max_episode_steps`` unless overridden) truncates episodes,
which end with ``LAST`` and discount 1.0; terminations end with discount 0.0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

from tfdrive.environments import gymnasium_wrapper, py_environment

__all__ = ["load", "wrap_env"]


def load(
    environment_name: str,
    discount: float = 1.0,
    max_episode_steps: int | None = None,
    gym_env_wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
    env_wrappers: Sequence[Callable[[Any], Any]] = (),
    spec_dtype_map: dict | None = None,
    gym_kwargs: dict | None = None,
    render_kwargs: dict | None = None,
) -> py_environment.PyEnvironment:
    """Makes a Gymnasium environment and wraps it as a PyEnvironment.

    Args:
      environment_name: a registered Gymnasium id, e.g. ``'CartPole-v1'``.
      discount: the discount of non-terminal steps.
      max_episode_steps: the time limit; ``None`` uses the registered one, 0
        applies none.
      gym_env_wrappers: Gymnasium wrappers applied to the Gymnasium env (outside
        its time limit).
      env_wrappers: PyEnvironment wrappers applied to the wrapped env.
      spec_dtype_map: maps Gymnasium space classes to spec dtypes.
      gym_kwargs: keyword arguments for ``gymnasium.make`` (e.g.
        ``{'render_mode': 'rgb_array'}``).
      render_kwargs: keyword arguments for ``render()``.

    Returns:
      A non-batched PyEnvironment (a ``GymnasiumWrapper`` unless
      ``env_wrappers`` wrap it).
    """
    gym_kwargs = dict(gym_kwargs) if gym_kwargs else {}
    gym_spec = gym.spec(environment_name)
    if max_episode_steps is not None and max_episode_steps <= 0:
        gym_env = gym.make(dataclasses.replace(gym_spec, max_episode_steps=None), **gym_kwargs)
    elif max_episode_steps is not None:
        gym_env = gym.make(gym_spec, max_episode_steps=max_episode_steps, **gym_kwargs)
    else:
        gym_env = gym.make(gym_spec, **gym_kwargs)
    return wrap_env(
        gym_env,
        discount=discount,
        gym_env_wrappers=gym_env_wrappers,
        env_wrappers=env_wrappers,
        spec_dtype_map=spec_dtype_map,
        render_kwargs=render_kwargs,
    )


def wrap_env(
    gym_env: gym.Env,
    discount: float = 1.0,
    gym_env_wrappers: Sequence[Callable[[gym.Env], gym.Env]] = (),
    env_wrappers: Sequence[Callable[[Any], Any]] = (),
    spec_dtype_map: dict | None = None,
    auto_reset: bool = True,
    render_kwargs: dict | None = None,
) -> py_environment.PyEnvironment:
    """Wraps an existing Gymnasium env (see ``load``); its time limit, if any, is its own."""
    for wrapper in gym_env_wrappers:
        gym_env = wrapper(gym_env)
    env = gymnasium_wrapper.GymnasiumWrapper(
        gym_env,
        discount=discount,
        spec_dtype_map=spec_dtype_map,
        auto_reset=auto_reset,
        render_kwargs=render_kwargs,
    )
    for wrapper in env_wrappers:
        env = wrapper(env)
    return env

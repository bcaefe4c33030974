"""Wraps a Gymnasium environment as a :class:`PyEnvironment`
(``tf_agents.environments.gym_wrapper`` for Gymnasium's API).

Specs come from the Gymnasium spaces (:func:`spec_from_gym_space`). Time
steps follow TF-Agents' ``GymWrapper`` with Gymnasium's two end flags:

- ``reset()``: ``FIRST``, reward 0.0, discount 1.0;
- ``terminated``: ``LAST`` with discount 0.0;
- ``truncated`` (and not terminated): ``LAST`` with discount ``discount``
  (1.0 by default): the episode was cut short, its value continues;
- otherwise ``MID`` with discount ``discount``.

With ``auto_reset=True`` (the default) the ``step()`` after a ``LAST`` step
resets and ignores its action. ``seed(s)`` seeds the next reset
(``env.reset(seed=s)``). ``get_info()`` returns the info dict of the last
``reset``/``step``. Observations are cast to the spec's dtypes.

:class:`GymnasiumWrapper` is :class:`~tfdrive.environments.gym_wrapper.GymWrapper`
restricted to Gymnasium's API; ``BatchedPyEnvironment`` steps batches of
exactly this class in Rust.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from tfdrive.environments import gym_wrapper
from tfdrive.environments.gym_wrapper import spec_from_gym_space

__all__ = ["GymnasiumWrapper", "spec_from_gym_space"]


class GymnasiumWrapper(gym_wrapper.GymWrapper):
    """A Gymnasium ``Env`` as a (non-batched) :class:`PyEnvironment` (see the module docs).

    Args:
      gym_env: the Gymnasium environment (time limits are Gymnasium's
        ``TimeLimit``; ``suite_gymnasium.load`` applies it).
      discount: the discount of ``MID`` and truncated ``LAST`` steps.
      spec_dtype_map: maps space classes to dtypes (see ``spec_from_gym_space``).
      match_obs_space_dtype: cast observations to the observation spec's dtypes.
      auto_reset: reset on the ``step()`` after a ``LAST`` step.
      simplify_box_bounds: see ``spec_from_gym_space``.
      render_kwargs: keyword arguments for ``gym_env.render``.

    Unknown attributes are forwarded to ``gym_env``.
    """

    def __init__(
        self,
        gym_env: gym.Env,
        discount: float = 1.0,
        spec_dtype_map: dict | None = None,
        match_obs_space_dtype: bool = True,
        auto_reset: bool = True,
        simplify_box_bounds: bool = True,
        render_kwargs: dict | None = None,
    ):
        super().__init__(
            gym_env,
            discount=discount,
            spec_dtype_map=spec_dtype_map,
            match_obs_space_dtype=match_obs_space_dtype,
            auto_reset=auto_reset,
            simplify_box_bounds=simplify_box_bounds,
            render_kwargs=render_kwargs,
        )
        self._new_api = True  # Gymnasium's API, whatever the env's class.

    def seed(self, seed: int | None) -> int:
        """Seeds the next reset (``gym_env.reset(seed=seed)``); returns ``seed`` (0 for None)."""
        self._seed = seed
        return 0 if seed is None else seed

    def get_info(self) -> Any:
        """The info dict of the last ``reset()``/``step()`` (None before the first)."""
        return self._info

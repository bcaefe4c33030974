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
"""

from __future__ import annotations

import collections
from typing import Any

import gymnasium as gym
import numpy as np

from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

__all__ = ["GymnasiumWrapper", "spec_from_gym_space"]


def _try_simplify_array_to_value(np_array: np.ndarray) -> np.ndarray:
    """A 0-d array if every element of ``np_array`` is the same, else ``np_array``."""
    first_value = np_array.item(0)
    if np.all(np_array == first_value):
        return np.array(first_value, dtype=np_array.dtype)
    return np_array


def spec_from_gym_space(
    space: gym.Space,
    dtype_map: dict | None = None,
    simplify_box_bounds: bool = True,
    name: str | None = None,
) -> Any:
    """Converts a Gymnasium space into a nest of ``BoundedArraySpec``.

    - ``Discrete(n, start)``: shape ``()``, int64, ``[start, start + n - 1]``.
    - ``MultiDiscrete(nvec, start)``: shape ``nvec.shape``, int32,
      ``[start, start + nvec - 1]`` (a single value when all are equal).
    - ``MultiBinary(n)``: shape ``(n,)`` (or ``n`` if a shape), int32, ``[0, 1]``.
    - ``Box``: the space's shape and dtype, its ``low``/``high`` (collapsed to
      one value each when uniform and ``simplify_box_bounds``).
    - ``Tuple``: a tuple of specs named ``<name>/tuple_<i>``.
    - ``Dict``: an ``OrderedDict`` of specs named ``<name>/<key>``.

    Args:
      space: the Gymnasium space.
      dtype_map: maps a space class (``gym.spaces.Discrete``, ...) to the dtype
        to use instead of the default.
      simplify_box_bounds: see ``Box`` above.
      name: the spec's name (the prefix of nested names).

    Raises:
      ValueError: ``'The gym space {space} is currently not supported.'``.
    """
    if dtype_map is None:
        dtype_map = {}

    def nested_spec(sub_space: gym.Space, child_name: str) -> Any:
        nested_name = name + "/" + child_name if name else child_name
        return spec_from_gym_space(sub_space, dtype_map, simplify_box_bounds, nested_name)

    if isinstance(space, gym.spaces.Discrete):
        dtype = dtype_map.get(gym.spaces.Discrete, np.int64)
        start = int(getattr(space, "start", 0))
        return array_spec.BoundedArraySpec(
            shape=(), dtype=dtype, minimum=start, maximum=start + int(space.n) - 1, name=name
        )
    if isinstance(space, gym.spaces.MultiDiscrete):
        dtype = dtype_map.get(gym.spaces.MultiDiscrete, np.int32)
        start = np.asarray(getattr(space, "start", np.zeros_like(space.nvec)), dtype=dtype)
        maximum = _try_simplify_array_to_value(np.asarray(start + space.nvec - 1, dtype=dtype))
        minimum = _try_simplify_array_to_value(start)
        return array_spec.BoundedArraySpec(
            shape=space.shape, dtype=dtype, minimum=minimum, maximum=maximum, name=name
        )
    if isinstance(space, gym.spaces.MultiBinary):
        dtype = dtype_map.get(gym.spaces.MultiBinary, np.int32)
        shape = (space.n,) if isinstance(space.n, (int, np.integer)) else tuple(space.n)
        return array_spec.BoundedArraySpec(
            shape=shape, dtype=dtype, minimum=0, maximum=1, name=name
        )
    if isinstance(space, gym.spaces.Box):
        if gym.spaces.Box in dtype_map:
            dtype = dtype_map[gym.spaces.Box]
        else:
            dtype = space.dtype if space.dtype is not None else np.float32
        minimum = np.asarray(space.low, dtype=dtype)
        maximum = np.asarray(space.high, dtype=dtype)
        if simplify_box_bounds:
            simple_minimum = _try_simplify_array_to_value(minimum)
            simple_maximum = _try_simplify_array_to_value(maximum)
            if simple_minimum.shape == simple_maximum.shape:
                minimum, maximum = simple_minimum, simple_maximum
        return array_spec.BoundedArraySpec(
            shape=space.shape, dtype=dtype, minimum=minimum, maximum=maximum, name=name
        )
    if isinstance(space, gym.spaces.Tuple):
        return tuple(nested_spec(s, f"tuple_{i}") for i, s in enumerate(space.spaces))
    if isinstance(space, gym.spaces.Dict):
        return collections.OrderedDict(
            (key, nested_spec(s, key)) for key, s in space.spaces.items()
        )
    raise ValueError(f"The gym space {space} is currently not supported.")


def _match_dtypes(spec: Any, value: Any) -> Any:
    """``value`` with every leaf cast to its spec's dtype, in the spec's layout."""
    if isinstance(spec, dict):
        return type(spec)((key, _match_dtypes(s, value[key])) for key, s in spec.items())
    if isinstance(spec, tuple):
        return tuple(_match_dtypes(s, v) for s, v in zip(spec, value, strict=True))
    return np.asarray(value, dtype=spec.dtype)


class GymnasiumWrapper(py_environment.PyEnvironment):
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
        super().__init__(auto_reset)
        self._gym_env = gym_env
        self._discount = discount
        self._action_is_discrete = isinstance(gym_env.action_space, gym.spaces.Discrete)
        self._match_obs_space_dtype = match_obs_space_dtype
        self._observation_spec = spec_from_gym_space(
            gym_env.observation_space, spec_dtype_map, simplify_box_bounds, "observation"
        )
        self._action_spec = spec_from_gym_space(
            gym_env.action_space, spec_dtype_map, simplify_box_bounds, "action"
        )
        self._render_kwargs = render_kwargs or {}
        self._info: Any = None
        self._done = True
        self._seed: int | None = None

    @property
    def gym(self) -> gym.Env:
        """The wrapped Gymnasium environment."""
        return self._gym_env

    def __getattr__(self, name: str) -> Any:
        """Forwards other attributes to the Gymnasium environment."""
        if name.startswith("__") or name == "_gym_env":
            raise AttributeError(name)
        gym_env = self.__dict__.get("_gym_env")
        if gym_env is None:
            raise AttributeError(name)
        return getattr(gym_env, name)

    @property
    def done(self) -> bool:
        """Whether the last step ended the episode (terminated or truncated)."""
        return self._done

    def observation_spec(self) -> Any:
        """The observation spec nest (``spec_from_gym_space(observation_space)``)."""
        return self._observation_spec

    def action_spec(self) -> Any:
        """The action spec nest (``spec_from_gym_space(action_space)``)."""
        return self._action_spec

    def get_info(self) -> Any:
        """The info dict of the last ``reset()``/``step()`` (None before the first)."""
        return self._info

    def seed(self, seed: int | None) -> int:
        """Seeds the next reset (``gym_env.reset(seed=seed)``); returns ``seed`` (0 for None)."""
        self._seed = seed
        return 0 if seed is None else seed

    def _reset(self) -> ts.TimeStep:
        seed, self._seed = self._seed, None
        observation, self._info = self._gym_env.reset(seed=seed)
        self._done = False
        if self._match_obs_space_dtype:
            observation = _match_dtypes(self._observation_spec, observation)
        return ts.restart(observation)

    def _step(self, action: Any) -> ts.TimeStep:
        if self._action_is_discrete and isinstance(action, np.ndarray):
            action = action.item()
        observation, reward, terminated, truncated, self._info = self._gym_env.step(action)
        self._done = bool(terminated or truncated)
        if self._match_obs_space_dtype:
            observation = _match_dtypes(self._observation_spec, observation)
        if terminated:
            return ts.termination(observation, reward)
        if truncated:
            return ts.truncation(observation, reward, self._discount)
        return ts.transition(observation, reward, self._discount)

    def close(self) -> None:
        """Closes the Gymnasium environment."""
        self._gym_env.close()

    def render(self, mode: str = "rgb_array") -> Any:
        """``gym_env.render(**render_kwargs)``.

        Gymnasium fixes the render mode at construction (``gym_kwargs=
        {'render_mode': 'rgb_array'}`` in ``suite_gymnasium.load``); ``mode``
        is accepted for TF-Agents compatibility and must match it when set.

        Raises:
          ValueError: if the env's ``render_mode`` is set and differs from ``mode``.
        """
        render_mode = getattr(self._gym_env, "render_mode", None)
        if render_mode is not None and render_mode != mode:
            raise ValueError(
                f"render mode {mode!r} differs from the Gymnasium env's render_mode "
                f"{render_mode!r}; pass gym_kwargs={{'render_mode': {mode!r}}} when loading"
            )
        return self._gym_env.render(**self._render_kwargs)

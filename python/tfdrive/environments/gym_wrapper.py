"""Wraps a Gym or Gymnasium environment as a PyEnvironment
(``tf_agents.environments.gym_wrapper``).

Both APIs are supported:

- legacy ``gym`` (< 0.26, e.g. 0.23): ``reset() -> obs`` and ``step(a) ->
  (obs, reward, done, info)``; ``done`` ends the episode with ``LAST`` and
  discount 0 (TF-Agents' ``GymWrapper``); ``get_info()`` is None after a reset.
- Gymnasium (and ``gym`` >= 0.26): ``reset(seed=...) -> (obs, info)`` and
  ``step(a) -> (obs, reward, terminated, truncated, info)``; ``terminated``
  gives ``LAST`` with discount 0, ``truncated`` alone ``LAST`` with discount
  ``discount`` (the episode was cut short, its value continues).

Every other step is ``MID`` with discount ``discount``; resets are ``FIRST``
with reward 0 and discount 1. Specs come from the spaces
(:func:`spec_from_gym_space`, for either library's spaces).
"""

from __future__ import annotations

import collections
import sys
from typing import Any

import numpy as np

from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest, nest_utils

__all__ = ["GymWrapper", "spec_from_gym_space"]

_SPACE_KINDS = ("Discrete", "MultiDiscrete", "MultiBinary", "Box", "Tuple", "Dict")


def _space_kind(space: Any) -> str | None:
    """The Gym/Gymnasium space class ``space`` derives from (by name), or None."""
    for cls in type(space).__mro__:
        module = cls.__module__
        if cls.__name__ in _SPACE_KINDS and module.split(".")[0] in ("gym", "gymnasium"):
            return cls.__name__
    return None


def _mapped_dtype(dtype_map: dict, kind: str, default: Any) -> Any:
    """The dtype ``dtype_map`` gives the space class named ``kind`` (either library's)."""
    for space_class, dtype in dtype_map.items():
        if getattr(space_class, "__name__", None) == kind:
            return dtype
    return default


def _simplified(values: np.ndarray) -> np.ndarray:
    """A 0-d array if every element of ``values`` is the same, else ``values``."""
    first = values.item(0)
    if np.all(values == first):
        return np.array(first, dtype=values.dtype)
    return values


def spec_from_gym_space(
    space: Any,
    dtype_map: dict | None = None,
    simplify_box_bounds: bool = True,
    name: str | None = None,
) -> Any:
    """Converts a Gym or Gymnasium space into a nest of ``BoundedArraySpec``.

    - ``Discrete(n, start=0)``: shape ``()``, int64, ``[start, start + n - 1]``.
    - ``MultiDiscrete(nvec, start=0)``: shape ``nvec.shape``, int32,
      ``[start, start + nvec - 1]`` (each bound one value when uniform).
    - ``MultiBinary(n)``: shape ``(n,)`` (``n`` if a shape), int32, ``[0, 1]``.
    - ``Box``: the space's shape and dtype and its ``low``/``high`` (one value
      each when uniform and ``simplify_box_bounds``); a string-typed Box gives
      an unbounded ``ArraySpec``.
    - ``Tuple``: a tuple of specs named ``<name>/tuple_<i>``.
    - ``Dict``: an ``OrderedDict`` of specs named ``<name>/<key>``.

    Args:
      space: the space.
      dtype_map: maps a space class (``gym.spaces.Discrete``, ... of either
        library, matched by class name) to the dtype to use instead.
      simplify_box_bounds: see ``Box`` above.
      name: the spec's name (the prefix of nested names).

    Raises:
      ValueError: ``'The gym space {space} is currently not supported.'``.
    """
    dtype_map = dtype_map or {}
    kind = _space_kind(space)

    def nested(sub_space: Any, child_name: str) -> Any:
        full_name = f"{name}/{child_name}" if name else child_name
        return spec_from_gym_space(sub_space, dtype_map, simplify_box_bounds, full_name)

    if kind == "Discrete":
        dtype = _mapped_dtype(dtype_map, kind, np.int64)
        start = int(getattr(space, "start", 0))
        return array_spec.BoundedArraySpec(
            shape=(), dtype=dtype, minimum=start, maximum=start + int(space.n) - 1, name=name
        )
    if kind == "MultiDiscrete":
        dtype = _mapped_dtype(dtype_map, kind, np.int32)
        nvec = np.asarray(space.nvec)
        starts = np.asarray(getattr(space, "start", np.zeros_like(nvec)), dtype=dtype)
        return array_spec.BoundedArraySpec(
            shape=space.shape,
            dtype=dtype,
            minimum=_simplified(starts),
            maximum=_simplified(np.asarray(starts + nvec - 1, dtype=dtype)),
            name=name,
        )
    if kind == "MultiBinary":
        dtype = _mapped_dtype(dtype_map, kind, np.int32)
        shape = (space.n,) if isinstance(space.n, (int, np.integer)) else tuple(space.n)
        return array_spec.BoundedArraySpec(
            shape=shape, dtype=dtype, minimum=0, maximum=1, name=name
        )
    if kind == "Box":
        space_dtype = getattr(space, "dtype", None)
        dtype = _mapped_dtype(
            dtype_map, kind, space_dtype if space_dtype is not None else np.float32
        )
        if np.dtype(dtype).kind in "SUO":
            return array_spec.ArraySpec(shape=space.shape, dtype=dtype, name=name)
        minimum = np.asarray(space.low, dtype=dtype)
        maximum = np.asarray(space.high, dtype=dtype)
        if simplify_box_bounds:
            simple_minimum, simple_maximum = _simplified(minimum), _simplified(maximum)
            if simple_minimum.shape == simple_maximum.shape:
                minimum, maximum = simple_minimum, simple_maximum
        return array_spec.BoundedArraySpec(
            shape=space.shape, dtype=dtype, minimum=minimum, maximum=maximum, name=name
        )
    if kind == "Tuple":
        return tuple(nested(s, f"tuple_{i}") for i, s in enumerate(space.spaces))
    if kind == "Dict":
        return collections.OrderedDict((key, nested(s, key)) for key, s in space.spaces.items())
    raise ValueError(f"The gym space {space} is currently not supported.")


def _uses_new_api(gym_env: Any) -> bool:
    """Whether ``gym_env`` follows Gymnasium's API (5-tuple steps, ``(obs, info)`` resets).

    Gymnasium envs do, and so do ``gym`` >= 0.26 envs; older ``gym`` envs
    (``reset() -> obs``, 4-tuple steps) do not.
    """
    gymnasium = sys.modules.get("gymnasium")
    if gymnasium is not None and isinstance(gym_env, gymnasium.Env):
        return True
    gym = sys.modules.get("gym")
    if gym is not None and isinstance(gym_env, gym.Env):
        major, minor = (int(part) for part in gym.__version__.split(".")[:2])
        return (major, minor) >= (0, 26)
    return True  # Neither library's Env: assume the current (Gymnasium) API.


class GymWrapper(py_environment.PyEnvironment):
    """A Gym or Gymnasium env as a (non-batched) PyEnvironment (see the module docs).

    Args:
      gym_env: the Gym (legacy API) or Gymnasium environment.
      discount: the discount of ``MID`` (and truncated ``LAST``) steps.
      spec_dtype_map: maps space classes to dtypes (see ``spec_from_gym_space``).
      match_obs_space_dtype: cast observations to the observation spec's dtypes.
      auto_reset: reset on the ``step()`` after a ``LAST`` step.
      simplify_box_bounds: see ``spec_from_gym_space``.
      render_kwargs: keyword arguments for ``gym_env.render``.

    Unknown attributes are looked up on ``gym_env``.
    """

    def __init__(
        self,
        gym_env: Any,
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
        self._new_api = _uses_new_api(gym_env)
        self._action_is_discrete = _space_kind(gym_env.action_space) == "Discrete"
        self._match_obs_space_dtype = match_obs_space_dtype
        self._observation_spec = spec_from_gym_space(
            gym_env.observation_space, spec_dtype_map, simplify_box_bounds, "observation"
        )
        self._action_spec = spec_from_gym_space(
            gym_env.action_space, spec_dtype_map, simplify_box_bounds, "action"
        )
        self._flat_obs_spec = nest.flatten(self._observation_spec)
        self._render_kwargs = render_kwargs or {}
        self._info: Any = None
        self._done = True
        self._seed: Any = None

    @property
    def gym(self) -> Any:
        """The wrapped Gym/Gymnasium environment."""
        return self._gym_env

    def __getattr__(self, name: str) -> Any:
        """Forwards other attributes to the Gym environment."""
        if name.startswith("__") or name == "_gym_env":
            raise AttributeError(name)
        gym_env = self.__dict__.get("_gym_env")
        if gym_env is None:
            raise AttributeError(name)
        return getattr(gym_env, name)

    def get_info(self) -> Any:
        """The info of the last ``step()`` (of the last reset for Gymnasium; None before)."""
        return self._info

    @property
    def done(self) -> bool:
        """Whether the last step ended the episode."""
        return self._done

    def _to_obs_space_dtype(self, observation: Any) -> Any:
        """``observation`` with each leaf cast to its spec's dtype."""
        flat = nest_utils.flatten_up_to(self._observation_spec, observation)
        cast = [
            np.asarray(o, dtype=s.dtype) for s, o in zip(self._flat_obs_spec, flat, strict=True)
        ]
        return nest.pack_sequence_as(self._observation_spec, cast)

    def _reset(self) -> ts.TimeStep:
        if self._new_api:
            seed, self._seed = self._seed, None
            observation, self._info = self._gym_env.reset(seed=seed)
        else:
            observation = self._gym_env.reset()
            self._info = None
        self._done = False
        if self._match_obs_space_dtype:
            observation = self._to_obs_space_dtype(observation)
        return ts.restart(observation)

    def _step(self, action: Any) -> ts.TimeStep:
        if self._action_is_discrete and isinstance(action, np.ndarray):
            action = action.item()
        if self._new_api:
            observation, reward, terminated, truncated, self._info = self._gym_env.step(action)
        else:
            observation, reward, terminated, self._info = self._gym_env.step(action)
            truncated = False
        self._done = bool(terminated or truncated)
        if self._match_obs_space_dtype:
            observation = self._to_obs_space_dtype(observation)
        if terminated:
            return ts.termination(observation, reward)
        if truncated:
            return ts.truncation(observation, reward, self._discount)
        return ts.transition(observation, reward, self._discount)

    def observation_spec(self) -> Any:
        return self._observation_spec

    def action_spec(self) -> Any:
        return self._action_spec

    def close(self) -> None:
        return self._gym_env.close()

    def seed(self, seed: Any) -> Any:
        """Seeds the env: legacy Gym's ``seed(seed)`` (its result, 0 for None);
        for Gymnasium, the next reset's ``reset(seed=seed)`` (returns ``seed``, 0 for None).
        """
        if self._new_api and not callable(getattr(self._gym_env, "seed", None)):
            self._seed = seed
            return 0 if seed is None else seed
        seed_value = self._gym_env.seed(seed)
        return 0 if seed_value is None else seed_value

    def render(self, mode: str = "rgb_array") -> Any:
        """Renders: legacy Gym's ``render(mode, **render_kwargs)``.

        Gymnasium fixes the render mode at construction, so its envs get
        ``render(**render_kwargs)``; ``mode`` must then match the env's
        ``render_mode`` when that is set.

        Raises:
          ValueError: for a Gymnasium env whose ``render_mode`` differs from ``mode``.
        """
        if not self._new_api:
            return self._gym_env.render(mode, **self._render_kwargs)
        render_mode = getattr(self._gym_env, "render_mode", None)
        if render_mode is not None and render_mode != mode:
            raise ValueError(
                f"render mode {mode!r} differs from the Gymnasium env's render_mode "
                f"{render_mode!r}; pass gym_kwargs={{'render_mode': {mode!r}}} when loading"
            )
        return self._gym_env.render(**self._render_kwargs)

    def set_state(self, state: Any) -> None:
        return self._gym_env.set_state(state)

    def get_state(self) -> Any:
        return self._gym_env.get_state()

"""Native vectorized environments: Gymnasium's classic control in Rust.

``make(name, num_envs, seed=0, num_threads=None)`` returns a batched
:class:`~tfdrive.environments.py_environment.PyEnvironment` whose ``B =
num_envs`` sub-environments step in Rust, in place into fresh batch buffers,
with the GIL released and split over ``num_threads`` threads. tfdrive's
driver steps it without calling Python.

Names (Gymnasium ids, with their time limits): ``CartPole-v1`` (500),
``Pendulum-v1`` (200), ``MountainCar-v0`` (200), ``MountainCarContinuous-v0``
(999), ``Acrobot-v1`` (500).

Specs match ``suite_gym``/``suite_gymnasium``: a ``Discrete(n)`` action is
``BoundedArraySpec((), int64, 0, n - 1, name='action')``, a ``Box`` action
``BoundedArraySpec((1,), float32, low, high, name='action')``; observations
are ``BoundedArraySpec((obs_dim,), float32, low, high, name='observation')``
with Gymnasium's ``observation_space`` bounds.

Time steps: ``step_type`` ``[B]`` int32, ``reward`` ``[B]`` float32,
``discount`` ``[B]`` float32 (0.0 on termination, 1.0 otherwise, truncation
included), ``observation`` ``[B, obs_dim]`` float32. Each sub-environment
resets by itself on the step after its ``LAST`` step (``FIRST``, reward 0,
discount 1, its action ignored). Actions must have the spec's dtype, shape
``[B, *action_spec.shape]`` and lie within its bounds: otherwise ``TypeError``
(dtype) or ``ValueError`` (shape, bounds) naming the action spec, and nothing
changes.

Every sub-environment has its own RNG seeded from ``(seed, index)``: results
are the same whatever ``num_threads``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from tfdrive import _core
from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

__all__ = ["NAMES", "NativeEnvironment", "make"]

#: The Gymnasium ids of the native environments.
NAMES = (
    "CartPole-v1",
    "Pendulum-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Acrobot-v1",
)


class NativeEnvironment(py_environment.PyEnvironment):
    """A batch of ``num_envs`` native classic-control environments (see the module docs).

    Args:
      name: a Gymnasium id from ``NAMES``.
      num_envs: the batch size ``B`` (at least 1).
      seed: seeds sub-environment ``i`` from ``(seed, i)``.
      num_threads: threads that step the batch; ``None``: one per core, at
        most one per 2048 envs. At most 1024.

    Raises:
      ValueError: for an unknown name, ``num_envs < 1``, ``num_threads == 0``
        or ``num_threads > 1024``.
      MemoryError: when ``num_envs`` environments do not fit in memory.
      RuntimeError: when the OS refuses a worker thread (those already
        started are stopped first).
    """

    def __init__(self, name: str, num_envs: int, seed: int = 0, num_threads: int | None = None):
        super().__init__(handle_auto_reset=False)
        _check_int("num_envs", num_envs, 1, 2**63)
        _check_int("seed", seed, 0, 2**64)
        if num_threads is not None:
            _check_int("num_threads", num_threads, 0, 2**63)  # The core explains 0.
        self._native_env = _core.NativeVecEnv(name, num_envs, seed, num_threads)
        low, high = self._native_env.action_bounds
        dtype = np.dtype(self._native_env.action_dtype)
        self._action_spec = array_spec.BoundedArraySpec(
            shape=tuple(self._native_env.action_shape),
            dtype=dtype,
            minimum=np.asarray(low, dtype=dtype),
            maximum=np.asarray(high, dtype=dtype),
            name="action",
        )
        obs_low, obs_high = self._native_env.observation_bounds
        self._observation_spec = array_spec.BoundedArraySpec(
            shape=tuple(self._native_env.observation_shape),
            dtype=np.float32,
            minimum=obs_low,
            maximum=obs_high,
            name="observation",
        )

    @property
    def name(self) -> str:
        """The Gymnasium id."""
        return self._native_env.name

    @property
    def num_threads(self) -> int:
        """The threads that step the batch."""
        return self._native_env.num_threads

    @property
    def max_episode_steps(self) -> int:
        """The time limit: an episode is truncated (LAST, discount 1) after this many steps."""
        return self._native_env.max_episode_steps

    @property
    def batched(self) -> bool:
        """Always ``True``."""
        return True

    @property
    def batch_size(self) -> int:
        """``B = num_envs``."""
        return self._native_env.num_envs

    def observation_spec(self) -> array_spec.BoundedArraySpec:
        """``BoundedArraySpec((obs_dim,), float32, low, high, name='observation')``."""
        return self._observation_spec

    def action_spec(self) -> array_spec.BoundedArraySpec:
        """``BoundedArraySpec((), int64, 0, n - 1)`` or ``((1,), float32, low, high)``, named 'action'."""
        return self._action_spec

    def current_time_step(self) -> ts.TimeStep:
        """The last time step returned, whether by Python or by the driver's native path.

        Raises:
          ValueError: ``'Current timestep not initialized.'`` before the first one.
        """
        current = self._native_env.current_time_step()
        if current is None:
            raise ValueError("Current timestep not initialized.")
        return ts.TimeStep(*current)

    def _reset(self) -> ts.TimeStep:
        try:
            return self._native_env.reset_time_step()
        except RuntimeError as e:
            raise _in_use_error(e) from None

    def _step(self, action: Any) -> ts.TimeStep:
        try:
            return self._native_env.step_time_step(action)
        except RuntimeError as e:
            raise _in_use_error(e) from None

    def seed(self, seed: int) -> int:
        """Re-seeds sub-environment ``i`` from ``(seed, i)``; the next ``reset()`` uses it.

        Returns ``seed``.
        """
        _check_int("seed", seed, 0, 2**64)
        self._native_env.seed(seed)
        return seed

    def get_info(self) -> dict:
        """``{}``: classic-control environments have no info."""
        return {}

    def get_env_state(self, index: int) -> tuple[np.ndarray, int]:
        """``(state, elapsed)``: env ``index``'s Gymnasium ``unwrapped.state`` (float64) and episode length."""
        return self._native_env.get_state(index)

    def set_env_state(self, index: int, state: Any, elapsed: int = 0) -> None:
        """Sets env ``index``'s Gymnasium state and episode length; its next step starts from there."""
        self._native_env.set_state(index, [float(v) for v in np.asarray(state).ravel()], elapsed)

    def __repr__(self) -> str:
        return (
            f"NativeEnvironment({self.name!r}, num_envs={self.batch_size}, "
            f"num_threads={self.num_threads})"
        )


def _in_use_error(error: RuntimeError) -> RuntimeError:
    """PyO3's "Already borrowed" (another thread is stepping the env), explained."""
    if "borrowed" not in str(error):
        return error
    return RuntimeError(
        "this native env is in use by another thread (or an enclosing call): one thread "
        "at a time may step it; give each thread its own"
    )


def _check_int(argument: str, value: Any, low: int, high: int) -> None:
    """Raises TypeError/ValueError naming `argument` unless ``low <= value < high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{argument} must be an int, got {type(value).__name__} {value!r}")
    if int(value) < low:
        raise ValueError(f"{argument} must be at least {low}, got {value}")
    if int(value) >= high:
        raise ValueError(f"{argument} must be below {high}, got {value}")


def make(
    name: str, num_envs: int, seed: int = 0, num_threads: int | None = None
) -> NativeEnvironment:
    """A batched PyEnvironment of ``num_envs`` native ``name`` envs (see the module docs)."""
    return NativeEnvironment(name, num_envs, seed=seed, num_threads=num_threads)

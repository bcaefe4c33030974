"""PyEnvironment wrappers (``tf_agents.environments.wrappers``).

Each wrapper is a :class:`PyEnvironment` around another environment ``env``
(tfdrive's, native, TF-Agents' or any object with that interface) that
changes one aspect of it: its episodes' length, its actions or its
observations. Attributes a wrapper does not define are looked up on ``env``.

Wrappers keep ``env``'s batching: for a batched ``env`` (``batched == True``,
e.g. tfdrive's native environments) every time step field has a leading
``B`` and the wrappers that track episodes (``TimeLimit``, ``FixedLength``,
``ActionRepeat``, ``HistoryWrapper``...) treat the batch as ended when every
entry is ``LAST`` (like ``PyEnvironment.should_reset``).

This module needs only numpy (and TensorFlow for nothing).
"""

from __future__ import annotations

import abc
import collections
import cProfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tfdrive import _gin
from tfdrive._interop import register_with_tf_agents
from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest, nest_utils

__all__ = [
    "ActionClipWrapper",
    "ActionDiscretizeWrapper",
    "ActionOffsetWrapper",
    "ActionRepeat",
    "ExtraDisabledActionsWrapper",
    "FixedLength",
    "FlattenActionWrapper",
    "FlattenObservationsWrapper",
    "GoalReplayEnvWrapper",
    "HistoryWrapper",
    "ObservationFilterWrapper",
    "OneHotActionWrapper",
    "PerformanceProfiler",
    "PyEnvironmentBaseWrapper",
    "RunStats",
    "TimeLimit",
]


def _is_last(time_step: Any) -> bool:
    """Whether ``time_step`` ends the episode (every entry ``LAST`` if batched)."""
    return bool(np.all(np.asarray(time_step.step_type) == ts.StepType.LAST))


def _is_first(time_step: Any) -> bool:
    """Whether ``time_step`` starts an episode (every entry ``FIRST`` if batched)."""
    return bool(np.all(np.asarray(time_step.step_type) == ts.StepType.FIRST))


def _as_last(time_step: Any) -> Any:
    """``time_step`` with its step type (every entry if batched) set to ``LAST``."""
    step_type = np.asarray(time_step.step_type)
    if step_type.ndim == 0:
        return time_step._replace(step_type=ts.StepType.LAST)
    return time_step._replace(step_type=np.full_like(step_type, ts.StepType.LAST))


def _outer_dims(env: Any) -> tuple:
    """``(B,)`` for a batched ``env``, ``()`` otherwise (and for stand-ins without batching)."""
    if getattr(env, "batched", False) is True and isinstance(env.batch_size, (int, np.integer)):
        return (int(env.batch_size),)
    return ()


def _is_bounded(spec: Any) -> bool:
    """Whether ``spec`` is a bounded array spec (any library's: checked by structure)."""
    return hasattr(spec, "minimum") and hasattr(spec, "maximum")


def _spec_classes(spec: Any) -> tuple[type, type]:
    """``(ArraySpec, BoundedArraySpec)`` of ``spec``'s library.

    Specs a wrapper derives from ``env``'s are built with the classes of
    ``env``'s specs, so a TF-Agents environment keeps TF-Agents specs (which
    compare equal only to their own classes).
    """
    if type(spec).__module__.startswith("tf_agents."):
        from tf_agents.specs import array_spec as tfa_array_spec

        return tfa_array_spec.ArraySpec, tfa_array_spec.BoundedArraySpec
    return array_spec.ArraySpec, array_spec.BoundedArraySpec


def _spec_error(wrapper: str, argument: str, spec: Any, value: Any, problem: str) -> ValueError:
    """A ValueError naming the wrapper, its argument, the spec and the offending value."""
    return ValueError(f"{wrapper}: {problem}; {argument}={value!r}, spec: {spec!r}")


class PyEnvironmentBaseWrapper(py_environment.PyEnvironment):
    """Forwards every call to ``env``; subclasses override what they change.

    Args:
      env: the environment to wrap.
      handle_auto_reset: see :class:`PyEnvironment`.
    """

    def __init__(self, env: Any, handle_auto_reset: bool = False):
        super().__init__(handle_auto_reset)
        self._env = env

    def __getattr__(self, name: str) -> Any:
        """Forwards other attributes to the wrapped environment."""
        if name.startswith("__") or name == "_env":
            raise AttributeError(name)
        env = self.__dict__.get("_env")
        if env is None:
            raise AttributeError(name)
        return getattr(env, name)

    @property
    def batched(self) -> bool:
        """``env.batched`` (False if it has none)."""
        return getattr(self._env, "batched", False)

    @property
    def batch_size(self) -> int | None:
        """``env.batch_size`` (None if it has none)."""
        return getattr(self._env, "batch_size", None)

    def _reset(self) -> Any:
        return self._env.reset()

    def _step(self, action: Any) -> Any:
        return self._env.step(action)

    def get_info(self) -> Any:
        return self._env.get_info()

    def observation_spec(self) -> Any:
        return self._env.observation_spec()

    def action_spec(self) -> Any:
        return self._env.action_spec()

    def reward_spec(self) -> Any:
        reward_spec = getattr(self._env, "reward_spec", None)
        return reward_spec() if reward_spec is not None else super().reward_spec()

    def close(self) -> None:
        return self._env.close()

    def render(self, mode: str = "rgb_array") -> Any:
        return self._env.render(mode)

    def seed(self, seed: Any) -> Any:
        return self._env.seed(seed)

    def wrapped_env(self) -> Any:
        """The environment this wrapper wraps."""
        return self._env

    def set_state(self, state: Any) -> None:
        self._env.set_state(state)

    def get_state(self) -> Any:
        return self._env.get_state()


@_gin.configurable
class TimeLimit(PyEnvironmentBaseWrapper):
    """Ends episodes after ``duration`` steps.

    The ``duration``-th ``step()`` of an episode is returned as ``LAST``
    (keeping its reward and discount); the ``step()`` after it resets.

    Args:
      env: the environment to wrap.
      duration: the number of steps per episode, at most.
      handle_auto_reset: see :class:`PyEnvironment`.
    """

    def __init__(self, env: Any, duration: int, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        self._duration = duration
        self._num_steps: int | None = None

    def _reset(self) -> Any:
        self._num_steps = 0
        return self._env.reset()

    def _step(self, action: Any) -> Any:
        if self._num_steps is None:
            return self.reset()
        time_step = self._env.step(action)
        self._num_steps += 1
        if self._num_steps >= self._duration:
            time_step = _as_last(time_step)
        if _is_last(time_step):
            self._num_steps = None
        return time_step

    @property
    def duration(self) -> int:
        """The maximum number of steps per episode."""
        return self._duration


@_gin.configurable
class FixedLength(PyEnvironmentBaseWrapper):
    """Makes every episode exactly ``fix_length`` steps long.

    Episodes reaching ``fix_length`` steps end there (``LAST``). An episode
    that ends earlier is padded: the step after its ``LAST`` step repeats it
    with reward 0 and discount 0, later steps repeat that padding step, and
    the step after the ``fix_length``-th resets.

    Args:
      env: the environment to wrap.
      fix_length: the number of steps of every episode.
      handle_auto_reset: see :class:`PyEnvironment`.
    """

    def __init__(self, env: Any, fix_length: int, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        self._fix_length = fix_length
        self._num_steps: int | None = None
        self._episode_ended = False

    def _reset(self) -> Any:
        self._num_steps = 0
        self._episode_ended = False
        return self._env.reset()

    def _step(self, action: Any) -> Any:
        if self._num_steps is None:
            return self.reset()
        time_step = self.current_time_step()
        if _is_last(time_step):
            if self._num_steps >= self._fix_length:
                return self.reset()
            self._num_steps += 1
            if self._episode_ended:
                return time_step
            self._episode_ended = True
            discount = np.zeros_like(time_step.discount) if self.batched else 0.0
            return time_step._replace(discount=discount, reward=0.0 * time_step.reward)
        time_step = self._env.step(action)
        self._num_steps += 1
        if self._num_steps >= self._fix_length:
            time_step = _as_last(time_step)
            self._num_steps = None
        return time_step

    @property
    def fix_length(self) -> int:
        """The number of steps of every episode."""
        return self._fix_length


@_gin.configurable
class PerformanceProfiler(PyEnvironmentBaseWrapper):
    """Profiles ``env``'s ``reset`` and ``step`` with ``cProfile``.

    After every ``process_steps`` steps, ``process_profile_fn`` receives the
    ``cProfile.Profile`` of those steps and a fresh profile starts.

    Args:
      env: the environment to wrap.
      process_profile_fn: called with each finished ``cProfile.Profile``.
      process_steps: the number of steps per profile.
    """

    def __init__(
        self,
        env: Any,
        process_profile_fn: Callable[[cProfile.Profile], Any],
        process_steps: int,
    ):
        super().__init__(env)
        self._started = False
        self._num_steps = 0
        self._process_steps = process_steps
        self._process_profile_fn = process_profile_fn
        self._profile = cProfile.Profile()

    def _reset(self) -> Any:
        self._profile.enable()
        try:
            return self._env.reset()
        finally:
            self._profile.disable()

    def _step(self, action: Any) -> Any:
        if not self._started:
            self._started = True
            self._num_steps += 1
            return self.reset()
        self._profile.enable()
        try:
            time_step = self._env.step(action)
        finally:
            self._profile.disable()
        self._num_steps += 1
        if self._num_steps >= self._process_steps:
            self._process_profile_fn(self._profile)
            self._profile = cProfile.Profile()
            self._num_steps = 0
        if _is_last(time_step):
            self._started = False
        return time_step


@_gin.configurable
class ActionRepeat(PyEnvironmentBaseWrapper):
    """Applies each action ``times`` times, summing the rewards.

    Repeating stops early at a ``FIRST`` or ``LAST`` step (any entry of a
    batch); the result is the last step with the summed reward (in the
    reward's dtype).

    Args:
      env: the environment to wrap.
      times: the number of repeats, > 1.
      handle_auto_reset: see :class:`PyEnvironment`.

    Raises:
      ValueError: if ``times <= 1``.
    """

    def __init__(self, env: Any, times: int, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        if times <= 1:
            raise ValueError(f"Times parameter ({times}) should be greater than 1")
        self._times = times

    def _step(self, action: Any) -> Any:
        total_reward = 0
        for _ in range(self._times):
            time_step = self._env.step(action)
            total_reward += time_step.reward
            step_type = np.asarray(time_step.step_type)
            if np.any(step_type == ts.StepType.FIRST) or np.any(step_type == ts.StepType.LAST):
                break
        reward = np.asarray(total_reward, dtype=np.asarray(time_step.reward).dtype)
        return ts.TimeStep(time_step.step_type, reward, time_step.discount, time_step.observation)


def _leading_size(spec: Any) -> int:
    """The number of entries a rank-0/1 spec takes in a flat vector."""
    return int(spec.shape[0]) if len(spec.shape) else 1


@_gin.configurable
class FlattenActionWrapper(PyEnvironmentBaseWrapper):
    """Exposes a nest of rank-0/1 action specs as one ``[N]`` action spec.

    The action spec becomes ``(Bounded)ArraySpec((N,), dtype,
    name='FlattenedActionSpec')`` with ``N`` the total size of the leaves
    (bounds concatenated when every leaf is bounded); ``step`` splits the flat
    action back into ``env``'s nest, casting each part to its spec's dtype.

    Args:
      env: the environment to wrap.
      flat_dtype: the flat spec's dtype (default: the leaves' common dtype).
      handle_auto_reset: see :class:`PyEnvironment`.

    Raises:
      ValueError: if a leaf has rank > 1, or the dtypes differ and
        ``flat_dtype`` is not set.
    """

    def __init__(self, env: Any, flat_dtype: Any = None, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        self._original_action_spec = env.action_spec()
        flat_specs = nest.flatten(self._original_action_spec)
        if any(len(s.shape) > 1 for s in flat_specs):
            raise ValueError(
                "ActionSpec shapes should all have ndim == 1. "
                f"action_spec: {self._original_action_spec!r}"
            )
        if flat_dtype is None and any(s.dtype != flat_specs[0].dtype for s in flat_specs):
            raise ValueError(
                "All action_spec dtypes must match, or `flat_dtype` should be set. "
                f"action_spec: {self._original_action_spec!r}"
            )
        dtype = flat_dtype or flat_specs[0].dtype
        shape = (sum(_leading_size(s) for s in flat_specs),)
        array_spec_cls, bounded_spec_cls = _spec_classes(flat_specs[0])
        if all(_is_bounded(s) for s in flat_specs):
            minimum = np.hstack([np.broadcast_to(s.minimum, s.shape) for s in flat_specs])
            maximum = np.hstack([np.broadcast_to(s.maximum, s.shape) for s in flat_specs])
            self._action_spec = bounded_spec_cls(
                shape=shape,
                dtype=dtype,
                minimum=minimum,
                maximum=maximum,
                name="FlattenedActionSpec",
            )
        else:
            self._action_spec = array_spec_cls(shape=shape, dtype=dtype, name="FlattenedActionSpec")
        self._flat_action_spec = flat_specs

    def _step(self, action: Any) -> Any:
        parts = []
        start = 0
        for spec in self._flat_action_spec:
            end = start + _leading_size(spec)
            part = np.asarray(action)[..., start:end]  # A batched env's actions are [B, N].
            if not len(spec.shape):
                part = part[..., 0]
            parts.append(np.array(part, spec.dtype))
            start = end
        return self._env.step(nest.pack_sequence_as(self._original_action_spec, parts))

    def action_spec(self) -> Any:
        return self._action_spec


@_gin.configurable
class ObservationFilterWrapper(PyEnvironmentBaseWrapper):
    """Keeps the entries ``idx`` of a rank-1 observation.

    The observation spec becomes ``env``'s with shape ``(len(idx),)``.

    Args:
      env: an environment with a single (not nested) observation spec.
      idx: a 1-D sequence of indexes into the observation, each below its size.
      handle_auto_reset: see :class:`PyEnvironment`.

    Raises:
      ValueError: if the observation spec is nested, or ``idx`` is not 1-D,
        is empty, or holds an out-of-bounds index.
    """

    def __init__(self, env: Any, idx: Sequence[int] | np.ndarray, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        observation_spec = env.observation_spec()
        indexes = np.array(idx)
        name = "ObservationFilterWrapper"
        if nest.is_nested(observation_spec):
            raise _spec_error(
                name, "idx", observation_spec, idx,
                "only single-array observations (not nested) can be filtered",
            )  # fmt: skip
        if indexes.ndim != 1:
            raise _spec_error(
                name, "idx", observation_spec, idx, "only single-dimensional indexes can filter"
            )
        if indexes.shape[0] < 1:
            raise _spec_error(
                name, "idx", observation_spec, idx, "at least one index needs to be provided"
            )
        if not np.all(indexes < observation_spec.shape[0]):
            raise _spec_error(
                name, "idx", observation_spec, idx, "one of the indexes is out of bounds"
            )
        self._idx = indexes
        if _is_bounded(observation_spec) and np.ndim(observation_spec.minimum) > 0:
            # Per-entry bounds are filtered like the observation.
            self._observation_spec = observation_spec.replace(
                shape=indexes.shape,
                minimum=np.broadcast_to(observation_spec.minimum, observation_spec.shape)[indexes],
                maximum=np.broadcast_to(observation_spec.maximum, observation_spec.shape)[indexes],
            )
        else:
            self._observation_spec = observation_spec.replace(shape=indexes.shape)

    def _filtered(self, time_step: Any) -> Any:
        # The last axis: the observation's own (a batched env adds a leading B).
        return time_step._replace(observation=np.array(time_step.observation)[..., self._idx])

    def _step(self, action: Any) -> Any:
        return self._filtered(self._env.step(action))

    def _reset(self) -> Any:
        return self._filtered(self._env.reset())

    def observation_spec(self) -> Any:
        return self._observation_spec


@_gin.configurable
class RunStats(PyEnvironmentBaseWrapper):
    """Counts episodes, resets and steps.

    ``resets``: ``FIRST`` steps (explicit resets included); ``episodes``:
    ``LAST`` steps; ``total_steps``: non-``FIRST`` steps; ``episode_steps``:
    non-``FIRST`` steps since the last ``FIRST``. For a batched ``env``
    entries are counted one by one.
    """

    def __init__(self, env: Any):
        super().__init__(env)
        self._episodes = 0
        self._resets = 0
        self._episode_steps = 0
        self._total_steps = 0

    @property
    def episodes(self) -> int:
        """The number of episodes ended."""
        return self._episodes

    @property
    def episode_steps(self) -> int:
        """The number of steps of the current episode."""
        return self._episode_steps

    @property
    def total_steps(self) -> int:
        """The number of (non-``FIRST``) steps taken."""
        return self._total_steps

    @property
    def resets(self) -> int:
        """The number of episodes started."""
        return self._resets

    def _reset(self) -> Any:
        self._resets += 1
        self._episode_steps = 0
        return self._env.reset()

    def _step(self, action: Any) -> Any:
        time_step = self._env.step(action)
        step_type = np.asarray(time_step.step_type)
        firsts = int(np.sum(step_type == ts.StepType.FIRST))
        if firsts:
            self._resets += firsts
            self._episode_steps = 0
        if firsts < step_type.size:
            self._total_steps += step_type.size - firsts
            self._episode_steps += 1 if not firsts else 0
        self._episodes += int(np.sum(step_type == ts.StepType.LAST))
        return time_step


@_gin.configurable
class ActionDiscretizeWrapper(PyEnvironmentBaseWrapper):
    """Exposes a single continuous action spec as a discrete one.

    Each action entry ``i`` gets ``num_actions[i]`` values evenly spaced over
    ``[minimum[i], maximum[i]]``. The action spec becomes
    ``BoundedArraySpec(shape, int32, 0, num_actions - 1)`` (shape ``()`` for
    a ``(1,)`` spec); ``step`` maps each index to its value.

    Args:
      env: an environment with one (bounded, continuous) action spec.
      num_actions: the number of values per entry, broadcastable to the
        spec's shape, each >= 2.
      handle_auto_reset: see :class:`PyEnvironment`.

    Raises:
      ValueError: if the action spec is not a single spec, ``num_actions``
        does not match its shape or has an entry < 2, or (at ``step``) an
        action has the wrong shape.
    """

    def __init__(self, env: Any, num_actions: Any, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        flat_specs = nest.flatten(env.action_spec())
        if len(flat_specs) != 1:
            raise ValueError(
                "ActionDiscretizeWrapper only supports environments with a single action "
                f"spec. Got {env.action_spec()}"
            )
        spec = flat_specs[0]
        self._original_spec = spec
        try:
            self._num_actions = np.broadcast_to(num_actions, spec.shape)
        except ValueError as error:
            raise _spec_error(
                "ActionDiscretizeWrapper", "num_actions", spec, num_actions,
                "num_actions must broadcast to the action spec's shape",
            ) from error  # fmt: skip
        if not np.all(self._num_actions >= 2):
            raise ValueError(
                f"num_actions should all be at least size 2. Got num_actions={num_actions!r} "
                f"for action spec {spec!r}"
            )
        limits = np.asarray(self._num_actions)
        uniform = np.all(limits == limits.flat[0])
        shape = () if spec.shape == (1,) else spec.shape
        self._discrete_spec = _spec_classes(spec)[1](
            shape=shape,
            dtype=np.int32,
            minimum=0,
            maximum=(limits.flat[0] if uniform else limits) - 1,
            name=spec.name,
        )
        minimum = np.broadcast_to(spec.minimum, shape)
        maximum = np.broadcast_to(spec.maximum, shape)
        self._action_map = [
            # numpy's stubs type a one-operand nditer's items as tuples; they are 0-d arrays.
            np.linspace(low, high, num=int(count))  # type: ignore[call-overload]
            for low, high, count in zip(
                np.nditer(minimum), np.nditer(maximum), np.nditer(limits), strict=False
            )
        ]

    def action_spec(self) -> Any:
        return self._discrete_spec

    def _map_actions(self, action: Any, action_map: list) -> np.ndarray:
        """The continuous action of the discrete ``action`` (per ``action_map``)."""
        action = np.asarray(action)
        outer_dims = _outer_dims(self._env)
        expected_shape = outer_dims + tuple(self._discrete_spec.shape)
        if action.shape != expected_shape:
            raise ValueError(
                f"Received action with incorrect shape. Got {action.shape}, expected "
                f"{expected_shape} (action spec {self._discrete_spec!r})"
            )
        entries = action.reshape(outer_dims + (-1,))
        values = np.stack([action_map[i][entries[..., i]] for i in range(entries.shape[-1])], -1)
        return np.reshape(values, outer_dims + tuple(self._original_spec.shape))

    def _step(self, action: Any) -> Any:
        continuous = self._map_actions(action, self._action_map)
        env_action_spec = self._env.action_spec()
        if nest.is_nested(env_action_spec):
            continuous = nest.pack_sequence_as(env_action_spec, [continuous])
        return self._env.step(continuous)


@_gin.configurable
class ActionClipWrapper(PyEnvironmentBaseWrapper):
    """Clips actions to ``env``'s action spec bounds before stepping.

    Leaves whose spec has neither bound pass unchanged.
    """

    def _step(self, action: Any) -> Any:
        env_action_spec = self._env.action_spec()

        def clip(spec: Any, value: Any) -> Any:
            minimum = getattr(spec, "minimum", None)
            maximum = getattr(spec, "maximum", None)
            if minimum is None and maximum is None:
                return value
            return np.clip(value, minimum, maximum)

        clipped = nest_utils.map_structure_up_to(env_action_spec, clip, env_action_spec, action)
        return self._env.step(clipped)


class ActionOffsetWrapper(PyEnvironmentBaseWrapper):
    """Shifts a bounded discrete action spec to start at 0.

    The action spec becomes ``BoundedArraySpec(shape, dtype, 0, maximum -
    minimum)``; ``step`` adds ``minimum`` back.

    Raises:
      ValueError: if the action spec is nested, unbounded or not discrete.
    """

    def __init__(self, env: Any, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        spec = self._env.action_spec()
        if nest.is_nested(spec):
            raise ValueError(
                "ActionOffsetWrapper only works with single-array action specs (not nested "
                f"specs). action_spec: {spec!r}"
            )
        if not _is_bounded(spec):
            raise ValueError(
                f"ActionOffsetWrapper only works with bounded action specs. action_spec: {spec!r}"
            )
        if not np.issubdtype(spec.dtype, np.integer):
            raise ValueError(
                f"ActionOffsetWrapper only works with discrete action specs. action_spec: {spec!r}"
            )

    def action_spec(self) -> Any:
        spec = self._env.action_spec()
        return _spec_classes(spec)[1](
            spec.shape,
            spec.dtype,
            minimum=np.zeros(spec.shape, dtype=spec.dtype),
            maximum=spec.maximum - spec.minimum,
        )

    def _step(self, action: Any) -> Any:
        return self._env.step(action + self._env.action_spec().minimum)


@_gin.configurable
class FlattenObservationsWrapper(PyEnvironmentBaseWrapper):
    """Concatenates a dict of observations (all one dtype) into one vector.

    The observation spec becomes ``ArraySpec((N,), dtype,
    name='packed_observations')``, ``N`` the total size of the kept
    observations; each observation (``[B, N]`` when batched) is the flattened
    leaves concatenated in the nest's (sorted-key) order.

    Args:
      env: an environment whose observation spec is a dict (or nest) of specs
        with one dtype.
      observations_allowlist: the keys to keep (all by default); needs a dict
        observation spec.
      handle_auto_reset: see :class:`PyEnvironment`.

    Raises:
      ValueError: if an allowlist is given for a non-dict observation spec or
        names unknown keys, or the observation dtypes differ.
    """

    def __init__(
        self,
        env: Any,
        observations_allowlist: Sequence[str] | None = None,
        handle_auto_reset: bool = False,
    ):
        super().__init__(env, handle_auto_reset)
        observation_spec = env.observation_spec()
        if observations_allowlist is not None:
            if not isinstance(observation_spec, dict):
                raise ValueError(
                    "If you provide an observations allowlist, the current environment must "
                    "return a dictionary of observations! The returned observation spec is "
                    f"type {type(observation_spec)}: {observation_spec!r}"
                )
            unknown = set(observations_allowlist).difference(observation_spec.keys())
            if unknown:
                raise ValueError(
                    "The observation allowlist contains keys not found in the environment! "
                    f"Unknown keys: {sorted(unknown)}; observation spec: {observation_spec!r}"
                )
        dtypes = {np.dtype(spec.dtype) for spec in nest.flatten(observation_spec)}
        if len(dtypes) != 1:
            raise ValueError(
                "The observation spec must all have the same dtypes! Currently found dtypes: "
                f"{sorted(str(d) for d in dtypes)}; observation spec: {observation_spec!r}"
            )
        self._observation_spec_dtype = dtypes.pop()
        self._observations_allowlist = observations_allowlist
        if observations_allowlist is not None:
            observation_spec = self._filter_observations(observation_spec)
        size = sum(int(np.prod(spec.shape)) for spec in nest.flatten(observation_spec))
        any_spec = nest.flatten(observation_spec)[0]
        self._flattened_observation_spec = _spec_classes(any_spec)[0](
            shape=(size,), dtype=self._observation_spec_dtype, name="packed_observations"
        )

    def _filter_observations(self, observations: dict) -> dict:
        """``observations`` without the keys outside the allowlist (in place, as TF-Agents)."""
        assert self._observations_allowlist is not None  # only called with an allowlist
        for key in set(observations.keys()).difference(self._observations_allowlist):
            del observations[key]
        return observations

    def _flatten_nested_observations(self, observations: Any, is_batched: bool) -> np.ndarray:
        """The leaves of ``observations`` flattened and concatenated (per batch entry)."""
        leaves = nest.flatten(observations)
        if is_batched:
            return np.concatenate([np.reshape(x, [np.shape(x)[0], -1]) for x in leaves], axis=1)
        return np.concatenate([np.reshape(x, [-1]) for x in leaves], axis=0)

    def _pack(self, time_step: Any) -> Any:
        observations = time_step.observation
        if self._observations_allowlist is not None:
            observations = self._filter_observations(observations)
        return ts.TimeStep(
            time_step.step_type,
            time_step.reward,
            time_step.discount,
            self._flatten_nested_observations(observations, is_batched=self._env.batched),
        )

    def _step(self, action: Any) -> Any:
        return self._pack(self._env.step(action))

    def _reset(self) -> Any:
        return self._pack(self._env.reset())

    def observation_spec(self) -> Any:
        return self._flattened_observation_spec


class GoalReplayEnvWrapper(PyEnvironmentBaseWrapper, metaclass=abc.ABCMeta):
    """Base class of wrappers that put a goal into each observation.

    On ``reset`` the goal is ``get_goal_from_trajectory(first_time_step)``;
    every time step is returned as ``get_trajectory_with_goal(time_step,
    goal)``. Subclasses implement both.
    """

    def __init__(self, env: Any, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        self._goal = None

    @abc.abstractmethod
    def get_trajectory_with_goal(self, trajectory: Any, goal: Any) -> Any:
        """``trajectory`` (a time step) with ``goal`` put into its observation."""

    @abc.abstractmethod
    def get_goal_from_trajectory(self, trajectory: Any) -> Any:
        """The goal of the episode that ``trajectory`` (a time step) starts."""

    def _reset(self, *args: Any, **kwargs: Any) -> Any:
        time_step = self._env.reset(*args, **kwargs)
        self._goal = self.get_goal_from_trajectory(time_step)
        return self.get_trajectory_with_goal(time_step, self._goal)

    def _step(self, *args: Any, **kwargs: Any) -> Any:
        return self.get_trajectory_with_goal(self._env.step(*args, **kwargs), self._goal)


@_gin.configurable
class HistoryWrapper(PyEnvironmentBaseWrapper):
    """Observations become the last ``history_length`` observations (and actions).

    Each observation spec leaf gets a leading ``history_length`` dimension;
    with ``include_actions`` the observation is ``{'observation': ...,
    'action': ...}`` with the actions' history too. At reset the history is
    filled with zeros (or copies of the first observation with
    ``tile_first_step_obs``) and zero actions.

    Args:
      env: the environment to wrap.
      history_length: the number of observations kept.
      include_actions: also keep the actions that led to them.
      tile_first_step_obs: fill the reset history with the first observation.
      handle_auto_reset: see :class:`PyEnvironment`.
    """

    def __init__(
        self,
        env: Any,
        history_length: int = 3,
        include_actions: bool = False,
        tile_first_step_obs: bool = False,
        handle_auto_reset: bool = False,
    ):
        super().__init__(env, handle_auto_reset)
        self._history_length = history_length
        self._include_actions = include_actions
        self._tile_first_step_obs = tile_first_step_obs
        self._zero_observation = self._zeros_from_spec(env.observation_spec())
        self._zero_action = self._zeros_from_spec(env.action_spec())
        self._observation_history: collections.deque = collections.deque(maxlen=history_length)
        self._action_history: collections.deque = collections.deque(maxlen=history_length)
        self._observation_spec = self._get_observation_spec()

    def _get_observation_spec(self) -> Any:
        def with_history(spec: Any) -> Any:
            return spec.replace(shape=(self._history_length, *spec.shape))

        observation_spec = nest.map_structure(with_history, self._env.observation_spec())
        if not self._include_actions:
            return observation_spec
        action_spec = nest.map_structure(with_history, self._env.action_spec())
        return {"observation": observation_spec, "action": action_spec}

    def observation_spec(self) -> Any:
        return self._observation_spec

    def _zeros_from_spec(self, spec: Any) -> Any:
        outer_dims = _outer_dims(self._env)
        return nest.map_structure(lambda s: np.zeros(outer_dims + tuple(s.shape), s.dtype), spec)

    def _stacked(self, history: collections.deque) -> Any:
        """The nests of ``history`` stacked leaf-wise on the history axis (after ``B``)."""
        axis = len(_outer_dims(self._env))
        return nest.map_structure(lambda *xs: np.stack(xs, axis=axis), *history)

    def _add_history(self, time_step: Any, action: Any) -> Any:
        self._observation_history.append(time_step.observation)
        self._action_history.append(action)
        observations = self._stacked(self._observation_history)
        if self._include_actions:
            actions = self._stacked(self._action_history)
            return time_step._replace(observation={"observation": observations, "action": actions})
        return time_step._replace(observation=observations)

    def _reset(self) -> Any:
        time_step = self._env.reset()
        padding = self._history_length - 1
        if self._tile_first_step_obs:
            first = time_step.observation
            self._observation_history.extend(
                nest.map_structure(np.copy, first) for _ in range(padding)
            )
        else:
            self._observation_history.extend([self._zero_observation] * padding)
        self._action_history.extend([self._zero_action] * padding)
        return self._add_history(time_step, self._zero_action)

    def _step(self, action: Any) -> Any:
        if self._current_time_step is None or _is_last(self._current_time_step):
            return self._reset()
        return self._add_history(self._env.step(action), action)


@_gin.configurable
class OneHotActionWrapper(PyEnvironmentBaseWrapper):
    """Exposes integer actions as one-hot vectors.

    Each integer action spec of shape ``()`` or ``(n,)`` becomes
    ``BoundedArraySpec(shape + (maximum - minimum + 1,), dtype, 0, 1,
    name='one_hot_action_spec')``; other specs are unchanged. ``step`` maps a
    one-hot action back to ``minimum + argmax``.

    Raises:
      ValueError: for an integer action spec of rank > 1, or (at ``step``) an
        action whose shape or dtype differs from its one-hot spec.
    """

    def __init__(self, env: Any, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)

        def one_hot_spec(spec: Any) -> Any:
            if not np.issubdtype(spec.dtype, np.integer):
                return spec
            if len(spec.shape) > 1:
                raise ValueError(
                    f"OneHotActionWrapper only supports single action!action_spec: {spec}"
                )
            num_actions = spec.maximum - spec.minimum + 1
            return _spec_classes(spec)[1](
                shape=tuple(spec.shape) + (int(num_actions),),
                dtype=spec.dtype,
                minimum=0,
                maximum=1,
                name="one_hot_action_spec",
            )

        self._one_hot_action_spec = nest.map_structure(one_hot_spec, self._env.action_spec())

    def action_spec(self) -> Any:
        return self._one_hot_action_spec

    def _step(self, action: Any) -> Any:
        outer_dims = _outer_dims(self._env)

        def from_one_hot(value: Any, one_hot_spec: Any, spec: Any) -> Any:
            value = np.asarray(value)
            expected_shape = outer_dims + tuple(one_hot_spec.shape)
            if value.shape != expected_shape or value.dtype != one_hot_spec.dtype:
                raise ValueError(
                    "Action shape/dtype different from its definition in the inner_spec. "
                    f"Action: {value}. Inner_spec: {spec}."
                )
            if np.issubdtype(value.dtype, np.integer):
                return spec.minimum + np.argmax(value, axis=-1)
            return value

        action = nest.map_structure(
            from_one_hot, action, self._one_hot_action_spec, self._env.action_spec()
        )
        return self._env.step(action)


@_gin.configurable
class ExtraDisabledActionsWrapper(PyEnvironmentBaseWrapper):
    """Adds ``num_extra_actions`` never-valid actions to a discrete action spec.

    The action spec's maximum grows by ``num_extra_actions``; the observation
    becomes ``(observation, mask)`` with ``mask`` an int64 ``[num_actions]``
    vector (``[B, num_actions]`` when batched) of 1 for the original actions
    and 0 for the extra ones.
    """

    def __init__(self, env: Any, num_extra_actions: int, handle_auto_reset: bool = False):
        super().__init__(env, handle_auto_reset)
        original = env.action_spec()
        if (
            nest.is_nested(original)
            or not _is_bounded(original)
            or not np.issubdtype(original.dtype, np.integer)
        ):
            raise _spec_error(
                "ExtraDisabledActionsWrapper", "num_extra_actions", original, num_extra_actions,
                "the action spec must be a single bounded integer spec",
            )  # fmt: skip
        array_spec_cls, bounded_spec_cls = _spec_classes(original)
        self._action_spec = bounded_spec_cls(
            shape=original.shape,
            dtype=original.dtype,
            minimum=original.minimum,
            maximum=original.maximum + num_extra_actions,
        )
        num_actions = int(self._action_spec.maximum - self._action_spec.minimum + 1)
        mask_spec = array_spec_cls(shape=[num_actions], dtype=np.int64)
        self._masked_observation_spec = (env.observation_spec(), mask_spec)
        num_original = int(original.maximum - original.minimum + 1)
        mask = np.array([1] * num_original + [0] * num_extra_actions)
        self._constant_mask = np.stack([mask] * self.batch_size) if self.batch_size else mask

    def action_spec(self) -> Any:
        return self._action_spec

    def observation_spec(self) -> Any:
        return self._masked_observation_spec

    def _with_mask(self, time_step: Any) -> Any:
        return ts.TimeStep(
            time_step.step_type,
            time_step.reward,
            time_step.discount,
            (time_step.observation, self._constant_mask),
        )

    def _step(self, action: Any) -> Any:
        return self._with_mask(self._env.step(action))

    def _reset(self) -> Any:
        return self._with_mask(self._env.reset())


# TF-Agents' own code and tests check wrappers with isinstance (e.g. a
# suite's TimeLimit): each tfdrive wrapper passes for TF-Agents' namesake.
for _name in __all__:
    register_with_tf_agents(globals()[_name], "tf_agents.environments.wrappers", _name)

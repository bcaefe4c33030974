"""Treats several non-batched PyEnvironments as one batched environment
(``tf_agents.environments.batched_py_environment``).

Stepping and stacking run in tfdrive's Rust core (``_core.PyEnvBatch``):
sub-environment ``i`` gets ``action[i]`` and its time step becomes row ``i``
of fresh ``[B, ...]`` arrays (``step_type`` int32 ``[B]``, ``reward`` and
``discount`` float32 ``[B]``, every observation leaf ``[B, *spec.shape]`` of
its spec's dtype; values are cast to the spec's dtype, a wrong shape raises
``ValueError`` naming the env and the spec). An exception raised by a
sub-environment propagates unchanged, with a note naming its index.

Sub-environments reset themselves after a ``LAST`` step, as their own
``step()`` does. When every sub-environment is a ``GymnasiumWrapper`` with
``auto_reset`` and a single-array observation, the core calls the wrapped
``gymnasium.Env.step`` directly and applies the wrapper's rules itself
(terminated: LAST, discount 0; truncated: LAST, the wrapper's discount; the
next step resets that env through its wrapper and ignores its action);
the wrappers' own ``current_time_step()`` is then not updated.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np

from tfdrive import _core
from tfdrive.environments import py_environment
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest, nest_utils

__all__ = ["BatchedPyEnvironment", "unstack_actions"]


def unstack_actions(batched_actions: Any) -> list:
    """Splits a nest of ``[B, ...]`` actions into a list of ``B`` action nests."""
    flattened_actions = nest.flatten(batched_actions)
    return [
        nest.pack_sequence_as(batched_actions, list(actions))
        for actions in zip(*flattened_actions, strict=False)
    ]


class _GymnasiumEnv(Protocol):
    """What the native Gymnasium path reads from a `GymnasiumWrapper`."""

    gym: Any
    _handle_auto_reset: bool
    _discount: float
    _action_is_discrete: bool


def _gymnasium_fast_path(
    envs: Sequence[py_environment.PyEnvironment],
) -> list[_GymnasiumEnv] | None:
    """`envs` when the native core can step their Gymnasium envs itself, else None.

    That is when all are plain `GymnasiumWrapper`s that reset on their own,
    with one discount, one kind of action space and an unnested observation.
    """
    # A GymnasiumWrapper exists only once its module was imported.
    module = sys.modules.get("tfdrive.environments.gymnasium_wrapper")
    if module is None or any(type(env) is not module.GymnasiumWrapper for env in envs):
        return None
    wrappers = cast("list[_GymnasiumEnv]", list(envs))
    first = wrappers[0]
    fast = all(
        env._handle_auto_reset
        and env._discount == first._discount
        and env._action_is_discrete == first._action_is_discrete
        for env in wrappers
    ) and not nest.is_nested(envs[0].observation_spec())
    return wrappers if fast else None


def _check_step_types(step_type: np.ndarray) -> None:
    """Raises ValueError naming the first env whose step type is not 0, 1 or 2."""
    bad = (step_type < ts.StepType.FIRST) | (step_type > ts.StepType.LAST)
    if bad.any():
        index = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"env {index} returned step_type {step_type[index].tolist()!r}, "
            "not a StepType (0=FIRST, 1=MID, 2=LAST)"
        )


class BatchedPyEnvironment(py_environment.PyEnvironment):
    """Batches ``B`` non-batched PyEnvironments with identical specs.

    Args:
      envs: a list or tuple of non-batched PyEnvironments with the same
        action spec and time step spec.
      multithreading: accepted for TF-Agents compatibility; the Rust core steps
        the (GIL-bound) Python envs one after another on the calling thread.

    One env's time steps are given a batch dimension as they are, and envs
    with nested rewards or discounts are stacked leaf by leaf in Python, as
    TF-Agents does; otherwise the Rust core stacks the time steps and checks
    each against the spec (shapes, step types), naming the env at fault.

    Raises:
      ValueError: if ``envs`` is not a list or tuple, is empty, contains a
        batched env, or if the specs differ.
    """

    def __init__(self, envs: Sequence[py_environment.PyEnvironment], multithreading: bool = True):
        if not isinstance(envs, (list, tuple)):
            raise ValueError(f"envs must be a list or tuple.  Got: {envs}")
        if not envs:
            raise ValueError("envs must not be empty.")
        batched_envs = [(i, env) for i, env in enumerate(envs) if env.batched]
        if batched_envs:
            raise ValueError(f"Some of the envs are already batched: {batched_envs}")
        self._parallel_execution = multithreading
        self._envs = envs
        self._num_envs = len(envs)
        self._action_spec = envs[0].action_spec()
        self._observation_spec = envs[0].observation_spec()
        self._time_step_spec = envs[0].time_step_spec()
        if any(env.action_spec() != self._action_spec for env in envs):
            raise ValueError(
                "All environments must have the same action spec.  Saw: "
                f"{[env.action_spec() for env in envs]}"
            )
        if any(env.time_step_spec() != self._time_step_spec for env in envs):
            raise ValueError(
                "All environments must have the same time_step_spec.  Saw: "
                f"{[env.time_step_spec() for env in envs]}"
            )
        self._nested_actions = nest.is_nested(self._action_spec)
        spec = self._time_step_spec
        # As TF-Agents: one env's time steps get a batch dimension as they are,
        # and nested rewards or discounts are stacked leaf by leaf, in Python.
        # Everything else is stacked by the Rust core, checked against the spec.
        nested_fields = any(
            nest.is_nested(getattr(spec, f)) for f in ("step_type", "reward", "discount")
        )
        self._core: _core.PyEnvBatch | None = None
        if self._num_envs > 1 and not nested_fields:
            self._core = self._make_core(envs, spec)
        super().__init__()

    @staticmethod
    def _make_core(
        envs: Sequence[py_environment.PyEnvironment],
        spec: ts.TimeStep,
        first_env: int = 0,
        owner: str | None = None,
    ) -> _core.PyEnvBatch:
        """The Rust core stepping `envs`; its messages name env `first_env + i` of `owner`."""
        obs_leaves = nest.flatten(spec.observation)
        names = (
            ["observation"]
            if len(obs_leaves) == 1
            else [f"observation leaf {i} ({leaf.name})" for i, leaf in enumerate(obs_leaves)]
        )
        leaf_specs = [
            (name, repr(leaf), tuple(leaf.shape), leaf.dtype)
            for name, leaf in zip(
                ["step_type", "reward", "discount", *names],
                [spec.step_type, spec.reward, spec.discount, *obs_leaves],
                strict=True,
            )
        ]
        nested_obs = nest.is_nested(spec.observation)
        fast = _gymnasium_fast_path(envs)
        return _core.PyEnvBatch(
            list(envs),
            leaf_specs,
            flatten_observation=nest.flatten if nested_obs else None,
            gym_envs=[env.gym for env in fast] if fast else None,
            discount=float(fast[0]._discount) if fast else 1.0,
            discrete=bool(fast[0]._action_is_discrete) if fast else False,
            first_env=first_env,
            owner=owner,
        )

    @property
    def batched(self) -> bool:
        """Always ``True``."""
        return True

    @property
    def batch_size(self) -> int:
        """The number of sub-environments ``B``."""
        return self._num_envs

    @property
    def envs(self) -> Sequence[py_environment.PyEnvironment]:
        """The sub-environments."""
        return self._envs

    def observation_spec(self) -> Any:
        """The sub-environments' observation spec (no batch dimension)."""
        return self._observation_spec

    def action_spec(self) -> Any:
        """The sub-environments' action spec (no batch dimension)."""
        return self._action_spec

    def time_step_spec(self) -> ts.TimeStep:
        """The sub-environments' time step spec (no batch dimension)."""
        return self._time_step_spec

    def _pack(self, flat: list) -> ts.TimeStep:
        # Only the core's results come here; its Gymnasium path makes its own step types.
        if self._core is None or not self._core.gymnasium_path:
            _check_step_types(flat[0])
        observation = (
            flat[3] if len(flat) == 4 else nest.pack_sequence_as(self._observation_spec, flat[3:])
        )
        return ts.TimeStep(flat[0], flat[1], flat[2], observation)

    def get_info(self) -> Any:
        """The sub-environments' infos, stacked leaf-wise into ``[B, ...]`` arrays."""
        infos = self._core.infos() if self._core is not None else None
        if infos is None:
            infos = [env.get_info() for env in self._envs]
        return nest_utils.stack_nested_arrays(infos)

    def _reset(self) -> ts.TimeStep:
        """Resets every sub-environment; returns their stacked ``FIRST`` time steps."""
        if self._core is None:
            return nest_utils.stack_nested_arrays([env.reset() for env in self._envs])
        return self._pack(self._core.reset())

    def _step(self, actions: Any) -> ts.TimeStep:
        """Steps sub-environment ``i`` with ``actions[i]``; returns the stacked time steps.

        Raises:
          ValueError: if the actions' leading dimension is not ``batch_size``.
        """
        if self._core is None:
            if self._num_envs == 1:
                action = nest_utils.unbatch_nested_array(actions)
                return nest_utils.batch_nested_array(self._envs[0].step(action))
            steps = [env.step(a) for env, a in zip(self._envs, unstack_actions(actions))]
            return nest_utils.stack_nested_arrays(steps)
        if self._nested_actions:
            actions = unstack_actions(actions)
        return self._pack(self._core.step(actions))

    def render(self, mode: str = "rgb_array") -> Any:
        """The sub-environments' renders, stacked into ``[B, ...]``."""
        return nest_utils.stack_nested_arrays([env.render(mode) for env in self._envs])

    def close(self) -> None:
        """Closes every sub-environment."""
        for env in self._envs:
            env.close()

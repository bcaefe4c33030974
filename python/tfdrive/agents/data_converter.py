"""Experience converters for agents (TF-Agents' `agents.data_converter`).

A `DataContext` bundles the specs an agent trains on; the converters turn the
experience handed to `train` (a `Trajectory` or a `Transition`, TF-Agents' or
tfdrive's: types are recognised by their fields) into the form an agent's loss
reads, after checking it against those specs:

* `AsTrajectory`: a `[B, T, ...]` `Trajectory`.
* `AsTransition`: a `(time_step, action_step, next_time_step)` `Transition`.
* `AsHalfTransition`: a `Transition` whose next observation is a dummy.
* `AsNStepTransition`: an n-step `Transition` with discounted rewards.

Converters drop mapping keys that the specs do not name, so experience may
carry extra fields.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = [
    "AsHalfTransition",
    "AsNStepTransition",
    "AsTrajectory",
    "AsTransition",
    "DataContext",
]


def _has_fields(value: Any, fields: tuple[str, ...]) -> bool:
    return tuple(getattr(value, "_fields", ()) or ()) == fields


def _is_transition_like(value: Any) -> bool:
    """A `Transition` of any library (or a namedtuple with its fields)."""
    return _has_fields(value, trajectory.Transition._fields)


def _is_trajectory_like(value: Any) -> bool:
    """A `Trajectory` of any library (or a namedtuple with its fields)."""
    return _has_fields(value, trajectory.Trajectory._fields)


def _types() -> tuple[type, type, type, type]:
    """`(Trajectory, Transition, TimeStep, PolicyStep)` that specs and outputs use.

    TF-Agents' own when its trajectory modules are loaded (its converters and
    checks test these by `isinstance`), tfdrive's otherwise. TF-Agents is never
    imported here.
    """
    tfa_trajectory = sys.modules.get("tf_agents.trajectories.trajectory")
    tfa_time_step = sys.modules.get("tf_agents.trajectories.time_step")
    tfa_policy_step = sys.modules.get("tf_agents.trajectories.policy_step")
    if tfa_trajectory and tfa_time_step and tfa_policy_step:
        return (
            tfa_trajectory.Trajectory,
            tfa_trajectory.Transition,
            tfa_time_step.TimeStep,
            tfa_policy_step.PolicyStep,
        )
    return trajectory.Trajectory, trajectory.Transition, ts.TimeStep, policy_step.PolicyStep


def _as_trajectory(value: Any) -> Any:
    return _types()[0](*value)


def _as_transition(value: Any) -> Any:
    """Rebuilds a transition (of any library) from the preferred namedtuples."""
    _, transition_type, time_step_type, policy_step_type = _types()
    time_step, action_step, next_time_step = value
    return transition_type(
        time_step_type(*time_step),
        policy_step_type(*action_step),
        time_step_type(*next_time_step),
    )


def _leaves_with_paths(nest: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """`(dotted_path, leaf)` pairs in `tf.nest` order (e.g. `observation.obs`)."""
    if isinstance(nest, Mapping):
        items = [(str(k), nest[k]) for k in sorted(nest)]
    elif hasattr(nest, "_fields"):
        items = list(zip(nest._fields, nest, strict=True))
    elif isinstance(nest, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(nest)]
    else:
        return [(prefix, nest)]
    leaves = []
    for key, child in items:
        leaves.extend(_leaves_with_paths(child, f"{prefix}.{key}" if prefix else key))
    return leaves


def _shapes(nest: Any) -> Any:
    return tf.nest.map_structure(lambda t: t.shape, nest)


def _squeeze_time(x: Any) -> Any:
    """Drops axis 1 (a time axis of size 1) of a dense or sparse tensor."""
    if isinstance(x, tf.SparseTensor):
        return tf.sparse.reshape(x, tf.concat([x.dense_shape[:1], x.dense_shape[2:]], axis=0))
    return tf.squeeze(x, axis=1)


class DataContext(tf.Module):
    """The specs of the data an agent collects or trains on.

    Args:
      time_step_spec: `TimeStep` of `tf.TypeSpec`s.
      action_spec: nest of `tf.TypeSpec`s of the actions.
      info_spec: nest of `tf.TypeSpec`s of the policy info.
      policy_state_spec: nest of specs of the policy state (default `()`).
      use_half_transition: if True, `transition_spec.next_time_step.observation`
        is a float32 scalar placeholder (see `AsHalfTransition`).

    Raises:
      TypeError: `time_step_spec`, `action_spec` or `info_spec` holds something
        other than `tf.TypeSpec`s.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        info_spec: Any,
        policy_state_spec: Any = (),
        use_half_transition: bool = False,
    ):
        super().__init__()
        for spec, label in (
            (time_step_spec, "time_step_spec"),
            (action_spec, "action_spec"),
            (info_spec, "info_spec"),
        ):
            if not all(isinstance(s, tf.TypeSpec) for s in tf.nest.flatten(spec)):
                raise TypeError(
                    f"{label} has to contain TypeSpec (TensorSpec, SparseTensorSpec, etc) "
                    f"objects, but received: {spec}"
                )
        trajectory_type, transition_type, time_step_type, policy_step_type = _types()
        time_step_spec = time_step_type(*time_step_spec)
        trajectory_spec = trajectory_type(
            step_type=time_step_spec.step_type,
            observation=time_step_spec.observation,
            action=action_spec,
            policy_info=info_spec,
            next_step_type=time_step_spec.step_type,
            reward=time_step_spec.reward,
            discount=time_step_spec.discount,
        )
        next_time_step_spec = time_step_spec
        if use_half_transition:
            next_time_step_spec = time_step_spec._replace(
                observation=tensor_spec.TensorSpec((), dtype=tf.float32, name="observation")
            )
        transition_spec = transition_type(
            time_step=time_step_spec,
            action_step=policy_step_type(
                action=action_spec, state=policy_state_spec, info=info_spec
            ),
            next_time_step=next_time_step_spec,
        )
        # Plain attributes: tf.Module tracking would wrap the nests in its own
        # containers, which tfdrive's nest utilities do not unpack.
        untracked = {
            "_time_step_spec": time_step_spec,
            "_action_spec": action_spec,
            "_info_spec": info_spec,
            "_policy_state_spec": policy_state_spec,
            "_trajectory_spec": trajectory_spec,
            "_transition_spec": transition_spec,
        }
        for name, value in untracked.items():
            object.__setattr__(self, name, value)

    @property
    def time_step_spec(self) -> Any:
        return self._time_step_spec

    @property
    def action_spec(self) -> Any:
        return self._action_spec

    @property
    def info_spec(self) -> Any:
        return self._info_spec

    @property
    def policy_state_spec(self) -> Any:
        return self._policy_state_spec

    @property
    def trajectory_spec(self) -> trajectory.Trajectory:
        """`Trajectory` of specs: the time step's, the action's and the info's."""
        return self._trajectory_spec

    @property
    def transition_spec(self) -> trajectory.Transition:
        """`Transition` of specs: time steps, and a `PolicyStep` of action/state/info."""
        return self._transition_spec


def _validate_trajectory(
    value: trajectory.Trajectory,
    trajectory_spec: trajectory.Trajectory,
    sequence_length: int | None,
    num_outer_dims: int = 2,
) -> None:
    """Checks `value` is `[B, T] + spec.shape` (or `[B]` with one outer dim).

    Raises:
      ValueError: outer dims are wrong, or the time dim is not `sequence_length`.
    """
    if not nest_utils.is_batched_nested_tensors(
        value, trajectory_spec, num_outer_dims=num_outer_dims, allow_extra_fields=True
    ):
        dims = "two outer dimensions" if num_outer_dims == 2 else "one outer dimension"
        prefix = "[B, T]" if num_outer_dims == 2 else "[B]"
        raise ValueError(
            f"All of the Tensors in `value` must have {dims}. Specifically, tensors must "
            f"have shape `{prefix} + spec.shape`.\nFull shapes of value tensors:\n  "
            f"{_shapes(value)}.\nExpected shapes (excluding the {dims}):\n  "
            f"{_shapes(trajectory_spec)}."
        )
    if sequence_length is None:
        return
    for path, t in _leaves_with_paths(value):
        if t.shape[1] != sequence_length:
            raise ValueError(
                f"The agent was configured to expect a `sequence_length` of "
                f"'{sequence_length}'. Value is expected to be shaped `[B, T] + spec.shape` "
                f"but at least one of the Tensors in `value` has a time axis dim value "
                f"'{t.shape[1]}' vs the expected '{sequence_length}'.\nFirst such tensor "
                f"is:\n\tvalue.{path}. \nFull shape structure of value:\n\t{_shapes(value)}"
            )


def _validate_state(state: Any, spec: Any) -> None:
    if not nest_utils.is_batched_nested_tensors(state, spec, num_outer_dims=1):
        raise ValueError(
            f"action_step.state does not match spec. action_step.state.shape: "
            f"{_shapes(state)}, spec.shape: {_shapes(spec)}, action_step.state: {state}, "
            f"spec: {spec}"
        )


def _validate_transition(
    value: trajectory.Transition,
    transition_spec: trajectory.Transition,
    num_outer_dims: int,
) -> None:
    """Checks `value` has `num_outer_dims` outer dims; the policy state has one.

    Raises:
      ValueError: the outer dimensions do not match the specs.
    """
    if value.action_step.state:
        # A policy state is taken at the first step only: [B] + spec.shape.
        _validate_state(value.action_step.state, transition_spec.action_step.state)
        value = value._replace(action_step=value.action_step._replace(state=()))
        transition_spec = transition_spec._replace(
            action_step=transition_spec.action_step._replace(state=())
        )
    if not nest_utils.is_batched_nested_tensors(
        value, transition_spec, num_outer_dims=num_outer_dims, allow_extra_fields=True
    ):
        raise ValueError(
            f"All of the Tensors in `value` must have a single outer (batch size) dimension. "
            f"Specifically, tensors must have {num_outer_dims} outer dimensions.\nFull shapes "
            f"of value tensors:\n  {_shapes(value)}.\nExpected shapes (excluding the outer "
            f"dimensions):\n  {_shapes(transition_spec)}."
        )


class AsTrajectory(tf.Module):
    """Converts experience into a validated `[B, T, ...]` `Trajectory`.

    Args:
      data_context: the `DataContext` whose `trajectory_spec` is checked.
      sequence_length: required `T`, or None for any.
      num_outer_dims: 2 (`[B, T]`) or 1 (`[B]`).
    """

    def __init__(self, data_context: Any, sequence_length: int | None = None, num_outer_dims=2):
        super().__init__()
        self._data_context = data_context
        self._sequence_length = sequence_length
        self._num_outer_dims = num_outer_dims

    def __call__(self, value: Any) -> trajectory.Trajectory:
        """`value`: a `Trajectory` or a `Transition` (taken as a one-step trajectory).

        Raises:
          TypeError: `value` is neither.
          ValueError: its shapes do not match the data context.
        """
        if _is_trajectory_like(value):
            value = _as_trajectory(value)
        elif _is_transition_like(value):
            time_step, action_step, next_time_step = value
            value = _types()[0](
                step_type=time_step.step_type,
                observation=time_step.observation,
                action=action_step.action,
                policy_info=action_step.info,
                next_step_type=next_time_step.step_type,
                reward=next_time_step.reward,
                discount=next_time_step.discount,
            )
        else:
            raise TypeError(f"Input type not supported: {value}")
        spec = self._data_context.trajectory_spec
        _validate_trajectory(
            value, spec, sequence_length=self._sequence_length, num_outer_dims=self._num_outer_dims
        )
        return nest_utils.prune_extra_keys(_as_trajectory(spec), value)


class AsTransition(tf.Module):
    """Converts experience into a validated `Transition`.

    Args:
      data_context: the `DataContext` whose specs are checked.
      squeeze_time_dim: a trajectory must then have `T == 2` and the transition
        is `[B, ...]`; otherwise it is `[B, T - 1, ...]`.
      prepend_t0_to_next_time_step: prepend the first observation to
        `next_time_step.observation` along axis 1 (making it `[B, T, ...]`).
    """

    def __init__(
        self,
        data_context: Any,
        squeeze_time_dim: bool = False,
        prepend_t0_to_next_time_step: bool = False,
    ):
        super().__init__()
        self._data_context = data_context
        self._squeeze_time_dim = squeeze_time_dim
        self._prepend_t0_to_next_time_step = prepend_t0_to_next_time_step

    def __call__(self, value: Any) -> trajectory.Transition:
        """`value`: a `Transition`, or a `[B, T]` `Trajectory` split by `to_transition`.

        Raises:
          TypeError: `value` is neither.
          ValueError: its shapes do not match the data context.
        """
        if _is_transition_like(value):
            value = _as_transition(value)
        elif _is_trajectory_like(value):
            value = _as_trajectory(value)
            _validate_trajectory(
                value,
                self._data_context.trajectory_spec,
                sequence_length=2 if self._squeeze_time_dim else None,
            )
            value = _as_transition(trajectory.to_transition(value))
            if self._squeeze_time_dim:
                value = tf.nest.map_structure(_squeeze_time, value)
        else:
            raise TypeError(f"Input type not supported: {value}")
        num_outer_dims = 1 if self._squeeze_time_dim else 2
        spec = _as_transition(self._data_context.transition_spec)
        _validate_transition(value, spec, num_outer_dims)
        value = nest_utils.prune_extra_keys(spec, value)
        if self._prepend_t0_to_next_time_step:
            observation = tf.nest.map_structure(
                lambda first, rest: tf.concat([first[:, :1, ...], rest], axis=1),
                value.time_step.observation,
                value.next_time_step.observation,
            )
            value = value._replace(
                next_time_step=value.next_time_step._replace(observation=observation)
            )
        return value


class AsHalfTransition(tf.Module):
    """Converts experience into a `Transition` without next observations.

    From a trajectory, `time_step.reward`/`discount` are zeros and
    `next_time_step.observation` is `zeros_like(discount)`: the context should be
    built with `use_half_transition=True`.

    Args:
      data_context: the `DataContext` whose specs are checked.
      squeeze_time_dim: a trajectory must then have `T == 1`, squeezed away.
    """

    def __init__(self, data_context: Any, squeeze_time_dim: bool = False):
        super().__init__()
        self._data_context = data_context
        self._squeeze_time_dim = squeeze_time_dim

    def __call__(self, value: Any) -> trajectory.Transition:
        """`value`: a `Transition` or a `Trajectory`.

        Raises:
          TypeError: `value` is neither.
          ValueError: its shapes do not match the data context.
        """
        if _is_transition_like(value):
            value = _as_transition(value)
        elif _is_trajectory_like(value):
            value = _as_trajectory(value)
            _validate_trajectory(
                value,
                self._data_context.trajectory_spec,
                sequence_length=1 if self._squeeze_time_dim else None,
            )
            if self._squeeze_time_dim:
                value = tf.nest.map_structure(lambda t: tf.squeeze(t, axis=1), value)
            _, transition_type, time_step_type, policy_step_type = _types()
            value = transition_type(
                time_step_type(
                    value.step_type,
                    reward=tf.nest.map_structure(tf.zeros_like, value.reward),
                    discount=tf.zeros_like(value.discount),
                    observation=value.observation,
                ),
                policy_step_type(action=value.action, state=(), info=value.policy_info),
                time_step_type(
                    step_type=value.next_step_type,
                    reward=value.reward,
                    discount=value.discount,
                    observation=tf.zeros_like(value.discount),
                ),
            )
        else:
            raise TypeError(f"Input type not supported: {value}")
        num_outer_dims = 1 if self._squeeze_time_dim else 2
        spec = _as_transition(self._data_context.transition_spec)
        _validate_transition(value, spec, num_outer_dims)
        return nest_utils.prune_extra_keys(spec, value)


class AsNStepTransition(tf.Module):
    """Converts experience into a `[B, ...]` n-step `Transition`.

    A `[B, n + 1]` trajectory becomes one transition per batch entry whose
    reward is the `gamma`-discounted sum of the first n rewards (see
    `trajectory.to_n_step_transition`).

    Args:
      data_context: the `DataContext` whose specs are checked.
      gamma: the discount factor.
      n: the number of steps; None accepts any `T`.
    """

    def __init__(self, data_context: Any, gamma: Any, n: int | None = None):
        super().__init__()
        self._data_context = data_context
        self._gamma = gamma
        self._n = n

    def __call__(self, value: Any) -> trajectory.Transition:
        """`value`: a `Transition` or a `[B, n + 1]` `Trajectory`.

        Raises:
          TypeError: `value` is neither.
          ValueError: its shapes do not match the data context.
        """
        if _is_transition_like(value):
            value = _as_transition(value)
        elif _is_trajectory_like(value):
            value = _as_trajectory(value)
            _validate_trajectory(
                value,
                self._data_context.trajectory_spec,
                sequence_length=None if self._n is None else self._n + 1,
            )
            value = _as_transition(trajectory.to_n_step_transition(value, gamma=self._gamma))
        else:
            raise TypeError(f"Input type not supported: {value}")
        spec = _as_transition(self._data_context.transition_spec)
        _validate_transition(value, spec, num_outer_dims=1)
        return nest_utils.prune_extra_keys(spec, value)

"""`PyPolicy`: the numpy policy interface that drivers call.

A policy maps a `TimeStep` of numpy arrays (and, for stateful policies, the
previous policy state) to a `PolicyStep(action, state, info)` of numpy
arrays. This module imports numpy only; specs given as TensorFlow
`TensorSpec`s are converted to `ArraySpec`s (TensorFlow is touched only when
such a spec is passed in).
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import numpy as np

from tfdrive import _tf
from tfdrive._interop import ensure_registered, register_with_tf_agents
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.utils import nest
from tfdrive.utils.members import assert_members_are_not_overridden

__all__ = ["PyPolicy", "assert_members_are_not_overridden", "to_array_spec_nest"]


def to_array_spec_nest(spec_nest: Any) -> Any:
    """Converts every `tf.TensorSpec` leaf of a nest to an `ArraySpec`.

    `ArraySpec` leaves (and anything else) are returned unchanged, so a nest of
    array specs passes through as is. `BoundedTensorSpec` becomes a
    `BoundedArraySpec` with the same bounds.
    """
    if not any(_tf.is_type_spec(s) for s in nest.flatten(spec_nest)):
        return spec_nest
    from tfdrive.specs import tensor_spec

    return nest.map_structure(
        lambda s: tensor_spec.to_array_spec(s) if _tf.is_type_spec(s) else s, spec_nest
    )


class PyPolicy(abc.ABC):
    """Abstract base class of numpy policies.

    `action(time_step, policy_state)` returns a `PolicyStep` whose fields are
    nests of numpy arrays:

    * ``action``: matches `action_spec` (with the time step's outer dims),
    * ``state``: the state to pass to the next `action` call (`()` for
      stateless policies),
    * ``info``: side information matching `info_spec`.

    Subclasses implement `_action` and, when stateful, may override
    `_get_initial_state` (the default gives zeros per `policy_state_spec`);
    overriding a public member (``action``, the spec properties, ...) raises
    `ValueError` at construction, as in TF-Agents.

    Args:
      time_step_spec: A `TimeStep` of `ArraySpec`s describing the time steps
        `action` receives (tensor specs are converted).
      action_spec: A nest of `BoundedArraySpec`s describing the actions.
      policy_state_spec: A nest of `ArraySpec`s for the policy state; `()`
        for stateless policies.
      info_spec: A nest of `ArraySpec`s for the info; `()` for none.
      observation_and_action_constraint_splitter: Optional callable taking an
        observation and returning ``(network_input, mask)``; stored for
        subclasses that support action constraints.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        policy_state_spec: Any = (),
        info_spec: Any = (),
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
    ):
        ensure_registered()
        assert_members_are_not_overridden(PyPolicy, self)
        self._time_step_spec = to_array_spec_nest(time_step_spec)
        self._action_spec = to_array_spec_nest(action_spec)
        self._policy_state_spec = to_array_spec_nest(policy_state_spec)
        self._info_spec = to_array_spec_nest(info_spec)
        self._setup_specs()
        self._observation_and_action_constraint_splitter = (
            observation_and_action_constraint_splitter
        )

    def _setup_specs(self) -> None:
        self._policy_step_spec = policy_step.PolicyStep(
            action=self._action_spec, state=self._policy_state_spec, info=self._info_spec
        )
        self._trajectory_spec = trajectory.from_transition(
            self._time_step_spec, self._policy_step_spec, self._time_step_spec
        )
        self._collect_data_spec = self._trajectory_spec

    @property
    def observation_and_action_constraint_splitter(self) -> Callable[[Any], Any] | None:
        return self._observation_and_action_constraint_splitter

    def get_initial_state(self, batch_size: int | None = None) -> Any:
        """Returns the state to pass to the first `action` call.

        Args:
          batch_size: None for an unbatched state, else the leading dimension
            added to every state array.

        Returns:
          A nest like `policy_state_spec` (by default zeros of each spec's
          dtype, shaped ``[batch_size] + spec.shape``); `()` when stateless.
        """
        return self._get_initial_state(batch_size)

    def action(self, time_step: Any, policy_state: Any = (), seed: Any = None) -> Any:
        """Computes the action for `time_step`.

        Args:
          time_step: A `TimeStep` of arrays matching `time_step_spec`
            (with optional outer dims). Not validated.
          policy_state: The state returned by the previous call, or
            `get_initial_state()`.
          seed: Optional seed, passed to `_action` only when not None.

        Returns:
          A `PolicyStep(action, state, info)` of numpy nests.
        """
        if seed is not None:
            return self._action(time_step, policy_state, seed=seed)
        return self._action(time_step, policy_state)

    @property
    def time_step_spec(self) -> Any:
        """The `TimeStep` of `ArraySpec`s that `action` expects."""
        return self._time_step_spec

    @property
    def action_spec(self) -> Any:
        """The nest of `BoundedArraySpec`s of the actions."""
        return self._action_spec

    @property
    def policy_state_spec(self) -> Any:
        """The nest of `ArraySpec`s of the policy state (`()` if stateless)."""
        return self._policy_state_spec

    @property
    def info_spec(self) -> Any:
        """The nest of `ArraySpec`s of the info (`()` if none)."""
        return self._info_spec

    @property
    def policy_step_spec(self) -> Any:
        """`PolicyStep(action_spec, policy_state_spec, info_spec)`."""
        return self._policy_step_spec

    @property
    def trajectory_spec(self) -> Any:
        """The `Trajectory` spec of data collected with this policy."""
        return self._trajectory_spec

    @property
    def collect_data_spec(self) -> Any:
        """The spec of the data an agent trains on; the trajectory spec by default."""
        return self._collect_data_spec

    @abc.abstractmethod
    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        """Implementation of `action`; returns a `PolicyStep`."""

    def _get_initial_state(self, batch_size: int | None) -> Any:
        def zeros(spec: Any) -> np.ndarray:
            shape = tuple(spec.shape) if batch_size is None else (batch_size,) + tuple(spec.shape)
            return np.zeros(shape, spec.dtype)

        return nest.map_structure(zeros, self._policy_state_spec)


register_with_tf_agents(PyPolicy, "tf_agents.policies.py_policy", "PyPolicy")

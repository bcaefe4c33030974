"""The in-graph RL environment API (``tf_agents.environments.tf_environment``).

A :class:`TFEnvironment` is always batched: every field of its time steps has
a leading batch dimension ``B == batch_size`` and ``step(action)`` takes
actions with that leading dimension. Its specs (``TensorSpec`` nests) never
include ``B``.

- ``reset()``: a ``FIRST`` time step (a ``TimeStep`` of tensors);
- ``current_time_step()``: the latest time step, resetting first if none;
- ``step(action)``: applies ``action`` and returns the next time step. After
  a ``LAST`` step, or before any reset, it starts a new episode and ignores
  the action.

Subclasses implement ``_current_time_step``, ``_reset`` and ``_step``.
"""

from __future__ import annotations

import abc
from typing import Any

from tfdrive._interop import ensure_registered, register_with_tf_agents

__all__ = ["TFEnvironment"]


class TFEnvironment(abc.ABC):
    """Abstract base class of TF environments.

    Args:
      time_step_spec: the ``TimeStep`` of ``TensorSpec``s of the time steps
        (step_type int32 ``[]``, reward, discount float32 ``[]``, observation).
      action_spec: the nest of ``BoundedTensorSpec``s of one action.
      batch_size: ``B``, the leading dimension of time steps and actions.
    """

    def __init__(self, time_step_spec: Any = None, action_spec: Any = None, batch_size: int = 1):
        ensure_registered()
        self._time_step_spec = time_step_spec
        self._action_spec = action_spec
        self._batch_size = batch_size

    def time_step_spec(self) -> Any:
        """The ``TimeStep`` of specs of the tensors ``step()`` returns."""
        return self._time_step_spec

    def action_spec(self) -> Any:
        """The spec nest of the actions ``step()`` takes (without ``B``)."""
        return self._action_spec

    def observation_spec(self) -> Any:
        """``time_step_spec().observation``."""
        return self.time_step_spec().observation

    def reward_spec(self) -> Any:
        """``time_step_spec().reward``."""
        return self.time_step_spec().reward

    @property
    def batched(self) -> bool:
        """Always ``True``: TF environments are batched."""
        return True

    @property
    def batch_size(self) -> int:
        """``B``, the leading dimension of time steps and actions."""
        return self._batch_size

    def current_time_step(self) -> Any:
        """The current ``TimeStep`` of tensors (resets first when there is none)."""
        return self._current_time_step()

    def reset(self) -> Any:
        """Starts new episodes and returns their ``FIRST`` ``TimeStep``."""
        return self._reset()

    def step(self, action: Any) -> Any:
        """Applies ``action`` (a tensor nest matching ``action_spec()`` with a
        leading ``B``) and returns the next ``TimeStep``.

        After a ``LAST`` step, or before any reset, the implementation starts a
        new episode and ignores ``action``.
        """
        return self._step(action)

    def render(self) -> Any:
        """Renders a frame.

        Raises:
          NotImplementedError: ``'No rendering support.'`` unless overridden.
        """
        raise NotImplementedError("No rendering support.")

    @abc.abstractmethod
    def _current_time_step(self) -> Any:
        """Returns the current ``TimeStep``."""

    @abc.abstractmethod
    def _reset(self) -> Any:
        """Resets and returns the ``FIRST`` ``TimeStep``."""

    @abc.abstractmethod
    def _step(self, action: Any) -> Any:
        """Applies ``action`` and returns the next ``TimeStep``."""


register_with_tf_agents(TFEnvironment, "tf_agents.environments.tf_environment", "TFEnvironment")

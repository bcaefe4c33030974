"""The Python RL environment API (``tf_agents.environments.py_environment``).

A :class:`PyEnvironment` describes its observations and actions with
``ArraySpec`` nests and produces :class:`~tfdrive.trajectories.time_step.TimeStep`
namedtuples of numpy arrays:

- ``step_type``: ``int32``, shape ``[]`` (``[B]`` when batched), one of
  ``StepType.FIRST``/``MID``/``LAST``;
- ``reward``: ``float32`` per ``reward_spec()`` (default shape ``[]``);
- ``discount``: ``float32`` in ``[0, 1]`` per ``discount_spec()``;
- ``observation``: a nest of arrays matching ``observation_spec()``.

A batched environment (``batched == True``) adds a leading dimension
``B == batch_size`` to every field and takes actions with that leading
dimension; the specs never include it.

Subclasses implement ``_reset()`` and ``_step(action)``; ``reset()`` and
``step()`` are final (overriding them raises ``ValueError`` at construction,
as in TF-Agents). ``step()`` called before the first ``reset()`` resets and
ignores the action. After a ``LAST`` step, an environment starts a new episode
on the next ``step()`` (ignoring its action): either ``_step`` does it itself,
as the Gymnasium wrapper and the native environments do, or the base class
does it when constructed with ``handle_auto_reset=True`` (for a batched env:
only once every entry is ``LAST``).

This module needs only numpy.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from tfdrive._interop import ensure_registered, register_with_tf_agents
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

__all__ = ["PyEnvironment"]

# Public members that subclasses may not override (TF-Agents' denylist).
_FINAL_MEMBERS = ("reset", "step")


def _check_final_members(base_cls: type, instance: object) -> None:
    """Raises ``ValueError`` if ``instance``'s class overrides a final member.

    Like TF-Agents, this inspects only the instance's own class dictionary.
    """
    instance_type = type(instance)
    overridden = [
        name
        for name in _FINAL_MEMBERS
        if name in instance_type.__dict__
        and instance_type.__dict__[name] != base_cls.__dict__[name]
    ]
    if overridden:
        raise ValueError(
            f"Subclasses of {base_cls} cannot override most of its base members, but "
            f"{instance_type} overrides: {overridden}"
        )


class PyEnvironment(abc.ABC):
    """Abstract base class for Python RL environments.

    Observations and valid actions are described with ``ArraySpec`` nests
    (``tfdrive.specs.array_spec``). An environment that steps several
    sub-environments at once overrides ``batched`` to return ``True`` and
    ``batch_size`` to return ``B``.

    Args:
      handle_auto_reset: when ``True``, ``step()`` itself resets the
        environment (ignoring the action) once the current time step is
        ``LAST`` (every entry ``LAST`` if batched). When ``False`` (the
        default) the subclass's ``_step`` is expected to start a new episode
        after a ``LAST`` step.

    Raises:
      ValueError: if the subclass overrides ``reset`` or ``step``.
    """

    def __init__(self, handle_auto_reset: bool = False):
        ensure_registered()
        self._handle_auto_reset = handle_auto_reset
        self._current_time_step: ts.TimeStep | None = None
        _check_final_members(PyEnvironment, self)

    # ------------------------------------------------------------------ batch
    @property
    def batched(self) -> bool:
        """Whether the environment is batched (every field has a leading ``B``).

        Returns ``False`` unless overridden.
        """
        return False

    @property
    def batch_size(self) -> int | None:
        """The batch size ``B``, or ``None`` for an unbatched environment.

        Raises:
          RuntimeError: if ``batched`` is overridden to ``True`` but this
            property is not.
        """
        if self.batched:
            raise RuntimeError(
                f"Environment {type(self)} marked itself as batched but did not override the "
                "batch_size property"
            )
        return None

    def should_reset(self, current_time_step: ts.TimeStep) -> bool:
        """Whether ``step()`` resets instead of stepping, given the current time step.

        True only with ``handle_auto_reset`` and when every entry of
        ``current_time_step.step_type`` is ``LAST``.
        """
        if not getattr(self, "_handle_auto_reset", False):
            return False
        step_type = current_time_step.step_type
        if isinstance(step_type, np.ndarray) and step_type.ndim == 0:  # the common, unbatched case
            return bool(int(step_type) == ts.StepType.LAST)
        return bool(np.all(current_time_step.is_last()))

    # ------------------------------------------------------------------ specs
    @abc.abstractmethod
    def observation_spec(self) -> Any:
        """The observation spec: an ``ArraySpec`` or a nest (dict/list/tuple) of them."""

    @abc.abstractmethod
    def action_spec(self) -> Any:
        """The action spec: an ``ArraySpec`` or a nest (dict/list/tuple) of them."""

    def reward_spec(self) -> Any:
        """The reward spec: ``ArraySpec(shape=(), dtype=float32, name='reward')`` by default."""
        return array_spec.ArraySpec(shape=(), dtype=np.float32, name="reward")

    def discount_spec(self) -> Any:
        """The discount spec: ``BoundedArraySpec((), float32, 0.0, 1.0, name='discount')``."""
        return array_spec.BoundedArraySpec(
            shape=(), dtype=np.float32, minimum=0.0, maximum=1.0, name="discount"
        )

    def time_step_spec(self) -> ts.TimeStep:
        """The ``TimeStep`` of specs: ``time_step_spec(observation_spec(), reward_spec())``.

        step_type ``ArraySpec([], int32)``, reward per ``reward_spec()``,
        discount ``BoundedArraySpec([], float32, 0, 1)``, observation per
        ``observation_spec()``.
        """
        return ts.time_step_spec(self.observation_spec(), self.reward_spec())

    # --------------------------------------------------------------- stepping
    def current_time_step(self) -> ts.TimeStep:
        """The time step last returned by ``reset()`` or ``step()``.

        Raises:
          ValueError: ``'Current timestep not initialized.'`` before the first
            ``reset()``/``step()``.
        """
        if self._current_time_step is None:
            raise ValueError("Current timestep not initialized.")
        return self._current_time_step

    def reset(self) -> ts.TimeStep:
        """Starts a new episode and returns its first ``TimeStep``.

        The result (``FIRST``, reward 0.0, discount 1.0 and the initial
        observation) comes from ``_reset()`` and is cached for
        ``current_time_step()``. Subclasses cannot override this method.
        """
        self._current_time_step = self._reset()
        return self._current_time_step

    def step(self, action: Any) -> ts.TimeStep:
        """Applies ``action`` and returns the next ``TimeStep``.

        Called before any ``reset()``, or when ``should_reset`` holds, this
        resets and ignores ``action``. Otherwise it returns ``_step(action)``
        and caches it for ``current_time_step()``. Subclasses cannot override
        this method.

        Args:
          action: an array or nest of arrays matching ``action_spec()`` (with
            a leading ``B`` dimension when batched).
        """
        if self._current_time_step is None or self.should_reset(self._current_time_step):
            return self.reset()
        self._current_time_step = self._step(action)
        return self._current_time_step

    # ------------------------------------------------------------------ misc
    def close(self) -> None:
        """Frees the environment's resources; also called on leaving a ``with`` block."""
        return None

    def __enter__(self) -> PyEnvironment:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        self.close()

    def render(self, mode: str = "rgb_array") -> Any:
        """Renders the environment (``rgb_array``: an ``[H, W, 3]`` uint8 array).

        Raises:
          NotImplementedError: ``'No rendering support.'`` unless overridden.
        """
        del mode
        raise NotImplementedError("No rendering support.")

    def seed(self, seed: Any) -> Any:
        """Seeds the environment.

        Raises:
          NotImplementedError: ``'No seed support for this environment.'``
            unless overridden.
        """
        del seed
        raise NotImplementedError("No seed support for this environment.")

    def get_info(self) -> Any:
        """The info returned by the last ``step()`` (a nest of arrays).

        Raises:
          NotImplementedError: ``'No support of get_info for this environment.'``
            unless overridden.
        """
        raise NotImplementedError("No support of get_info for this environment.")

    def get_state(self) -> Any:
        """An opaque token that ``set_state`` restores.

        Raises:
          NotImplementedError: unless overridden.
        """
        raise NotImplementedError("This environment has not implemented `get_state()`.")

    def set_state(self, state: Any) -> None:
        """Restores a state returned by ``get_state()``.

        Raises:
          NotImplementedError: unless overridden.
        """
        del state
        raise NotImplementedError("This environment has not implemented `set_state()`.")

    # ------------------------------------------------------------ subclasses
    @abc.abstractmethod
    def _step(self, action: Any) -> ts.TimeStep:
        """Applies ``action`` and returns the next ``TimeStep`` (see ``step``)."""

    @abc.abstractmethod
    def _reset(self) -> ts.TimeStep:
        """Starts a new episode and returns its ``FIRST`` ``TimeStep`` (see ``reset``)."""


register_with_tf_agents(PyEnvironment, "tf_agents.environments.py_environment", "PyEnvironment")

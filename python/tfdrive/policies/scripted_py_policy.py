"""`ScriptedPyPolicy`: replays a fixed script of actions, each for a given number of steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfdrive.policies import py_policy
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest

__all__ = ["ScriptedPyPolicy"]


def _flatten_up_to(spec: Any, value: Any) -> list:
    """The leaves of `value` at the positions of `spec`'s leaves (in `nest.flatten` order).

    A leaf of `spec` may face any value there (an array, a nested list of
    numbers), which is taken whole.

    Raises:
      ValueError: `value` lacks a level of nesting, a key or an entry that
        `spec` has.
    """
    if not nest.is_nested(spec):
        return [value]
    if isinstance(spec, Mapping):
        if not isinstance(value, Mapping) or set(value) != set(spec):
            raise ValueError(
                f"The action {value!r} does not have the keys of the action_spec {spec!r}."
            )
        keys = sorted(spec)
        return [leaf for k in keys for leaf in _flatten_up_to(spec[k], value[k])]
    if (
        isinstance(value, (str, bytes, Mapping))
        or not isinstance(value, Sequence)
        or len(value) != len(spec)
    ):
        raise ValueError(
            f"The action {value!r} does not have the structure of the action_spec {spec!r}."
        )
    return [leaf for s, v in zip(spec, value) for leaf in _flatten_up_to(s, v)]


class ScriptedPyPolicy(py_policy.PyPolicy):
    """Returns the actions of a script, in order, each repeated a given number of times.

    The script is a list of ``(n, action)`` pairs: `action` (a nest like
    `action_spec`, whose leaves may be arrays or nested lists of numbers) is
    returned for `n` consecutive calls; entries with ``n <= 0`` are skipped.
    For example ``[(1, a), (0, b), (2, c)]`` gives ``a, c, c``.

    The policy state is the list ``[script_index, times_used]``;
    `get_initial_state()` returns ``[0, 0]`` whatever the batch size, and a
    state of None means the same. The time step is not read.

    Args:
      time_step_spec: The `TimeStep` spec; None means `ts.time_step_spec()`.
      action_spec: A nest of `BoundedArraySpec`s the scripted actions follow.
      action_script: A sequence of ``(n, action)`` pairs.

    `action` raises `ValueError` when a scripted action does not match
    `action_spec` (structure, shape or bounds), or when called after the
    script is used up ("Episode is longer than the provided scripted
    policy").
    """

    def __init__(
        self,
        time_step_spec: ts.TimeStep | None,
        action_spec: Any,
        action_script: Sequence[tuple[int, Any]],
    ):
        if time_step_spec is None:
            time_step_spec = ts.time_step_spec()
        super().__init__(time_step_spec=time_step_spec, action_spec=action_spec)
        self._action_script = action_script

    def _get_initial_state(self, batch_size: int | None) -> list:
        del batch_size  # One script position serves every batch size.
        return [0, 0]

    def _scripted_entry(self, index: int) -> tuple[int, Any]:
        if index >= len(self._action_script):
            raise ValueError(
                "Episode is longer than the provided scripted policy. Consider setting a "
                "TimeLimit wrapper that stops episodes within the length of your scripted "
                "policy."
            )
        return self._action_script[index]

    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        del time_step, seed  # The script alone decides.
        index, times_used = [0, 0] if policy_state is None else policy_state
        repeats, action = self._scripted_entry(index)
        while times_used >= repeats:  # This entry is used up (or disabled): next one.
            index, times_used = index + 1, 0
            repeats, action = self._scripted_entry(index)
        times_used += 1

        specs = nest.flatten(self._action_spec)
        arrays = [
            np.asarray(leaf, dtype=spec.dtype)
            for leaf, spec in zip(_flatten_up_to(self._action_spec, action), specs)
        ]
        if not all(spec.check_array(array) for array, spec in zip(arrays, specs)):
            raise ValueError(
                f"Action at index {index} does not match the environment's action_spec. "
                f"Got: {action}. Expected {self._action_spec}."
            )
        action = nest.pack_sequence_as(self._action_spec, arrays)
        return policy_step.PolicyStep(action, [index, times_used])

"""`BatchedPyPolicy`: several unbatched `PyPolicy`s acting as one batched policy."""

from __future__ import annotations

import concurrent.futures
from typing import Any, Callable, Iterable, Sequence

from tfdrive import _gin
from tfdrive.policies import py_policy
from tfdrive.trajectories import policy_step as ps
from tfdrive.utils import nest, nest_utils

__all__ = ["BatchedPyPolicy"]

# The spec members every wrapped policy must agree on.
_SHARED_MEMBERS = (
    "time_step_spec",
    "action_spec",
    "policy_state_spec",
    "info_spec",
    "policy_step_spec",
    "trajectory_spec",
    "collect_data_spec",
    "observation_and_action_constraint_splitter",
)


@_gin.configurable
class BatchedPyPolicy(py_policy.PyPolicy):
    """Entry ``i`` of each batch goes to policy ``i``; the results are stacked.

    `action(time_step, policy_state)` takes nests of arrays with a leading
    dimension of ``len(policies)`` and returns a `PolicyStep` whose action,
    state and info have that leading dimension. `get_initial_state()`
    stacks the policies' initial states (its `batch_size` argument is not
    used: the batch size is the number of policies).

    Policies that share Python state must guard it with locks when
    `multithreading` is on.

    Args:
      policies: A list or tuple of unbatched `PyPolicy`s (tfdrive's,
        TF-Agents' or any with the protocol) with equal specs.
      multithreading: Call the policies concurrently, from a pool of one
        thread per policy; False calls them in turn in the calling thread.

    Raises:
      ValueError: `policies` is not a non-empty list or tuple, or the
        policies' specs differ.
    """

    def __init__(self, policies: Sequence[Any], multithreading: bool = True):
        if not isinstance(policies, (list, tuple)):
            raise ValueError(f"policies must be a list or tuple.  Got: {policies}")
        if not policies:
            raise ValueError("policies must hold at least one policy.  Got: []")
        self._parallel_execution = multithreading
        self._policies = policies
        self._num_policies = len(policies)
        first = policies[0]
        for member in _SHARED_MEMBERS:
            if any(getattr(p, member) != getattr(first, member) for p in policies):
                raise ValueError(
                    f"All policies must have the same specs ({member} differs).  Saw: {policies}"
                )
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(self._num_policies) if multithreading else None
        )
        super().__init__(
            first.time_step_spec,
            first.action_spec,
            first.policy_state_spec,
            first.info_spec,
            first.observation_and_action_constraint_splitter,
        )

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)

    def _execute(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list:
        if self._pool is not None:
            return list(self._pool.map(fn, items))
        return [fn(item) for item in items]

    def _get_initial_state(self, batch_size: int | None) -> Any:
        del batch_size  # The batch is the number of policies.
        if self._num_policies == 1:
            return nest_utils.batch_nested_array(self._policies[0].get_initial_state())
        states = self._execute(lambda p: p.get_initial_state(batch_size=1), self._policies)
        # Each state is batched by 1: drop that dim, then stack along a new one.
        return nest_utils.stack_nested_arrays(nest_utils.unbatch_nested_array(states))

    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> ps.PolicyStep:
        if seed is not None:
            raise NotImplementedError(f"seed is not supported; but saw seed: {seed}")
        if self._num_policies == 1:
            step = self._policies[0].action(
                nest_utils.unbatch_nested_array(time_step),
                nest_utils.unbatch_nested_array(policy_state),
            )
            return nest_utils.batch_nested_array(step)
        time_steps = nest_utils.unstack_nested_arrays(time_step)
        if len(time_steps) != self._num_policies:
            raise ValueError(
                "Primary dimension of time_step items does not match batch size: "
                f"{len(time_steps)} vs. {self._num_policies}"
            )
        states = [()] * self._num_policies
        if nest.flatten(policy_state):  # Not `if policy_state`: arrays have no truth value.
            states = nest_utils.unstack_nested_arrays(policy_state)
            if len(states) != self._num_policies:
                raise ValueError(
                    "Primary dimension of policy_state items does not match batch size: "
                    f"{len(states)} vs. {self._num_policies}"
                )
        steps = self._execute(
            lambda args: args[0].action(args[1], args[2]),
            zip(self._policies, time_steps, states),
        )
        return nest_utils.stack_nested_arrays(steps)

"""OverlappedPyDriver: envs step while the policy computes another group's actions.

`PyDriver` (TF-Agents' semantics) runs policy, env, policy, env... one after
the other, so an iteration costs policy + env. Split the envs into groups
(e.g. two `ParallelPyEnvironment`s, two native envs, two batched Gymnasium
envs) and this driver pipelines them: while group 0's envs step, the policy
computes group 1's actions, and the other way round, so an iteration costs
about max(policy, env) once both are busy.

How stepping runs concurrently with the policy:
- envs with `step_async`/`step_wait` (`ParallelPyEnvironment`): the worker
  processes step while this process runs the policy;
- any other env is stepped on a background thread: native envs step
  outside the GIL on their own threads, Python envs step while TensorFlow's
  graph has released the GIL.

What observers see: each group keeps TF-Agents' meaning of a trajectory per
env (the same transitions a `PyDriver` over that group produces). The
groups' transitions of one round (one step of every group) are
reassembled into one batch, groups in order (env `i` of group `g` is row
`sum(batch sizes of groups < g) + i`), and handed to the observers as one
`Trajectory` / transition, so metrics and buffers sized for the whole batch
work unchanged. `run()` returns the time steps and policy states per group.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tfdrive.trajectories import policy_step, trajectory
from tfdrive.utils import nest

__all__ = ["OverlappedPyDriver"]


class _Stepper:
    """Starts an env step and waits for it: the env's own async API or a thread."""

    def __init__(self, env: Any):
        self.env = env
        self.native_async = callable(getattr(env, "step_async", None)) and callable(
            getattr(env, "step_wait", None)
        )
        self.pool = concurrent.futures.ThreadPoolExecutor(1)  # unused with step_async
        self.future: concurrent.futures.Future | None = None

    def start(self, action: Any) -> None:
        if self.native_async:
            self.env.step_async(action)
        else:
            self.future = self.pool.submit(self.env.step, action)

    def wait(self) -> Any:
        if self.native_async:
            return self.env.step_wait()
        future, self.future = self.future, None
        assert future is not None, "wait() without start()"
        return future.result()  # re-raises the env's exception unchanged

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _concat(nests: Sequence[Any]) -> Any:
    """Concatenates nests of `[B_g, ...]` arrays along the batch axis."""
    return nest.map_structure(lambda *xs: np.concatenate([np.asarray(x) for x in xs]), *nests)


class OverlappedPyDriver:
    """Runs a Python policy in groups of batched envs, stepping one group during another's policy call.

    Args:
      envs: two or more batched environments (PyEnvironment protocol,
        `batched` True); each group's time steps and actions are batches.
      policy: a policy with the PyPolicy protocol; called once per group per
        round with that group's batch (a batched policy, e.g.
        `PyTFEagerPolicy`, takes any batch size).
      observers: callables taking the round's `Trajectory` (all groups,
        reassembled; see the module docstring).
      transition_observers: callables taking the round's
        `(time_step, action_step, next_time_step)`, reassembled alike.
      max_steps: the most steps per `run()` over all envs (boundary
        transitions are not steps). None or 0: unlimited.
      max_episodes: the most episodes per `run()` over all envs.
      end_episode_on_boundary: count an episode at its boundary transition
        (True, as `PyDriver`) or at its LAST step.

    A run ends after the round in which a limit is reached, and then waits
    for the steps already started and delivers them too (nothing taken is
    lost), so it can overshoot a limit by up to two rounds of the whole batch.

    Raises:
      ValueError: fewer than two envs, an unbatched env, no limit.
    """

    def __init__(
        self,
        envs: Sequence[Any],
        policy: Any,
        observers: Sequence[Callable[[Any], Any]] | None = None,
        transition_observers: Sequence[Callable[[Any], Any]] | None = None,
        max_steps: int | None = None,
        max_episodes: int | None = None,
        end_episode_on_boundary: bool = True,
    ):
        envs = list(envs)
        if len(envs) < 2:
            raise ValueError(f"envs must hold at least two env groups to overlap, got {len(envs)}")
        for g, env in enumerate(envs):
            if not getattr(env, "batched", False):
                raise ValueError(f"envs[{g}] is not batched: each group must be a batched env")
        max_steps = max_steps or 0
        max_episodes = max_episodes or 0
        if max_steps < 1 and max_episodes < 1:
            raise ValueError("Either `max_steps` or `max_episodes` should be greater than 0.")
        self._envs = envs
        self._policy = policy
        self._observers = list(observers or [])
        self._transition_observers = list(transition_observers or [])
        self._max_steps = max_steps or np.inf
        self._max_episodes = max_episodes or np.inf
        self._end_episode_on_boundary = end_episode_on_boundary
        self._last_run_counts = (0, 0)

    @property
    def envs(self) -> list[Any]:
        return list(self._envs)

    @property
    def policy(self) -> Any:
        return self._policy

    @property
    def last_run_counts(self) -> tuple[int, int]:
        """`(steps, episodes)` delivered by the last `run()` (over all groups)."""
        return self._last_run_counts

    def run(
        self, time_steps: Sequence[Any], policy_states: Sequence[Any] | None = None
    ) -> tuple[list[Any], list[Any]]:
        """Runs until a limit is reached; returns `(time_steps, policy_states)` per group.

        Args:
          time_steps: each group's current time step (e.g. `env.reset()`).
          policy_states: each group's policy state; None: the policy's
            initial state for each group's batch size.
        """
        groups = len(self._envs)
        time_steps = list(time_steps)
        if len(time_steps) != groups:
            raise ValueError(f"time_steps has {len(time_steps)} entries for {groups} env groups")
        if policy_states is None:
            policy_states = [self._policy.get_initial_state(env.batch_size) for env in self._envs]
        states = list(policy_states)
        steppers = [_Stepper(env) for env in self._envs]
        action_steps: list[Any] = [None] * groups
        num_steps = num_episodes = 0
        try:
            for g in range(groups):  # prime the pipeline: every group steps
                action_steps[g] = self._start(steppers[g], time_steps[g], states[g])
            running = True
            while True:
                transitions = []
                for g in range(groups):
                    next_time_step = steppers[g].wait()
                    # Trajectories carry the state the action was computed from.
                    transitions.append(
                        (time_steps[g], action_steps[g]._replace(state=states[g]), next_time_step)
                    )
                    time_steps[g], states[g] = next_time_step, action_steps[g].state
                    if running:  # this group steps while the next groups are collected
                        action_steps[g] = self._start(steppers[g], time_steps[g], states[g])
                steps, episodes = self._deliver(transitions)
                num_steps += steps
                num_episodes += episodes
                if not running:  # this round drained the steps already started
                    break
                running = num_steps < self._max_steps and num_episodes < self._max_episodes
        finally:
            for stepper in steppers:
                stepper.close()
            self._last_run_counts = (num_steps, num_episodes)
        return time_steps, states

    def _start(self, stepper: _Stepper, time_step: Any, state: Any) -> Any:
        action_step = self._policy.action(time_step, state)
        if not isinstance(action_step, policy_step.PolicyStep):  # TF-Agents' or a tuple
            action_step = policy_step.PolicyStep(*action_step)
        stepper.start(action_step.action)
        return action_step

    def _deliver(self, transitions: list[tuple[Any, Any, Any]]) -> tuple[int, int]:
        """Hands the round's reassembled transition to the observers; returns (steps, episodes)."""
        if not self._observers and not self._transition_observers:
            # Only the counts: no batch to reassemble. A boundary is LAST -> FIRST.
            last = np.concatenate([np.asarray(t[0].step_type) == 2 for t in transitions])
            next_last = np.concatenate([np.asarray(t[2].step_type) == 2 for t in transitions])
            ends = last if self._end_episode_on_boundary else next_last
            return int(np.sum(~last)), int(np.sum(ends))
        time_step = _concat([t[0] for t in transitions])
        action_step = _concat([t[1] for t in transitions])
        next_time_step = _concat([t[2] for t in transitions])
        for observer in self._transition_observers:
            observer((time_step, action_step, next_time_step))
        traj = trajectory.from_transition(time_step, action_step, next_time_step)
        for observer in self._observers:
            observer(traj)
        boundary = np.asarray(traj.is_boundary())
        steps = int(np.sum(~boundary))
        ends = boundary if self._end_episode_on_boundary else np.asarray(traj.is_last())
        return steps, int(np.sum(ends))

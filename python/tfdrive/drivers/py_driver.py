"""PyDriver: TF-Agents' Python driver, with its step loop in Rust.

A drop-in replacement for `tf_agents.drivers.py_driver.PyDriver`: same
constructor, same `run()` and the same trajectories, transitions and counts.
The loop itself (`tfdrive._core.DriverCore`) calls the env, the policy and the
observers back through their Python protocols, so it drives tfdrive's and
TF-Agents' environments and policies alike.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

from tfdrive import _core
from tfdrive.drivers import driver
from tfdrive.drivers.progress import ProgressBar
from tfdrive.trajectories import trajectory


class PyDriver(driver.Driver):
    """Runs a Python policy in a Python environment.

    Each iteration of `run()` asks the policy for an action, steps the env
    with it, and hands the transition to the observers: first each
    transition observer gets the tuple `(time_step, action_step,
    next_time_step)`, then each trajectory observer gets the `Trajectory`,
    then each info observer gets `env.get_info()`. Both carry the policy
    state the action was computed FROM (`action_step.state` is replaced by
    the input state); `run()` returns the state the policy last returned.

    Interrupts and errors: the driver checks for signals (Ctrl-C) before
    each iteration and raises `KeyboardInterrupt` there. Python code it calls
    (policy, env, Python observers) may also raise it, or any exception, in
    the middle of an iteration; the exception reaches the caller unchanged
    and the run stops at once: the observers before the one that raised have
    the transition, those after it do not, and a native observer (tfdrive's
    metrics, the trajectory buffer) takes a transition whole or not at all.
    `run()` returns nothing then, so `last_run_stats` keeps the last complete
    run's.

    With a batched env the limits count over all envs, so a run can
    overshoot them by up to the batch size; and `max_episodes` favours short
    episodes, since a run stops after the first `max_episodes` to finish.

    Args:
      env: an environment with the PyEnvironment protocol (`step(action)`,
        `batched`, `batch_size`, `get_info()`): tfdrive's, TF-Agents' or
        your own. The driver never calls `env.reset()`.
      policy: a policy with the PyPolicy protocol (`action(time_step,
        policy_state)`, `get_initial_state(batch_size)`).
      observers: callables taking a `Trajectory`; None for none.
      transition_observers: callables taking `(time_step, action_step,
        next_time_step)`.
      info_observers: callables taking `env.get_info()`.
      max_steps: the most steps per `run()` (summed over a batch; boundary
        transitions LAST -> FIRST are not steps). None or 0: unlimited.
      max_episodes: the most episodes per `run()` (summed over a batch).
        None or 0: unlimited.
      end_episode_on_boundary: count an episode at its boundary transition
        (LAST -> FIRST); False counts it at its LAST step, which suits
        transition observers.
      progress: tfdrive's addition, keyword-only and off by default: True
        shows a tqdm bar (steps, steps/s, episodes) during each `run()`; a
        callable is called as `progress(num_steps, num_episodes)` every
        0.2 s and when the run ends.
      timing: tfdrive's addition, keyword-only: measure the seconds spent
        per stage (see `last_run_stats`). Off by default.

    Raises:
      ValueError: if neither `max_steps` nor `max_episodes` is at least 1,
        or either is not a whole number of magnitude below ``2**63`` (NaN,
        infinity, a fraction, a huge number). A negative limit beside a
        positive one is kept as TF-Agents has it: that run takes no step.
    """

    def __init__(
        self,
        env: Any,
        policy: Any,
        observers: Sequence[Callable[[trajectory.Trajectory], Any]] | None,
        transition_observers: Sequence[Callable[[trajectory.Transition], Any]] | None = None,
        info_observers: Sequence[Callable[[Any], Any]] | None = None,
        max_steps: int | None = None,
        max_episodes: int | None = None,
        end_episode_on_boundary: bool = True,
        *,
        progress: bool | Callable[[int, int], Any] = False,
        timing: bool = False,
    ):
        max_steps = _limit("max_steps", max_steps)
        max_episodes = _limit("max_episodes", max_episodes)
        if max_steps < 1 and max_episodes < 1:
            raise ValueError("Either `max_steps` or `max_episodes` should be greater than 0.")
        super().__init__(env, policy, observers, transition_observers, info_observers)
        self._max_steps = max_steps or math.inf
        self._max_episodes = max_episodes or math.inf
        self._end_episode_on_boundary = end_episode_on_boundary
        self._core = _core.DriverCore(
            env,
            policy,
            self._observers,
            self._transition_observers,
            self._info_observers,
            float(self._max_steps),
            float(self._max_episodes),
            bool(end_episode_on_boundary),
            trajectory.Trajectory,
        )
        self._last_run_stats: _core.RunStats | None = None
        if not (isinstance(progress, bool) or callable(progress)):
            raise TypeError(
                f"progress must be a bool or a callable(num_steps, num_episodes); "
                f"got {type(progress).__name__} {progress!r}"
            )
        self._progress = progress
        self._timing = bool(timing)
        self._running = False

    def run(self, time_step: Any, policy_state: Any = ()) -> tuple[Any, Any]:
        """Runs the policy in the env from `time_step` and `policy_state`.

        Args:
          time_step: the time step to start from (e.g. `env.reset()`).
          policy_state: the policy state to start from; `()` for stateless
            policies.

        Returns:
          `(time_step, policy_state)`: the last time step and the state the
          policy last returned, to pass to the next `run()`.
        """
        if self._running:
            raise RuntimeError(
                "PyDriver.run() was called while this driver is already running "
                "(from one of its own policy, env or observer callbacks, or another "
                "thread); a driver runs one run() at a time."
            )
        self._running = True
        bar = ProgressBar(total=self._max_steps) if self._progress is True else None
        callback = None if isinstance(self._progress, bool) else self._progress
        progress = bar or callback or None
        try:
            time_step, policy_state, self._last_run_stats = self._core.run(
                time_step, policy_state, progress, self._timing
            )
        finally:
            self._running = False
            if bar is not None:
                bar.close()
        return time_step, policy_state

    @property
    def last_run_stats(self) -> _core.RunStats | None:
        """What the last complete `run()` did: `num_steps`, `num_episodes`,
        `iterations` (policy calls), `seconds`, and `stages` (seconds per
        stage: policy, env, gil_wait, assembly, observers, other) when the
        driver was made with `timing=True`; None before the first run."""
        return self._last_run_stats

    @property
    def last_run_counts(self) -> tuple[int, int]:
        """`(num_steps, num_episodes)` collected by the last complete `run()`."""
        stats = self._last_run_stats
        return (stats.num_steps, stats.num_episodes) if stats else (0, 0)


def _limit(argument: str, value: Any) -> int:
    """A run limit as an int: None and 0 mean unlimited (0), as in TF-Agents.

    Whole floats (``1e6``) are accepted, as TF-Agents compares them as numbers.

    Raises:
      ValueError: naming `argument`, for anything but a whole number of
        magnitude below ``2**63``.
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{argument}` must be a whole number or None; got {value!r}")
    if isinstance(value, numbers.Integral):
        whole = int(value)
    elif math.isfinite(value) and float(value).is_integer():
        whole = int(math.trunc(value))  # a Real promises __trunc__, not __int__
    else:
        raise ValueError(f"`{argument}` must be a whole number or None; got {value!r}")
    if abs(whole) >= 2**63:
        raise ValueError(f"`{argument}` must be below 2**63; got {value!r}")
    return whole

"""Greedy evaluation: the mean return of a policy over K whole episodes.

`evaluate(policy, env)` runs a PyPolicy on a batched env of K
sub-environments with tfdrive's PyDriver and keeps the first episode each
sub-environment finishes: K episodes, none favoured for being short (a run
limited to K episodes would count the short ones first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FirstEpisodeReturns", "evaluate"]

_LAST = 2  # StepType.LAST


class FirstEpisodeReturns:
    """An observer keeping the return of the first episode each of B sub-environments ends.

    Call it with `[B]`-batched trajectories (`reward` `[B]` float, `next_step_type`
    `[B]` int). `returns` is a float64 `[B]` array, NaN until that
    sub-environment's first episode has ended.
    """

    def __init__(self, batch_size: int):
        self._sums = np.zeros(batch_size)
        self.returns = np.full(batch_size, np.nan)

    @property
    def done(self) -> bool:
        """Whether every sub-environment has finished an episode."""
        return not np.isnan(self.returns).any()

    def __call__(self, trajectory: Any) -> None:
        self._sums += np.asarray(trajectory.reward, dtype=np.float64)
        ended = (np.asarray(trajectory.next_step_type) == _LAST) & np.isnan(self.returns)
        self.returns[ended] = self._sums[ended]


def evaluate(policy: Any, env: Any, max_steps: int = 10_000_000) -> np.ndarray:
    """The returns of one episode per sub-environment of `env` under `policy`.

    Args:
      policy: a PyPolicy for the batched `env` (e.g. the agent's greedy policy
        in a `PyTFEagerPolicy`).
      env: a batched PyEnvironment of K sub-environments; it is reset first.
      max_steps: a bound on the env steps (over the batch), against episodes
        that never end.

    Returns:
      A float64 `[K]` array: the return of each sub-environment's first
      episode.

    Raises:
      RuntimeError: when some episode has not ended within `max_steps`.
    """
    from tfdrive.drivers.py_driver import PyDriver

    batch_size = env.batch_size or 1
    returns = FirstEpisodeReturns(batch_size)
    # Chunks of a few policy calls, so that the run stops soon after the last episode ends.
    driver = PyDriver(env, policy, [returns], max_steps=batch_size * 50)
    time_step = env.reset()
    policy_state = policy.get_initial_state(batch_size)
    steps = 0
    while not returns.done:
        if steps >= max_steps:
            raise RuntimeError(
                f"evaluation: {int(np.isnan(returns.returns).sum())} of {batch_size} "
                f"episodes did not end within {max_steps} env steps"
            )
        time_step, policy_state = driver.run(time_step, policy_state)
        steps += driver.last_run_counts[0]
    return returns.returns

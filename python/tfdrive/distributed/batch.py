"""What a worker sends back per round: a trajectory batch with its episode metrics.

`TrajectoryBatch.trajectory` is the `Trajectory` (the policy's
`trajectory_spec` nest) of numpy arrays `[B, T, ...]`: B = the worker env's
batch size (1 for an unbatched env), T = the driver iterations of the round
(boundary transitions LAST -> FIRST included, as TF-Agents' drivers give
them). Each leaf is one C-contiguous array, so Ray's object store hands it
to the learner without a copy (read-only).

`EpisodeAccumulator` turns the `[B, T]` rewards and step types into the
returns and lengths of the episodes that finished in the round, carrying the
unfinished ones over to the next round (as TF-Agents' `AverageReturnMetric`
and `AverageEpisodeLengthMetric` count them: the return sums every reward
since the episode's FIRST step, the length counts its non-boundary steps).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tfdrive.utils import nest

__all__ = ["EpisodeAccumulator", "TrajectoryBatch"]

_FIRST, _LAST = 0, 2


@dataclasses.dataclass
class TrajectoryBatch:
    """One worker's round.

    Attributes:
      worker_index: the worker that collected it (0 .. num_workers - 1).
      policy_version: the version of the published weights it was collected
        with; 0 for the policy as the worker's factory built it.
      trajectory: a `Trajectory` of numpy arrays `[B, T, ...]` (see module).
      num_steps: env steps, as `PyDriver` counts them (boundaries excluded).
      num_episodes: episodes finished in the round, as `PyDriver` counts them.
      episode_returns: float64 `[num finished]`, the return of each episode
        that finished in the round (episodes may have started in an earlier one).
      episode_lengths: int64 `[num finished]`, their lengths in steps.
      seconds: the wall time of the worker's driver run.
      restarts: how often the worker was restarted before this batch came
        back (a failed attempt's partial batch is dropped, never returned).
    """

    worker_index: int
    policy_version: int
    trajectory: Any
    num_steps: int
    num_episodes: int
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    seconds: float
    restarts: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """`(B, T)`: the outer dims of every trajectory leaf."""
        return tuple(self.trajectory.step_type.shape[:2])


class EpisodeAccumulator:
    """Finished-episode returns and lengths from `[B, T]` trajectory batches.

    Args:
      batch_size: B, the rows of every batch.
    """

    def __init__(self, batch_size: int):
        self._returns = np.zeros(batch_size, np.float64)
        self._lengths = np.zeros(batch_size, np.int64)

    def reset(self) -> None:
        """Forgets the episodes in progress (the env was reset)."""
        self._returns[:] = 0
        self._lengths[:] = 0

    def __call__(self, trajectory: Any) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(returns, lengths)` of the episodes finishing in `trajectory`.

        Ordered by time step, then row. Rewards with more than one leaf or
        inner dims are summed per step.
        """
        step_type = np.asarray(trajectory.step_type)
        next_step_type = np.asarray(trajectory.next_step_type)
        rows, steps = step_type.shape[:2]
        reward = sum(
            np.asarray(r, np.float64).reshape(rows, steps, -1).sum(-1)
            for r in nest.flatten(trajectory.reward)
        )
        returns, lengths = [], []
        for t in range(steps):
            first = step_type[:, t] == _FIRST
            self._returns[first] = 0.0
            self._lengths[first] = 0
            self._returns += reward[:, t]
            # A boundary (LAST -> FIRST) is no step of either episode.
            self._lengths += ~((step_type[:, t] == _LAST) & (next_step_type[:, t] == _FIRST))
            last = next_step_type[:, t] == _LAST
            if last.any():
                returns.append(self._returns[last].copy())
                lengths.append(self._lengths[last].copy())
        if not returns:
            return np.zeros(0, np.float64), np.zeros(0, np.int64)
        return np.concatenate(returns), np.concatenate(lengths)

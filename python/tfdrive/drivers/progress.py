"""A tqdm progress bar for long driver runs (steps, steps/s and episodes)."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """Shows a run's progress; the driver calls it as `bar(num_steps, num_episodes)`.

    The driver calls it about every 0.2 s and once when the run ends, with the
    run's totals so far. Needs `tqdm` (a tfdrive dependency), imported only
    when a bar is made.

    Args:
      total: the run's step limit, or None when unlimited.
      desc: the label in front of the bar.
      **tqdm_kwargs: passed on to `tqdm.tqdm` (e.g. `file`, `disable`).
    """

    def __init__(self, total: float | None = None, desc: str = "collect", **tqdm_kwargs: Any):
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=None if total is None or total == float("inf") else int(total),
            desc=desc,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            **tqdm_kwargs,
        )
        self.num_steps = 0
        self.num_episodes = 0

    def __call__(self, num_steps: int, num_episodes: int) -> None:
        self._bar.update(num_steps - self.num_steps)
        self.num_steps, self.num_episodes = num_steps, num_episodes
        self._bar.set_postfix(episodes=num_episodes, refresh=False)

    def close(self) -> None:
        # A batched run overshoots its step limit by up to a batch: the last
        # frame then shows the count reached as 100%, not a bare count.
        if self._bar.total is not None and self._bar.n > self._bar.total:
            self._bar.total = self._bar.n
            self._bar.refresh()
        self._bar.close()

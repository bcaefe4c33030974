"""The learning-curve PNG: evaluation return against env steps and against wall seconds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_learning_curves"]


def plot_learning_curves(
    curves: Mapping[str, Sequence[Any]],
    path: str,
    title: str = "",
    threshold: float | None = None,
) -> str:
    """Writes one PNG with two panels: return vs env steps, and return vs wall seconds.

    Args:
      curves: label -> evaluation points, each with `env_steps`, `seconds` and
        `mean_return` attributes (e.g. `loop.EvalPoint`s); one line per label.
      path: where to write the PNG (its directory must exist).
      title: the figure's title.
      threshold: a return drawn as a dashed line (e.g. the solved level).

    Returns:
      `path`.
    """
    import matplotlib

    matplotlib.use("Agg")  # Files only: no display needed.
    from matplotlib import pyplot as plt

    figure, (by_steps, by_seconds) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for label, points in curves.items():
        steps = [p.env_steps for p in points]
        seconds = [p.seconds for p in points]
        returns = [p.mean_return for p in points]
        by_steps.plot(steps, returns, marker=".", label=label)
        by_seconds.plot(seconds, returns, marker=".", label=label)
    for axes, xlabel in (
        (by_steps, "env steps"),
        (by_seconds, "wall seconds of training (collection and updates)"),
    ):
        if threshold is not None:
            axes.axhline(threshold, color="grey", linestyle="--", linewidth=1, label="solved")
        axes.set_xlabel(xlabel)
        axes.grid(alpha=0.3)
    by_steps.set_ylabel("mean greedy return")
    by_steps.legend(loc="lower right")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

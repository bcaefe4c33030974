"""Shared benchmark plumbing: machine description, interleaved timing, tables.

Every benchmark compares its variants side by side in one process: the
variants run interleaved (A, B, C, A, B, C, ...) for several repeats and the
report gives medians and ratios, since absolute times on a shared machine
mean little.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """Cores, CPU model, Python, numpy and (if imported) TensorFlow versions."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for module in ("numpy", "tensorflow", "tf_agents", "tfdrive", "gymnasium"):
        if module in sys.modules:
            info[module] = getattr(sys.modules[module], "__version__", "?")
    return info


def interleaved(variants: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Runs each variant once per repeat, interleaved; each returns a measurement."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            samples[name].append(run())
    return samples


def per_call_us(fn: Callable[[int], int | None], n: int) -> Callable[[], float]:
    """A variant that times `fn(n)` and returns microseconds per iteration.

    `fn` returns how many iterations it ran (None: `n`), e.g. a driver whose
    step limit excludes boundary transitions runs more iterations than steps.
    """

    def run() -> float:
        start = time.perf_counter()
        iterations = fn(n)
        return (time.perf_counter() - start) / (iterations or n) * 1e6

    return run


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=float))
    return out

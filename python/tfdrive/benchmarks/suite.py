"""`tfdrive bench`: every benchmark, side by side, with tables, JSON and plots.

Sections (each compares its variants interleaved in one process):
1. driver overhead per iteration: tfdrive against a pure-Python loop with
   TF-Agents' semantics (and TF-Agents' PyDriver when importable);
2. native env stepping alone against Gymnasium's SyncVectorEnv (and EnvPool
   when importable);
3. PPO collection on native CartPole per batch size against the policy-only
   ceiling, with the per-stage breakdown (plots: steps/s against batch
   size with the ceiling drawn; stacked stages);
4. the cost of attaching every native metric;
5. Gymnasium CartPoles (1, and 64 batched) under the full stack;
6. the GIL beside a pure-Python thread; 7. memory over a long run.

`--quick` uses fewer sizes, shorter measurements and fewer repeats (a few
minutes on 2 cores).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tfdrive.benchmarks import collection, common, driver_overhead, env_stepping, system


def _section(report: list[str], result: dict[str, Any]) -> None:
    text = f"\n### {result['title']}\n\n{result['table']}\n"
    print(text, flush=True)
    report.append(text)


def main(quick: bool = False, out: str = "bench-results", envpool_python: str | None = None) -> int:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    repeats = 3 if quick else 7
    report: list[str] = []
    results: dict[str, Any] = {}

    overhead = driver_overhead.run(iterations=5000 if quick else 20000, repeats=repeats)
    for result in overhead.values():
        _section(report, result)
    results["driver_overhead"] = overhead

    stepping = env_stepping.run(
        sizes=(1, 256, 4096) if quick else (1, 256, 4096, 65536),
        seconds=0.2 if quick else 0.5,
        repeats=repeats,
        envpool_python=envpool_python,
    )
    _section(report, stepping)
    results["env_stepping"] = stepping

    # Many short alternations: a shared machine's noise averages out.
    sweep = collection.batch_sweep(
        sizes=(16, 256, 4096) if quick else (16, 256, 1024, 4096),
        seconds=0.15 if quick else 0.25,
        repeats=5 if quick else 15,
    )
    _section(report, sweep)
    results["batch_sweep"] = sweep

    observers = collection.observer_overhead(
        seconds=0.15 if quick else 0.25, repeats=9 if quick else 21
    )
    _section(report, observers)
    results["observer_overhead"] = observers

    python_envs = collection.python_envs(iterations=300 if quick else 1000, repeats=repeats)
    _section(report, python_envs)
    results["python_envs"] = python_envs

    gil = system.gil(seconds=1.0 if quick else 2.0, repeats=repeats)
    _section(report, gil)
    results["gil"] = gil

    memory = system.memory(steps=200_000 if quick else 1_000_000)
    _section(report, memory)
    results["memory"] = memory

    machine = common.machine()
    header = f"# tfdrive bench{' --quick' if quick else ''}\n\nmachine: {machine}\n"
    (out_dir / "report.md").write_text(header + "".join(report))
    common.write_json(out_dir / "bench.json", {"quick": quick, "results": results})
    plots = []
    try:
        collection.plot_batch_sweep(sweep, out_dir / "steps_per_s_vs_batch.png")
        collection.plot_breakdown(sweep, out_dir / "stage_breakdown.png")
        plots = ["steps_per_s_vs_batch.png", "stage_breakdown.png"]
        env_stepping.plot(stepping, out_dir / "env_stepping.png")
        plots.append("env_stepping.png")
    except ImportError:
        print("matplotlib is not installed: no plots (pip install matplotlib)")
    print(f"\nmachine: {machine}")
    print(
        f"wrote {out_dir}/report.md, bench.json{''.join(', ' + p for p in plots)} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0

"""Native CartPole stepping alone: tfdrive against EnvPool and Gymnasium.

Steps per second of CartPole-v1 env stepping (random actions, no policy) at
several batch sizes, all variants interleaved in one run (A, B, C, A, B, C,
...) for several repeats; the table gives medians and tfdrive's ratio to
each. Each measurement steps with 16 pre-drawn action batches, cycled, for
about `seconds` after two warm-up steps. Variants:
- `tfdrive`: `tfdrive.environments.native.make('CartPole-v1', B,
  num_threads=T)`, stepped through its public `step()` (a PyEnvironment
  returning a TimeStep); one column per thread count;
- `tfdrive cpu`: the same run measured in CPU time of the whole process
  (what the steps cost whatever else the machine runs);
- `envpool`: EnvPool's CartPole-v1 (`env_type='gymnasium'`, synchronous,
  `num_threads=T`); EnvPool has no wheel in tfdrive's venvs, so it runs in a
  worker process from the Python given by `envpool_python` /
  `--envpool-python` (default `$ENVPOOL_PYTHON`), kept alive for the whole
  run and timed inside the worker; skipped (one line on stderr) if
  unavailable;
- `gym sync`: `gymnasium.vector.SyncVectorEnv` of `gymnasium.make`d envs;
- `gym vector`: Gymnasium's numpy-vectorized `CartPoleVectorEnv`.
Gymnasium's SyncVectorEnv is skipped above `sync_max` (4096) envs (minutes
per point).

Run: python benches/bench_native_envs.py [--sizes 1 256 4096 65536]
  [--threads 1 2] [--repeats 5] [--seconds 0.3] [--envpool-python PATH]
  [--sync-max N] [--out DIR]
Writes DIR/native_envs.json and, with matplotlib, DIR/native_envs.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfdrive.benchmarks import common

# The EnvPool worker: reads "num_envs num_threads seconds" lines, answers a JSON line.
_ENVPOOL_WORKER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
import envpool
print(json.dumps({"envpool": envpool.__version__}), flush=True)
envs = {}
for line in sys.stdin:
    n, t, seconds = line.split()
    n, t, seconds = int(n), int(t), float(seconds)
    key = (n, t)
    if key not in envs:
        envs[key] = envpool.make("CartPole-v1", env_type="gymnasium", num_envs=n,
                                 num_threads=t, seed=0)
        envs[key].reset()
    env = envs[key]
    rng = np.random.default_rng(0)
    actions = [rng.integers(0, 2, n).astype(np.int32) for _ in range(16)]
    for a in actions[:2]:
        env.step(a)
    steps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        for a in actions:
            env.step(a)
        steps += len(actions)
        if time.perf_counter() - start >= seconds:
            break
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    print(json.dumps({"wall": wall, "cpu": cpu, "steps": steps * n}), flush=True)
"""


class EnvPoolWorker:
    """EnvPool in a separate Python (its own venv), driven over pipes."""

    def __init__(self, python: str):
        self.proc = subprocess.Popen(
            [python, "-c", _ENVPOOL_WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are pipes
        self._requests, self._replies = self.proc.stdin, self.proc.stdout
        line = self._replies.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError(f"EnvPool worker ({python}) did not start")
        self.version = json.loads(line)["envpool"]

    def measure(self, n: int, threads: int, seconds: float) -> dict:
        self._requests.write(f"{n} {threads} {seconds}\n")
        self._requests.flush()
        line = self._replies.readline()
        if not line:
            raise RuntimeError("EnvPool worker died")
        return json.loads(line)

    def close(self) -> None:
        try:
            self._requests.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def _resolve_envpool_python(envpool_python: str | None) -> str | None:
    if envpool_python is None:
        envpool_python = os.environ.get("ENVPOOL_PYTHON")
    return envpool_python


def _start_envpool(envpool_python: str | None) -> EnvPoolWorker | None:
    if not envpool_python:
        print(
            "EnvPool unavailable: no Python given (--envpool-python or $ENVPOOL_PYTHON)",
            file=sys.stderr,
        )
        return None
    if not Path(envpool_python).exists():
        print(f"EnvPool unavailable: no Python at {envpool_python!r}", file=sys.stderr)
        return None
    try:
        return EnvPoolWorker(envpool_python)
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        print(f"EnvPool unavailable: {e}", file=sys.stderr)
        return None


def _timed(step, actions, n: int, seconds: float) -> dict:
    """Steps with cycled actions for about `seconds`; returns wall, cpu and steps."""
    for a in actions[:2]:
        step(a)
    steps, start, cpu0 = 0, time.perf_counter(), time.process_time()
    while True:
        for a in actions:
            step(a)
        steps += len(actions)
        if time.perf_counter() - start >= seconds:
            break
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {"wall": wall, "cpu": cpu, "steps": steps * n}


def run(
    sizes: Sequence[int] = (1, 256, 4096, 65536),
    threads: Sequence[int] = (1, 2),
    seconds: float = 0.3,
    repeats: int = 5,
    envpool_python: str | None = None,
    sync_max: int = 4096,
) -> dict[str, Any]:
    """Measures every variant at every size, interleaved.

    Returns `{"title", "table", "results", "envpool", "load_average", ...}`:
    `results` holds one entry per size with each variant's median steps/s
    and raw samples (`{"wall", "cpu", "steps"}` per repeat).
    """
    import gymnasium as gym

    from tfdrive.environments import native

    sizes, threads = list(sizes), list(threads)
    envpool_python = _resolve_envpool_python(envpool_python)
    envpool = _start_envpool(envpool_python)
    try:
        rng = np.random.default_rng(0)
        variants: dict[tuple[int, str], Any] = {}
        for n in sizes:
            actions64 = [rng.integers(0, 2, n).astype(np.int64) for _ in range(16)]
            actions32 = [a.astype(np.int32) for a in actions64]
            for t in threads:
                env = native.make("CartPole-v1", n, seed=0, num_threads=t)
                env.reset()
                variants[(n, f"tfdrive {t}T")] = lambda env=env, a=actions64, n=n: _timed(
                    env.step, a, n, seconds
                )
                if envpool is not None:
                    variants[(n, f"envpool {t}T")] = lambda n=n, t=t: envpool.measure(n, t, seconds)
            if n <= sync_max:
                sync = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
                sync.reset(seed=0)
                variants[(n, "gym sync")] = lambda e=sync, a=actions32, n=n: _timed(
                    e.step, a, n, seconds
                )
            vec = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
            vec.reset(seed=0)
            variants[(n, "gym vector")] = lambda e=vec, a=actions32, n=n: _timed(
                e.step, a, n, seconds
            )

        load_before = os.getloadavg()
        samples: dict[tuple[int, str], list[dict]] = {k: [] for k in variants}
        for _ in range(repeats):
            for key, measure in variants.items():
                samples[key].append(measure())
        load_after = os.getloadavg()
    finally:
        if envpool is not None:
            envpool.close()

    def rate(key: tuple[int, str], clock: str) -> float:
        return common.median([s["steps"] / s[clock] for s in samples[key]])

    names = sorted({name for _, name in variants}, key=lambda s: (s.split()[0] != "tfdrive", s))
    headers = ["envs", *[f"{n} (M steps/s)" for n in names]]
    headers += [f"tfdrive {t}T cpu (M steps/s of CPU)" for t in threads]
    best_t = max(threads)
    comparisons = [n for n in names if not n.startswith("tfdrive")]
    headers += [f"tfdrive {best_t}T / {c}" for c in comparisons]
    rows, results = [], []
    for n in sizes:
        row: list[object] = [n]
        entry: dict[str, object] = {"num_envs": n}
        for name in names:
            if (n, name) in samples:
                r = rate((n, name), "wall")
                row.append(r / 1e6)
                entry[name] = {"steps_per_s": r, "samples": samples[(n, name)]}
            else:
                row.append("—")
        for t in threads:
            r = rate((n, f"tfdrive {t}T"), "cpu")
            row.append(r / 1e6)
            entry[f"tfdrive {t}T cpu_steps_per_s"] = r
        ours = rate((n, f"tfdrive {best_t}T"), "wall")
        for c in comparisons:
            row.append(f"{ours / rate((n, c), 'wall'):,.0f}x" if (n, c) in samples else "—")
        rows.append(row)
        results.append(entry)

    version = envpool.version if envpool is not None else None
    title = f"Native CartPole-v1 stepping alone ({repeats} interleaved repeats, medians)"
    return {
        "title": title,
        "table": common.table(headers, rows),
        "results": results,
        "variants": names,
        "sizes": sizes,
        "threads": threads,
        "seconds": seconds,
        "repeats": repeats,
        "sync_max": sync_max,
        "envpool": version,
        "envpool_python": envpool_python if envpool is not None else None,
        "load_average": [list(load_before), list(load_after)],
    }


def _label(variant: str) -> str:
    """A legend label that explains a variant's short name ("tfdrive 2T", "gym sync")."""
    library, _, kind = variant.partition(" ")
    if kind.endswith("T") and kind[:-1].isdigit():
        threads = int(kind[:-1])
        engine = "native Rust envs" if library == "tfdrive" else "C++ envs"
        return f"{library}: {engine}, {threads} thread{'s' if threads > 1 else ''}"
    return {
        "gym sync": "Gymnasium SyncVectorEnv (one Python env each)",
        "gym vector": "Gymnasium CartPoleVectorEnv (numpy-vectorized)",
    }.get(variant, variant)


def plot(result: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Steps/s against the number of envs, one line per variant (log-log).

    Raises ImportError when matplotlib is not installed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in result["variants"]:
        points = [(e["num_envs"], e[name]["steps_per_s"]) for e in result["results"] if name in e]
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", label=_label(name))
    ax.set_xscale("log", base=2)  # batch sizes are powers of two, as in the other plots
    ax.set_yscale("log")
    ax.set(
        xlabel="number of envs (batch size)",
        ylabel="env steps/s",
        title="CartPole-v1: env stepping alone (random actions, no policy)",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 256, 4096, 65536])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument(
        "--envpool-python",
        default=None,
        help="default: $ENVPOOL_PYTHON",
    )
    parser.add_argument("--sync-max", type=int, default=4096)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)

    result = run(
        sizes=args.sizes,
        threads=args.threads,
        seconds=args.seconds,
        repeats=args.repeats,
        envpool_python=args.envpool_python,
        sync_max=args.sync_max,
    )
    load_before, load_after = result["load_average"]
    print(f"# {result['title']}")
    print(f"machine: {common.machine()}")
    if result["envpool"] is not None:
        print(f"envpool {result['envpool']} (worker: {result['envpool_python']})")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print(result["table"])
    out = common.write_json(
        Path(args.out) / "native_envs.json",
        {
            "benchmark": "native_envs",
            "args": vars(args),
            "envpool": result["envpool"],
            "load_average": result["load_average"],
            "results": result["results"],
        },
    )
    print(f"wrote {out}")
    try:
        png = plot(result, Path(args.out) / "native_envs.png")
    except ImportError:
        return
    print(f"wrote {png}")


if __name__ == "__main__":
    main()

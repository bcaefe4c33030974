"""Native CartPole stepping alone: tfdrive against EnvPool and Gymnasium.

Steps per second of CartPole-v1 env stepping (random actions, no policy) at
several batch sizes, all variants interleaved in one run (A, B, C, A, B, C,
...) for several repeats; the table gives medians and tfdrive's ratio to
each. Variants:
- `tfdrive`: `tfdrive.environments.native.make('CartPole-v1', B,
  num_threads=T)`, stepped through its public `step()` (a PyEnvironment
  returning a TimeStep); one column per thread count;
- `tfdrive cpu`: the same run measured in CPU time of the whole process
  (what the steps cost whatever else the machine runs);
- `envpool`: EnvPool's CartPole-v1 (`env_type='gymnasium'`, synchronous,
  `num_threads=T`); EnvPool has no wheel in tfdrive's venvs, so it runs in a
  worker process from the Python given by `--envpool-python` (or
  `$ENVPOOL_PYTHON`), kept alive for the whole run; skipped if unavailable;
- `gym sync`: `gymnasium.vector.SyncVectorEnv` of `gymnasium.make`d envs;
- `gym vector`: Gymnasium's numpy-vectorized `CartPoleVectorEnv`.
Gymnasium's SyncVectorEnv is skipped above 4096 envs (minutes per point).

Run: python benches/bench_native_envs.py [--sizes 1 256 4096 65536]
  [--threads 1 2] [--repeats 5] [--seconds 0.3] [--envpool-python PATH] [--out DIR]
Writes DIR/native_envs.json and, with matplotlib, DIR/native_envs.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import gymnasium as gym  # noqa: E402

import benchlib  # noqa: E402
import tfdrive  # noqa: E402, F401
from tfdrive.environments import native  # noqa: E402

DEFAULT_ENVPOOL_PYTHON = "/work/venvs/envpool-bench/bin/python"

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
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"EnvPool worker ({python}) did not start")
        self.version = json.loads(line)["envpool"]

    def measure(self, n: int, threads: int, seconds: float) -> dict:
        self.proc.stdin.write(f"{n} {threads} {seconds}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("EnvPool worker died")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 256, 4096, 65536])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument(
        "--envpool-python", default=os.environ.get("ENVPOOL_PYTHON", DEFAULT_ENVPOOL_PYTHON)
    )
    parser.add_argument("--sync-max", type=int, default=4096)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()

    envpool = None
    if args.envpool_python and Path(args.envpool_python).exists():
        try:
            envpool = EnvPoolWorker(args.envpool_python)
        except (OSError, RuntimeError, ValueError) as e:
            print(f"EnvPool unavailable: {e}", file=sys.stderr)
    else:
        print(f"EnvPool unavailable: no Python at {args.envpool_python!r}", file=sys.stderr)

    rng = np.random.default_rng(0)
    variants: dict[tuple[int, str], object] = {}
    for n in args.sizes:
        actions64 = [rng.integers(0, 2, n).astype(np.int64) for _ in range(16)]
        actions32 = [a.astype(np.int32) for a in actions64]
        for t in args.threads:
            env = native.make("CartPole-v1", n, seed=0, num_threads=t)
            env.reset()
            variants[(n, f"tfdrive {t}T")] = lambda env=env, a=actions64, n=n: _timed(
                env.step, a, n, args.seconds
            )
            if envpool is not None:
                variants[(n, f"envpool {t}T")] = lambda n=n, t=t: envpool.measure(
                    n, t, args.seconds
                )
        if n <= args.sync_max:
            sync = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(n)])
            sync.reset(seed=0)
            variants[(n, "gym sync")] = lambda e=sync, a=actions32, n=n: _timed(
                e.step, a, n, args.seconds
            )
        vec = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
        vec.reset(seed=0)
        variants[(n, "gym vector")] = lambda e=vec, a=actions32, n=n: _timed(
            e.step, a, n, args.seconds
        )

    load_before = os.getloadavg()
    samples: dict[tuple[int, str], list[dict]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for key, run in variants.items():
            samples[key].append(run())
    load_after = os.getloadavg()
    if envpool is not None:
        envpool.close()

    def rate(key: tuple[int, str], clock: str) -> float:
        return benchlib.median([s["steps"] / s[clock] for s in samples[key]])

    names = sorted({name for _, name in variants}, key=lambda s: (s.split()[0] != "tfdrive", s))
    headers = ["envs", *[f"{n} (M steps/s)" for n in names]]
    headers += [f"tfdrive {t}T cpu (M steps/s of CPU)" for t in args.threads]
    best_t = max(args.threads)
    comparisons = [n for n in names if not n.startswith("tfdrive")]
    headers += [f"tfdrive {best_t}T / {c}" for c in comparisons]
    rows, results = [], []
    for n in args.sizes:
        row: list[object] = [n]
        entry: dict[str, object] = {"num_envs": n}
        for name in names:
            if (n, name) in samples:
                r = rate((n, name), "wall")
                row.append(r / 1e6)
                entry[name] = {"steps_per_s": r, "samples": samples[(n, name)]}
            else:
                row.append("—")
        for t in args.threads:
            r = rate((n, f"tfdrive {t}T"), "cpu")
            row.append(r / 1e6)
            entry[f"tfdrive {t}T cpu_steps_per_s"] = r
        ours = rate((n, f"tfdrive {best_t}T"), "wall")
        for c in comparisons:
            row.append(f"{ours / rate((n, c), 'wall'):,.0f}x" if (n, c) in samples else "—")
        rows.append(row)
        results.append(entry)

    print(f"# Native CartPole-v1 stepping alone ({args.repeats} interleaved repeats, medians)")
    print(f"machine: {benchlib.machine()}")
    if envpool is not None:
        print(f"envpool {envpool.version} (worker: {args.envpool_python})")
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print(benchlib.table(headers, rows))
    out = benchlib.write_json(
        Path(args.out) / "native_envs.json",
        {
            "benchmark": "native_envs",
            "args": vars(args),
            "envpool": envpool.version if envpool is not None else None,
            "load_average": [load_before, load_after],
            "results": results,
        },
    )
    print(f"wrote {out}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in names:
        xs = [n for n in args.sizes if (n, name) in samples]
        ax.plot(xs, [rate((n, name), "wall") for n in xs], marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="envs", ylabel="steps/s", title="CartPole-v1")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(Path(args.out) / "native_envs.png", dpi=120)
    print(f"wrote {Path(args.out) / 'native_envs.png'}")


if __name__ == "__main__":
    main()

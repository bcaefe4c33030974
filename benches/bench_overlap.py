"""Overlapped stepping: OverlappedPyDriver against PyDriver, with a PPO (64,64) policy.

Each case runs the same envs and policy both ways, interleaved repeats,
medians of env steps/s:

- `python`: 64 Gymnasium CartPoles in process (`BatchedPyEnvironment`):
  PyDriver over 64 vs OverlappedPyDriver over 2 x 32 (a stepping thread);
- `slow`: 8 slow CartPoles (+ ~200 µs numpy work per step) in worker
  processes: PyDriver over one `ParallelPyEnvironment` (8 envs, 2 workers)
  vs OverlappedPyDriver over two (4 envs, 1 worker each);
- `native`: native CartPole, PyDriver over N vs OverlappedPyDriver over
  2 x N/2 (N = 256, 4096), plain graph and XLA.

Run: python benches/bench_overlap.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


from tfdrive.benchmarks import common  # noqa: E402


def ppo_policy(env, jit_compile: bool = False):
    from tfdrive.builders import build_ppo
    from tfdrive.policies.py_tf_eager_policy import PyTFEagerPolicy

    policy = build_ppo(env.time_step_spec(), env.action_spec(), (64, 64), seed=0)
    kwargs = {"jit_compile": True} if jit_compile else {}
    return PyTFEagerPolicy(policy, use_tf_function=True, batch_time_steps=False, **kwargs)


def plain(env, policy, steps: int):
    from tfdrive.drivers.py_driver import PyDriver

    driver = PyDriver(env, policy, [], max_steps=steps)
    time_step = env.reset()
    driver.run(time_step, policy.get_initial_state(env.batch_size))  # warm-up, traces

    def run() -> float:
        start = time.perf_counter()
        driver.run(env.current_time_step(), policy.get_initial_state(env.batch_size))
        return driver.last_run_counts[0] / (time.perf_counter() - start)

    return run


def overlapped(groups, policy, steps: int):
    from tfdrive.drivers.overlapped_driver import OverlappedPyDriver

    driver = OverlappedPyDriver(groups, policy, [], max_steps=steps)
    state = {"time_steps": [g.reset() for g in groups]}
    state["time_steps"], _ = driver.run(state["time_steps"])  # warm-up

    def run() -> float:
        start = time.perf_counter()
        state["time_steps"], _ = driver.run(state["time_steps"])
        return driver.last_run_counts[0] / (time.perf_counter() - start)

    return run


def case_python(steps: int) -> dict:
    from tfdrive.environments import suite_gymnasium
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment

    def envs(n, offset=0):
        return BatchedPyEnvironment([suite_gymnasium.load("CartPole-v1") for _ in range(n)])

    whole = envs(64)
    policy = ppo_policy(whole)
    return {
        "PyDriver, 64 envs": plain(whole, policy, steps),
        "OverlappedPyDriver, 2 x 32 envs": overlapped([envs(32), envs(32)], policy, steps),
    }


def case_slow(steps: int, closers: list) -> dict:
    from bench_parallel_env import calibrate, tfdrive_env
    from tfdrive.environments.parallel_py_environment import ParallelPyEnvironment

    iterations = calibrate(200.0)
    make = [lambda s=s: tfdrive_env(iterations, s) for s in range(8)]
    whole = ParallelPyEnvironment(make, num_workers=2)
    halves = [
        ParallelPyEnvironment(make[:4], num_workers=1),
        ParallelPyEnvironment(make[4:], num_workers=1),
    ]
    closers.extend([whole, *halves])
    policy = ppo_policy(whole)
    return {
        "PyDriver, ParallelPy 8 envs / 2 workers": plain(whole, policy, steps),
        "OverlappedPyDriver, 2 x ParallelPy 4 envs / 1 worker": overlapped(halves, policy, steps),
    }


def case_native(n: int, steps: int, jit: bool) -> dict:
    from tfdrive.environments import native

    whole = native.make("CartPole-v1", num_envs=n, seed=0)
    policy = ppo_policy(whole, jit_compile=jit)
    tag = "XLA" if jit else "graph"
    halves = [native.make("CartPole-v1", num_envs=n // 2, seed=s) for s in (1, 2)]
    return {
        f"PyDriver, {n} native, {tag}": plain(whole, policy, steps),
        f"OverlappedPyDriver, 2 x {n // 2} native, {tag}": overlapped(halves, policy, steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", nargs="+", default=["python", "slow", "native"])
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    closers: list = []
    tables, results = [], {}
    try:
        cases = []
        if "python" in args.cases:
            cases.append(
                ("64 Gymnasium CartPoles in process", case_python(2000 if args.quick else 6000))
            )
        if "slow" in args.cases:
            cases.append(
                (
                    "8 slow CartPoles (~200 µs/step) in worker processes",
                    case_slow(800 if args.quick else 2400, closers),
                )
            )
        if "native" in args.cases:
            for n in (256, 4096):
                for jit in (False, True):
                    cases.append(
                        (
                            f"native CartPole, {n} envs",
                            case_native(n, (20 if args.quick else 60) * n, jit),
                        )
                    )
        for title, variants in cases:
            samples = common.interleaved(variants, repeats)
            medians = {k: common.median(v) for k, v in samples.items()}
            names = list(variants)
            base = medians[names[0]]
            rows = [[name, medians[name], medians[name] / base] for name in names]
            table = common.table([f"{title}, PPO 64x64", "env steps/s", "x PyDriver"], rows)
            tables.append(table)
            results[title + " " + names[0]] = {"samples": samples, "medians": medians}
            print(f"\n{table}", flush=True)
    finally:
        for env in closers:
            env.close()
    print("\nmachine:", common.machine())
    print("wrote", common.write_json(Path(args.out) / "overlap.json", results))


if __name__ == "__main__":
    main()

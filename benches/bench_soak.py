"""Soak: memory and threads stay flat over millions of steps and many create/destroy cycles.

Run: python benches/bench_soak.py [--steps 10000000] [--cycles 100000] [--num-envs 256]

1. Collection: `--steps` native CartPole steps on `--num-envs` envs with a
   random numpy policy, every native observer (the six episode metrics and a
   trajectory buffer) and a Python observer attached; the process's RSS (MiB)
   and thread count are sampled every tenth of the run.
2. Churn: `--cycles` cycles, each creating and dropping a native env (two
   threads), a trajectory buffer, a metric and a driver that runs one step;
   RSS and threads sampled every tenth of the cycles.

A leak shows as RSS or threads growing from sample to sample after warm-up.
This is a benchmark, not a test: it prints tables and asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import threading
import time

from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import native
from tfdrive.metrics import py_metrics
from tfdrive.policies.random_py_policy import RandomPyPolicy
from tfdrive.replay_buffers import TrajectoryBuffer


def rss_mib() -> float:
    """Resident set size of this process, in MiB (Linux /proc)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def threads() -> int:
    return len(os.listdir(f"/proc/{os.getpid()}/task"))


def every_metric(batch_size: int) -> list:
    return [
        py_metrics.AverageReturnMetric(batch_size=batch_size),
        py_metrics.AverageEpisodeLengthMetric(batch_size=batch_size),
        py_metrics.MaxReturnMetric(batch_size=batch_size),
        py_metrics.MinReturnMetric(batch_size=batch_size),
        py_metrics.EnvironmentSteps(),
        py_metrics.NumberOfEpisodes(),
    ]


def soak_collection(steps: int, num_envs: int) -> list[tuple]:
    env = native.make("CartPole-v1", num_envs, seed=0, num_threads=2)
    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0, outer_dims=(num_envs,))
    buffer = TrajectoryBuffer(policy.collect_data_spec, batch_size=num_envs, max_length=1000)
    seen = [0]

    def python_observer(trajectory):
        seen[0] += trajectory.step_type.shape[0]

    metrics = every_metric(num_envs)
    chunk = max(steps // 10, num_envs)
    driver = PyDriver(env, policy, [*metrics, buffer, python_observer], max_steps=chunk)
    time_step, state = env.reset(), ()
    rows = [(0, 0.0, rss_mib(), threads())]
    start = time.perf_counter()
    done = 0
    while done < steps:
        time_step, state = driver.run(time_step, state)
        done += driver.last_run_counts[0]
        rows.append((done, time.perf_counter() - start, rss_mib(), threads()))
    return rows


def soak_churn(cycles: int) -> list[tuple]:
    rows = [(0, 0.0, rss_mib(), threads())]
    start = time.perf_counter()
    for cycle in range(1, cycles + 1):
        env = native.make("CartPole-v1", 4, seed=cycle, num_threads=2)
        policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=0, outer_dims=(4,))
        buffer = TrajectoryBuffer(policy.collect_data_spec, batch_size=4, max_length=8)
        metric = py_metrics.AverageReturnMetric(batch_size=4)
        PyDriver(env, policy, [buffer, metric], max_steps=1).run(env.reset())
        del env, policy, buffer, metric
        if cycle % max(cycles // 10, 1) == 0:
            gc.collect()
            rows.append((cycle, time.perf_counter() - start, rss_mib(), threads()))
    return rows


def print_table(title: str, unit: str, rows: list[tuple]) -> None:
    print(f"\n{title}\n| {unit} | seconds | RSS MiB | threads |\n|---:|---:|---:|---:|")
    for count, seconds, rss, n_threads in rows:
        print(f"| {count:,} | {seconds:.1f} | {rss:.1f} | {n_threads} |")
    warm = rows[len(rows) // 2]
    print(
        f"RSS growth over the second half: {rows[-1][2] - warm[2]:+.1f} MiB; "
        f"threads at the end: {rows[-1][3]} (start {rows[0][3]})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000_000)
    parser.add_argument("--cycles", type=int, default=100_000)
    parser.add_argument("--num-envs", type=int, default=256)
    args = parser.parse_args()
    print(f"pid {os.getpid()}, Python threads {threading.active_count()}")
    print_table(
        f"Collection: {args.steps:,} native CartPole steps on {args.num_envs} envs, "
        "6 metrics + buffer + Python observer",
        "steps",
        soak_collection(args.steps, args.num_envs),
    )
    print_table(
        f"Churn: {args.cycles:,} create/run/drop cycles (env, buffer, metric, driver)",
        "cycles",
        soak_churn(args.cycles),
    )


if __name__ == "__main__":
    main()

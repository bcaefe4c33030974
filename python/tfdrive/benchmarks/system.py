"""How the driver shares the process: the GIL beside a Python thread, and memory.

- `gil`: a pure-Python thread (a counting loop) and a driver collecting with
  a PPO policy on native CartPoles, each alone and then together; reports
  what share of its solo speed each keeps.
- `memory`: resident memory over a long run with a counting observer,
  sampled after a warm-up and at the end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from tfdrive.benchmarks import common


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


class _Spinner(threading.Thread):
    """Counts in pure Python until stopped; `rate` = iterations per second."""

    def __init__(self):
        super().__init__(daemon=True)
        self._stop_event = threading.Event()
        self.count = 0
        self.seconds = 0.0

    def run(self) -> None:
        start = time.perf_counter()
        n = 0
        stop = self._stop_event
        while not stop.is_set():
            for _ in range(1000):
                n += 1
        self.count = n
        self.seconds = time.perf_counter() - start

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.count / self.seconds


def _spin_alone(seconds: float) -> float:
    spinner = _Spinner()
    spinner.start()
    time.sleep(seconds)
    return spinner.stop()


def gil(batch=4096, hidden=(64, 64), seconds=2.0, repeats=3, switch_intervals=(None, 0.0005)):
    """A Python thread and the driver, alone and together, per GIL switch interval.

    `switch_intervals`: values for `sys.setswitchinterval` (None: the
    process's own, 5 ms by default), restored afterwards.
    """
    from tfdrive.benchmarks.collection import NativeSetup

    # Short runs, repeated for `seconds`: a driver slowed down by the thread
    # still finishes each measurement in about `seconds`.
    collector = NativeSetup(batch, hidden).collector(seconds=0.05)
    collector.run()
    original = sys.getswitchinterval()
    m = common.median
    rows, results = [], {}
    try:
        for interval in switch_intervals:
            sys.setswitchinterval(original if interval is None else interval)
            samples = {k: [] for k in ("thread", "driver", "thread_with", "driver_with", "cores")}
            for _ in range(repeats):
                samples["thread"].append(_spin_alone(seconds))
                wall, cpu = time.perf_counter(), time.process_time()
                samples["driver"].append(collector.steps_per_s_over(seconds))
                samples["cores"].append((time.process_time() - cpu) / (time.perf_counter() - wall))
                spinner = _Spinner()
                spinner.start()
                samples["driver_with"].append(collector.steps_per_s_over(seconds))
                samples["thread_with"].append(spinner.stop())
            label = f"{sys.getswitchinterval() * 1e3:g} ms"
            rows.append(
                [
                    label,
                    m(samples["thread"]),
                    m(samples["thread_with"]),
                    f"{m(samples['thread_with']) / m(samples['thread']):.0%}",
                    m(samples["driver"]),
                    m(samples["driver_with"]),
                    f"{m(samples['driver_with']) / m(samples['driver']):.0%}",
                    f"{m(samples['cores']):.2f}",
                ]
            )
            results[label] = samples
    finally:
        sys.setswitchinterval(original)
    table = common.table(
        [
            "switch interval",
            "thread alone (loops/s)",
            "thread beside driver",
            "thread kept",
            "driver alone (steps/s)",
            "driver beside thread",
            "driver kept",
            "cores the driver uses alone",
        ],
        rows,
    )
    title = (
        f"GIL: a pure-Python thread beside PPO collection on {batch} native CartPoles "
        f"({os.cpu_count()} cores), medians of {repeats}"
    )
    return {"title": title, "table": table, "results": results}


def memory(steps=1_000_000, samples=10) -> dict:
    """Resident memory across a long run of the counting env with a counting observer."""
    from tfdrive.benchmarks.driver_overhead import CountingEnv, NumpyPolicy
    from tfdrive.drivers.py_driver import PyDriver

    class Count:
        n = 0

        def __call__(self, traj: Any) -> None:
            self.n += 1

    env, policy, counter = CountingEnv(), NumpyPolicy(), Count()
    chunk = steps // samples
    driver = PyDriver(env, policy, [counter], max_steps=chunk)
    time_step, state = env.reset(), ()
    rss = []
    for _ in range(samples):
        time_step, state = driver.run(time_step, state)
        rss.append(_rss_bytes())
    growth = rss[-1] - rss[0]  # the first chunk is the warm-up
    rows = [[i * chunk + chunk, r / 2**20] for i, r in enumerate(rss)]
    table = common.table(["steps so far", "resident MiB"], rows)
    title = (
        f"memory: {steps:,} steps with a counting observer; growth after warm-up "
        f"{growth / 2**20:+.2f} MiB ({counter.n:,} trajectories observed)"
    )
    return {"title": title, "table": table, "results": {"rss_bytes": rss, "growth_bytes": growth}}

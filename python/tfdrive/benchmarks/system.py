"""How the driver shares the process: the GIL beside a Python thread, and memory.

- `gil`: a pure-Python thread (a counting loop) and a driver collecting with
  a PPO policy on native CartPoles, each alone and then together; reports
  what share of its solo speed each keeps.
- `memory`: resident memory over a long run with a counting observer,
  sampled after a warm-up and at the end.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tfdrive.benchmarks import common


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

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


def gil(batch=256, hidden=(64, 64), seconds=2.0, repeats=3) -> dict:
    """A Python thread and the driver, alone and together."""
    from tfdrive.benchmarks.collection import _Collector, _ppo_stack
    from tfdrive.environments import native

    env = native.make("CartPole-v1", batch, seed=0)
    policy = _ppo_stack(env, hidden)
    time_step = env.reset()
    state = policy.get_initial_state(batch)
    policy.action(time_step, state)
    start = time.perf_counter()
    for _ in range(5):
        policy.action(time_step, state)
    per_call = (time.perf_counter() - start) / 5
    collector = _Collector(env, policy, [], max_steps=int(seconds / per_call) * batch)
    collector.run()

    def together() -> tuple[float, float]:
        spinner = _Spinner()
        spinner.start()
        driver_rate = collector.steps_per_s()
        return spinner.stop(), driver_rate

    solo_thread, solo_driver, both_thread, both_driver = [], [], [], []
    for _ in range(repeats):
        solo_thread.append(_spin_alone(seconds))
        solo_driver.append(collector.steps_per_s())
        t, d = together()
        both_thread.append(t)
        both_driver.append(d)
    m = common.median
    rows = [
        [
            "Python thread (loop iterations/s)",
            m(solo_thread),
            m(both_thread),
            f"{m(both_thread) / m(solo_thread):.0%}",
        ],
        [
            "driver (env steps/s)",
            m(solo_driver),
            m(both_driver),
            f"{m(both_driver) / m(solo_driver):.0%}",
        ],
    ]
    table = common.table(["who", "alone", "together", "kept"], rows)
    title = f"GIL: a pure-Python thread beside PPO collection on {batch} native CartPoles"
    return {
        "title": title,
        "table": table,
        "results": {
            "thread_alone": solo_thread,
            "thread_together": both_thread,
            "driver_alone": solo_driver,
            "driver_together": both_driver,
        },
    }


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

"""Slow Python envs across processes: ParallelPyEnvironment against the alternatives.

The env is Gymnasium's CartPole plus a fixed amount of numpy work per step
(calibrated once to about 200 µs on this machine, then the same iteration
count everywhere), the kind of env where one core is not enough. Each
variant steps 8 envs driven by a uniform random policy, interleaved
repeats, medians:

- tfdrive `BatchedPyEnvironment` (in process) with tfdrive's PyDriver;
- tfdrive `ParallelPyEnvironment` with 1, 2, 4 and 8 worker processes;
- Gymnasium's `AsyncVectorEnv(shared_memory=True)` (one process per env),
  stepped by a Python loop;
- TF-Agents 0.19's `ParallelPyEnvironment` (one process per env, pipes)
  with TF-Agents' PyDriver, when tf_agents is installed (compat stack).

Run: python benches/bench_parallel_env.py [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the work is single-threaded everywhere

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.envs.classic_control import CartPoleEnv  # noqa: E402

from tfdrive.benchmarks import common  # noqa: E402

NUM_ENVS = 8


def work(iterations: int, state: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A fixed amount of numpy work: `iterations` small matrix products."""
    for _ in range(iterations):
        state = np.tanh(state @ weights)
    return state


def _burn(_: int = 0) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.perf_counter() - start


def host_parallelism() -> float:
    """How many cores two busy processes get right now (2.0 on an idle 2-core host).

    This VM shares its host: the figure says what ceiling a 2-worker
    speed-up had during the run.
    """
    import multiprocessing

    alone = min(_burn() for _ in range(3))
    with multiprocessing.Pool(2) as pool:
        together = max(max(pool.map(_burn, [0, 1])) for _ in range(3))
    return 2 * alone / together


def calibrate(target_us: float = 200.0) -> int:
    """The iteration count of `work` that takes about `target_us` here (median of 7)."""
    state, weights = np.ones((8, 16)), np.eye(16) * 0.5
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        work(1000, state, weights)
        samples.append((time.perf_counter() - start) / 1000 * 1e6)
    return max(1, round(target_us / float(np.median(samples))))


class SlowCartPole(gym.Wrapper):
    """Gymnasium CartPole that does `iterations` of numpy work per step."""

    def __init__(self, iterations: int, seed: int = 0):
        super().__init__(CartPoleEnv())
        self._iterations = iterations
        self._state, self._weights = np.ones((8, 16)), np.eye(16) * 0.5
        self.env.reset(seed=seed)

    def step(self, action):
        work(self._iterations, self._state, self._weights)
        return self.env.step(action)


def tfdrive_env(iterations: int, seed: int):
    from tfdrive.environments.gymnasium_wrapper import GymnasiumWrapper

    return GymnasiumWrapper(SlowCartPole(iterations, seed))


def tf_agents_env(iterations: int, seed: int):
    """The same env for TF-Agents: its own PyEnvironment around gymnasium's CartPole."""
    from tf_agents.environments import py_environment
    from tf_agents.specs import array_spec
    from tf_agents.trajectories import time_step as ts

    class SlowCartPoleTFA(py_environment.PyEnvironment):
        def __init__(self):
            super().__init__()
            self._env = SlowCartPole(iterations, seed)
            self._done = True

        def observation_spec(self):
            return array_spec.BoundedArraySpec((4,), np.float32, -np.inf, np.inf)

        def action_spec(self):
            return array_spec.BoundedArraySpec((), np.int64, 0, 1)

        def _reset(self):
            self._done = False
            return ts.restart(self._env.reset()[0])

        def _step(self, action):
            if self._done:
                return self.reset()
            observation, reward, terminated, truncated, _ = self._env.step(int(action))
            self._done = terminated or truncated
            if terminated:
                return ts.termination(observation, reward)
            if truncated:
                return ts.truncation(observation, reward)
            return ts.transition(observation, reward)

    return SlowCartPoleTFA()


def measure_tfdrive(env, steps: int) -> float:
    from tfdrive.drivers.py_driver import PyDriver
    from tfdrive.policies.random_py_policy import RandomPyPolicy

    policy = RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), seed=0, outer_dims=(env.batch_size,)
    )
    driver = PyDriver(env, policy, [], max_steps=steps)
    time_step = env.reset()
    start = time.perf_counter()
    driver.run(time_step)
    return driver.last_run_stats.num_steps / (time.perf_counter() - start)


def measure_gym_async(envs, steps: int) -> float:
    rng = np.random.default_rng(0)
    envs.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps // NUM_ENVS):
        envs.step(rng.integers(0, 2, NUM_ENVS))
    return (steps // NUM_ENVS) * NUM_ENVS / (time.perf_counter() - start)


def measure_tf_agents(env, steps: int) -> float:
    from tf_agents.drivers.py_driver import PyDriver
    from tf_agents.policies.random_py_policy import RandomPyPolicy

    policy = RandomPyPolicy(env.time_step_spec(), env.action_spec(), outer_dims=(NUM_ENVS,))
    counter = {"steps": 0}

    def count(trajectory):
        counter["steps"] += int(np.sum(~trajectory.is_boundary()))

    driver = PyDriver(env, policy, [count], max_steps=steps)
    time_step = env.reset()
    start = time.perf_counter()
    driver.run(time_step)
    return counter["steps"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench-results")
    parser.add_argument("--work-us", type=float, default=200.0)
    args = parser.parse_args()
    from tfdrive.environments.batched_py_environment import BatchedPyEnvironment
    from tfdrive.environments.parallel_py_environment import ParallelPyEnvironment

    iterations = calibrate(args.work_us)
    steps = 800 if args.quick else 2400
    repeats = 3 if args.quick else 5
    constructors = [lambda s=s: tfdrive_env(iterations, s) for s in range(NUM_ENVS)]
    envs = {
        "tfdrive BatchedPyEnvironment (in process)": BatchedPyEnvironment(
            [c() for c in constructors]
        )
    }
    workers = (1, 2, 4, 8)
    for w in workers:
        envs[f"tfdrive ParallelPyEnvironment, {w} workers"] = ParallelPyEnvironment(
            constructors, num_workers=w
        )
    gym_async = gym.vector.AsyncVectorEnv(
        [lambda s=s: SlowCartPole(iterations, s) for s in range(NUM_ENVS)], shared_memory=True
    )
    variants = {name: (lambda e=e: measure_tfdrive(e, steps)) for name, e in envs.items()}
    variants["Gymnasium AsyncVectorEnv(shared_memory=True), 8 processes"] = lambda: (
        measure_gym_async(gym_async, steps)
    )
    tfa_env = None
    try:
        from tf_agents.environments import parallel_py_environment as tfa_parallel
        from tf_agents.system import system_multiprocessing

        system_multiprocessing.enable_interactive_mode()
        tfa_env = tfa_parallel.ParallelPyEnvironment(
            [lambda s=s: tf_agents_env(iterations, s) for s in range(NUM_ENVS)]
        )
        variants["TF-Agents ParallelPyEnvironment, 8 processes"] = lambda: measure_tf_agents(
            tfa_env, steps
        )
    except ImportError:
        print("tf_agents is not installed: no TF-Agents column")
    parallelism = [host_parallelism()]
    try:
        samples = common.interleaved(variants, repeats)
        parallelism.append(host_parallelism())
    finally:
        for env in list(envs.values()) + ([tfa_env] if tfa_env else []):
            env.close()
        gym_async.close()
    medians = {name: common.median(s) for name, s in samples.items()}
    baseline = medians["tfdrive BatchedPyEnvironment (in process)"]
    parallel2 = medians["tfdrive ParallelPyEnvironment, 2 workers"]
    rows = [
        [name, medians[name], medians[name] / baseline, parallel2 / medians[name]]
        for name in variants
    ]
    table = common.table(
        ["8 slow CartPoles, random policy", "env steps/s", "x in-process", "ParallelPy 2w / this"],
        rows,
    )
    title = f"Slow Python env: CartPole + {iterations} numpy iterations (~{args.work_us:.0f} µs) per step"
    cores = ", ".join(f"{p:.2f}" for p in parallelism)
    print(
        f"\n### {title}\n\n{table}\n\nhost parallelism (cores two busy processes got, before, after): {cores}"
    )
    print(f"machine: {common.machine()}")
    out = Path(args.out)
    print(
        "wrote",
        common.write_json(
            out / "parallel_env.json",
            {
                "title": title,
                "samples": samples,
                "medians": medians,
                "host_parallelism": parallelism,
            },
        ),
    )
    try:
        plot(medians, workers, out / "parallel_env.png", title)
        print("wrote", out / "parallel_env.png")
    except ImportError:
        print("matplotlib is not installed: no plot")


def plot(medians: dict[str, float], workers, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ys = [medians[f"tfdrive ParallelPyEnvironment, {w} workers"] for w in workers]
    ax.plot(workers, ys, marker="o", label="tfdrive ParallelPyEnvironment (8 envs)")
    for name, style in (
        ("tfdrive BatchedPyEnvironment (in process)", "--"),
        ("Gymnasium AsyncVectorEnv(shared_memory=True), 8 processes", ":"),
        ("TF-Agents ParallelPyEnvironment, 8 processes", "-."),
    ):
        if name in medians:
            ax.axhline(
                medians[name],
                linestyle=style,
                color="gray" if "Batched" in name else None,
                label=name,
            )
    ax.set_xscale("log", base=2)
    ax.set(xlabel="worker processes", ylabel="env steps/s", title=title)
    ax.title.set_fontsize(9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

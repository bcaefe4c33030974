"""Full collection stacks on Gymnasium CartPole with PPO (64,64), across Python environments.

TF-Agents 0.19 runs only on its compat stack (TF 2.15, NumPy 1); tfdrive runs
there and on current TensorFlow. This bench measures them side by side in
one run: every variant lives in its own persistent worker process (started
with the Python of its stack), and the parent asks the workers for one
measurement at a time, in turn, for `--repeats` rounds, so all variants see
the same machine load. Medians of env steps/s, and each variant's ratio to
TF-Agents' stack.

Run:

    python benches/bench_full_stack.py --compat-python /path/to/compat/bin/python \\
        [--current-python /path/to/current/bin/python] [--envs 1,64] [--repeats 7]

Variants (skipped when their Python is not given):

* ``TF-Agents 0.19 (compat)``: `suite_gym`, its `BatchedPyEnvironment` (for
  64 envs), its `PPOPolicy` through `PyTFEagerPolicy(use_tf_function=True)`,
  its `PyDriver` (`tfdrive.benchmarks.collection._tf_agents_stack`), with
  TensorFlow's default thread pools and again with tfdrive's; ratios are
  against the faster of the two;
* ``tfdrive (compat)`` / ``tfdrive (current)``: `suite_gymnasium` envs in
  tfdrive's `BatchedPyEnvironment`, tfdrive's PPO policy through its
  `PyTFEagerPolicy`, tfdrive's Rust `PyDriver`, TensorFlow's thread pools
  sized as `tfdrive collect` sizes them (`collect_threads`); ``+ XLA``: the
  same policy with `jit_compile=True`;
* ``tfdrive ParallelPyEnvironment 2w (compat)`` / ``... + XLA (current)``:
  the envs in a `ParallelPyEnvironment` of 2 worker processes (64 envs only).

Each measurement collects `--iterations` driver iterations
(`iterations * envs` env steps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

COMPAT, CURRENT = "compat", "current"

# name: (stack, kind, jit_compile, envs it runs at (None = all)). tfdrive's
# variants size TensorFlow's thread pools as `tfdrive collect` does
# (`collect_threads`); TF-Agents' stack runs with TensorFlow's defaults, as its
# users have it, and with the same pools as tfdrive, and the better of the two
# is the baseline.
VARIANTS = {
    "TF-Agents 0.19 (compat)": (COMPAT, "tf_agents", False, None),
    "TF-Agents 0.19 (compat), tfdrive's thread pools": (COMPAT, "tf_agents_threads", False, None),
    "tfdrive (compat)": (COMPAT, "tfdrive", False, None),
    "tfdrive + XLA (compat)": (COMPAT, "tfdrive", True, None),
    "tfdrive ParallelPyEnvironment 2w (compat)": (COMPAT, "parallel", False, (64,)),
    "tfdrive (current)": (CURRENT, "tfdrive", False, None),
    "tfdrive + XLA (current)": (CURRENT, "tfdrive", True, None),
    "tfdrive ParallelPyEnvironment 2w + XLA (current)": (CURRENT, "parallel", True, (64,)),
}
BASELINES = ("TF-Agents 0.19 (compat)", "TF-Agents 0.19 (compat), tfdrive's thread pools")


# Worker side -----------------------------------------------------------------


def _measure_fn(kind: str, jit: bool, num_envs: int, iterations: int) -> Any:
    """A zero-argument function returning env steps/s of one run."""
    max_steps = iterations * num_envs
    if kind != "tf_agents":
        from tfdrive.utils.tf_threads import collect_threads, set_tf_threads

        set_tf_threads(*collect_threads(num_envs))
    if kind.startswith("tf_agents"):
        from tfdrive.benchmarks import collection

        measure = collection._tf_agents_stack(num_envs, (64, 64), max_steps)
        if measure is None:
            raise RuntimeError("TF-Agents' stack does not build in this Python")
        return measure
    from tfdrive.builders import build_env, build_policy
    from tfdrive.drivers.py_driver import PyDriver

    if kind == "parallel":
        import functools

        from tfdrive.environments import suite_gymnasium
        from tfdrive.environments.parallel_py_environment import ParallelPyEnvironment

        env = ParallelPyEnvironment(
            [functools.partial(suite_gymnasium.load, "CartPole-v1")] * num_envs, num_workers=2
        )
    else:
        env = build_env("CartPole-v1", num_envs, "gymnasium", seed=0)
    policy = build_policy("ppo", env, (64, 64), 0, jit_compile=jit)
    driver = PyDriver(env, policy, [], max_steps=max_steps)
    state = {"ts": env.reset(), "ps": policy.get_initial_state(env.batch_size or 1)}

    def measure() -> float:
        start = time.perf_counter()
        state["ts"], state["ps"] = driver.run(state["ts"], state["ps"])
        return max_steps / (time.perf_counter() - start)

    return measure


def worker(name: str, num_envs: int, iterations: int) -> None:
    """Serves `measure` lines on stdin with one JSON number per line on stdout."""
    _, kind, jit, _ = VARIANTS[name]
    measure = _measure_fn(kind, jit, num_envs, iterations)
    measure()  # warm-up: traces, XLA compiles, caches
    import tensorflow as tf

    print(json.dumps({"ready": True, "tensorflow": tf.__version__}), flush=True)
    for line in sys.stdin:
        if line.strip() != "measure":
            break
        print(json.dumps(measure()), flush=True)
    threads = tf.config.threading
    print(
        f"{name}: intra/inter {threads.get_intra_op_parallelism_threads()}/"
        f"{threads.get_inter_op_parallelism_threads()}",
        file=sys.stderr,
    )


# Parent side -----------------------------------------------------------------


class _Worker:
    def __init__(self, python: str, name: str, num_envs: int, iterations: int):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        if VARIANTS[name][0] == CURRENT:
            env["TF_USE_LEGACY_KERAS"] = "1"  # tf-keras (Keras 2) on TF >= 2.16
        # TensorFlow's start-up logs go to a file, shown only if the worker fails.
        self.log = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", name, "--envs", str(num_envs),
             "--iterations", str(iterations)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env,
        )  # fmt: skip
        ready = self._read()
        self.tensorflow = ready["tensorflow"]

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.log.seek(0)
            raise RuntimeError(f"worker exited with code {code}:\n{self.log.read()[-3000:]}")
        return json.loads(line)

    def measure(self) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write("measure\n")
        self.process.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compat-python", default=os.environ.get("TFDRIVE_COMPAT_PYTHON"))
    parser.add_argument("--current-python", default=sys.executable)
    parser.add_argument("--envs", default="1,64")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, int(args.envs), args.iterations)
        return

    pythons = {COMPAT: args.compat_python, CURRENT: args.current_python}
    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}")
    print("| envs | stack | TensorFlow | env steps/s | x TF-Agents (its better variant) |")
    print("|---|---|---|---|---|")
    for num_envs in (int(n) for n in args.envs.split(",")):
        workers: dict[str, _Worker] = {}
        for name, (stack, _, _, sizes) in VARIANTS.items():
            if pythons[stack] and (sizes is None or num_envs in sizes):
                workers[name] = _Worker(pythons[stack], name, num_envs, args.iterations)
        samples: dict[str, list[float]] = {name: [] for name in workers}
        for _ in range(args.repeats):
            for name, w in workers.items():
                samples[name].append(w.measure())
        for w in workers.values():
            w.close()
        medians = {name: statistics.median(values) for name, values in samples.items()}
        base = max((medians[name] for name in BASELINES if name in medians), default=None)
        for name, value in medians.items():
            ratio = f"{value / base:.2f}x" if base else "-"
            print(f"| {num_envs} | {name} | {workers[name].tensorflow} | {value:,.0f} | {ratio} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

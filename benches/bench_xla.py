"""XLA-compiled policies and TensorFlow's thread settings: what pays, at which batch size.

Run: python benches/bench_xla.py [--quick] [--only calls|collection|threads] [--out DIR]

Three measurements, each comparing its variants interleaved (A, B, A, B, ...)
for several repeats in one run and reporting medians and ratios:

* ``calls``: microseconds per `PyTFEagerPolicy.action` call (numpy in, numpy
  out, batched time steps), plain graph (``use_tf_function=True``) against
  XLA (``jit_compile=True``), at batch 1 / 64 / 256 / 4096, for

  - PPO: a 64x64 actor (categorical) + 64x64 value network, as
    ``tfdrive collect`` builds it (`tfdrive.builders.build_ppo`);
  - DQN: the collect policy `DqnAgent` builds (epsilon-greedy 0.1 over the
    greedy `QPolicy` of a 64x64 `QNetwork`).

  Also the first call of each (trace + XLA compile), once.
* ``collection``: env steps/s of the `PyDriver` on native CartPole at
  1 / 64 / 256 / 4096 envs with the PPO policy, plain against XLA, beside
  the plain graph's policy-only ceiling (the plain policy called alone on
  that batch: batch / seconds per call).
* ``threads``: `tf.config.threading` intra/inter-op settings, which only
  take effect before TensorFlow starts, so each setting lives in its own
  persistent subprocess; the parent asks them for one measurement at a
  time, in turn, so the settings are interleaved as finely as the other
  variants. Each measures the PPO call and the driver's steps/s with it
  (plain and XLA) at batch (envs) 1 / 64 / 4096.

Ratios are medians of the per-repeat ratios (each pair measured back to
back, under the same load), not ratios of medians.

Writes DIR/xla_tf<version>.json (DIR defaults to bench-results) with every
sample, the machine and its load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HIDDEN = (64, 64)
THREAD_SETTINGS = ("default", "1/1", "1/2", "2/1", "2/2")


def _apply_threads(setting: str) -> None:
    import tensorflow as tf

    if setting != "default":
        intra, inter = (int(x) for x in setting.split("/"))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def _cartpole(batch: int):
    from tfdrive.environments import native

    return native.make("CartPole-v1", num_envs=batch, seed=0)


def _ppo(env):
    from tfdrive.builders import build_ppo

    return build_ppo(env.time_step_spec(), env.action_spec(), HIDDEN, seed=0)


def _dqn(env):
    import tensorflow as tf

    from tfdrive.networks import q_network
    from tfdrive.policies import epsilon_greedy_policy, greedy_policy, q_policy
    from tfdrive.specs import tensor_spec

    tf.random.set_seed(0)
    ts_spec = tensor_spec.from_spec(env.time_step_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())
    net = q_network.QNetwork(ts_spec.observation, action_spec, fc_layer_params=HIDDEN)
    greedy = greedy_policy.GreedyPolicy(q_policy.QPolicy(ts_spec, action_spec, net))
    return epsilon_greedy_policy.EpsilonGreedyPolicy(greedy, epsilon=0.1)


def _wrap(tf_policy, jit: bool):
    from tfdrive.policies import py_tf_eager_policy

    return py_tf_eager_policy.PyTFEagerPolicy(
        tf_policy, use_tf_function=True, batch_time_steps=False, jit_compile=jit
    )


def _first_call_s(policy, time_step) -> float:
    start = time.perf_counter()
    policy.action(time_step)
    return time.perf_counter() - start


def _calls_for(fn, seconds: float) -> int:
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds / 4:
        fn()
        n += 1
    return max(5, 4 * n)


def _us_per_call(fn, n: int):
    def measure() -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    return measure


def _paired_ratio(samples: dict, num: str, den: str) -> float:
    """Median over repeats of ``num / den`` within each repeat (same load for both)."""
    import statistics

    return statistics.median(a / b for a, b in zip(samples[num], samples[den]))


def _call_variants(tf_policy, time_step, seconds: float) -> tuple[dict, dict]:
    """`({"plain": measure, "xla": measure}, first-call seconds)` for one policy and batch."""
    variants, first = {}, {}
    for name, jit in (("plain", False), ("xla", True)):
        policy = _wrap(tf_policy, jit)
        first[name] = _first_call_s(policy, time_step)

        def call(policy=policy) -> None:
            policy.action(time_step)

        variants[name] = _us_per_call(call, _calls_for(call, seconds))
    return variants, first


def policy_calls(batches, seconds: float, repeats: int) -> dict:
    """µs per policy call, plain against XLA, for PPO and DQN at each batch size."""
    from tfdrive.benchmarks import common

    rows, results = [], []
    for batch in batches:
        env = _cartpole(batch)
        time_step = env.reset()
        for label, build in (("PPO", _ppo), ("DQN", _dqn)):
            variants, first = _call_variants(build(env), time_step, seconds)
            samples = common.interleaved(variants, repeats)
            med = {k: common.median(v) for k, v in samples.items()}
            ratio = _paired_ratio(samples, "xla", "plain")
            results.append(
                {
                    "policy": label,
                    "batch": batch,
                    "median_us": med,
                    "samples_us": samples,
                    "first_call_s": first,
                    "xla_over_plain": ratio,
                }
            )
            rows.append(
                [label, batch, med["plain"], med["xla"], ratio, first["plain"], first["xla"]]
            )
    headers = [
        "policy",
        "batch",
        "plain µs",
        "XLA µs",
        "XLA/plain",
        "plain first call s",
        "XLA first call s",
    ]
    return {
        "title": f"Policy call, plain graph vs XLA (median µs per call, {repeats} repeats)",
        "table": common.table(headers, rows),
        "results": results,
    }


def _ceiling(policy, time_step, batch: int, seconds: float):
    """Steps/s of `policy` called alone on `time_step` (batch / seconds per call)."""

    def call() -> None:
        policy.action(time_step)

    per_call = _us_per_call(call, _calls_for(call, seconds))
    return lambda: batch / (per_call() * 1e-6)


def _driver_steps_per_s(env, policy, seconds: float):
    """A measurement: env steps/s of one `PyDriver.run` of about `seconds`.

    The policy is called once first (trace, compile); the time step and the
    state carry over from run to run.
    """
    from tfdrive.drivers.py_driver import PyDriver

    time_step = env.reset()
    policy.action(time_step)
    calls = _calls_for(lambda: policy.action(time_step), seconds)
    driver = PyDriver(env, policy, [], max_steps=calls * env.batch_size)
    carried = [time_step, policy.get_initial_state(env.batch_size)]

    def measure() -> float:
        carried[0], carried[1] = driver.run(*carried)
        stats = driver.last_run_stats
        return stats.num_steps / stats.seconds

    return measure


def collection(envs, seconds: float, repeats: int) -> dict:
    """PyDriver steps/s on native CartPole with PPO, plain against XLA, and the plain ceiling."""
    from tfdrive.benchmarks import common

    rows, results = [], []
    for num_envs in envs:
        env = _cartpole(num_envs)
        ppo = _ppo(env)
        plain_policy = _wrap(ppo, False)
        variants = {
            "plain": _driver_steps_per_s(env, plain_policy, seconds),
            "xla": _driver_steps_per_s(env, _wrap(ppo, True), seconds),
        }
        variants["plain ceiling"] = _ceiling(plain_policy, env.reset(), num_envs, seconds)
        samples = common.interleaved(variants, repeats)
        med = {k: common.median(v) for k, v in samples.items()}
        entry = {
            "num_envs": num_envs,
            "median_steps_per_s": med,
            "samples_steps_per_s": samples,
            "xla_over_plain": _paired_ratio(samples, "xla", "plain"),
            "xla_over_plain_ceiling": _paired_ratio(samples, "xla", "plain ceiling"),
        }
        results.append(entry)
        rows.append(
            [
                num_envs,
                med["plain"],
                med["xla"],
                med["plain ceiling"],
                entry["xla_over_plain"],
                entry["xla_over_plain_ceiling"],
            ]
        )
    headers = [
        "envs",
        "plain steps/s",
        "XLA steps/s",
        "plain policy-only ceiling",
        "XLA/plain",
        "XLA/plain ceiling",
    ]
    return {
        "title": f"PyDriver on native CartPole, PPO 64x64 (median steps/s, {repeats} repeats)",
        "table": common.table(headers, rows),
        "results": results,
    }


def _thread_worker(setting: str, batches, seconds: float) -> None:
    """A subprocess under one thread setting that measures on request.

    Builds its policies and a driver, prints the names of its measurements
    as one JSON line, then answers each name read from stdin with one
    measurement (a JSON number) until stdin closes.
    """
    _apply_threads(setting)
    measures = {}
    for batch in batches:
        env = _cartpole(batch)
        variants, _ = _call_variants(_ppo(env), env.reset(), seconds)
        for name, measure in variants.items():
            measures[f"{name} µs b{batch}"] = measure
    for batch in batches:
        env = _cartpole(batch)
        ppo = _ppo(env)
        for name, jit in (("plain", False), ("xla", True)):
            measures[f"{name} driver steps/s e{batch}"] = _driver_steps_per_s(
                env, _wrap(ppo, jit), seconds
            )
    print(json.dumps(list(measures)), flush=True)
    for line in sys.stdin:
        print(json.dumps(measures[line.strip()]()), flush=True)


def threads(batches, seconds: float, repeats: int, settings=THREAD_SETTINGS) -> dict:
    """Thread settings compared side by side, one persistent subprocess per setting.

    The subprocesses start together and wait; the parent then asks them for
    one measurement at a time, rotating through the settings for each
    measurement and repeat, so every setting sees the same machine load.
    """
    from tfdrive.benchmarks import common

    command = [sys.executable, __file__, "--batches", ",".join(map(str, batches))]
    workers = {
        s: subprocess.Popen(
            [*command, "--seconds", str(seconds), "--thread-worker", s],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for s in settings
    }
    try:
        keys = [json.loads(w.stdout.readline()) for w in workers.values()][0]
        samples = {s: {k: [] for k in keys} for s in settings}
        order = list(settings)
        for _ in range(repeats):
            for key in keys:
                for s in order:
                    workers[s].stdin.write(key + "\n")
                    workers[s].stdin.flush()
                    samples[s][key].append(json.loads(workers[s].stdout.readline()))
            order = order[1:] + order[:1]  # rotate who goes first
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait(timeout=60)
    med = {s: {k: common.median(v) for k, v in samples[s].items()} for s in settings}
    rows = [[s, *(med[s][k] for k in keys)] for s in settings]
    first = settings[0]
    ratios = {
        s: {k: _paired_ratio({"a": samples[s][k], "b": samples[first][k]}, "a", "b") for k in keys}
        for s in settings
    }
    return {
        "title": (
            "TensorFlow thread settings intra/inter (PPO 64x64; median of "
            f"{repeats} interleaved repeats; µs per call, lower is better; steps/s, higher)"
        ),
        "table": common.table(["intra/inter", *keys], rows),
        "ratio_table": common.table(
            [f"intra/inter (÷ {settings[0]})", *keys],
            [[s, *(ratios[s][k] for k in keys)] for s in settings],
        ),
        "median": med,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("calls", "collection", "threads"), default=None)
    parser.add_argument("--out", default="bench-results")
    parser.add_argument("--batches", default=None, help="comma-separated batch sizes")
    parser.add_argument(
        "--thread-settings",
        default=",".join(THREAD_SETTINGS),
        help="intra/inter pairs for --only threads, the first is the baseline",
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--tf-threads",
        default="default",
        help="INTRA/INTER for calls and collection (0: TensorFlow's choice)",
    )
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--thread-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.thread_worker:
        batches = [int(b) for b in args.batches.split(",")]
        _thread_worker(args.thread_worker, batches, args.seconds)
        return
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    _apply_threads(args.tf_threads)
    from tfdrive.benchmarks import common

    repeats = args.repeats or (3 if args.quick else 7)
    seconds = 0.2 if args.quick else 0.6
    sizes = [int(b) for b in args.batches.split(",")] if args.batches else [1, 64, 256, 4096]
    load_before = _load()
    results = {}
    if args.only in (None, "calls"):
        results["calls"] = policy_calls(sizes, seconds, repeats)
    if args.only in (None, "collection"):
        results["collection"] = collection(sizes, seconds, repeats)
    if args.only in (None, "threads"):
        # By default the small and large ends; --batches measures exactly those given.
        small_large = sizes if args.batches else [1, 64, 4096]
        settings = tuple(args.thread_settings.split(","))
        results["threads"] = threads(small_large, seconds / 2, repeats, settings)
    for result in results.values():
        print(f"\n### {result['title']}\n\n{result['table']}")
        if "ratio_table" in result:
            print(f"\n{result['ratio_table']}")
    load = {"before": load_before, "after": _load()}
    print("\nload average (1, 5, 15 min):", load)
    print("machine:", common.machine())
    import tensorflow as tf

    suffix = tf.__version__.replace(".", "_")
    path = Path(args.out) / f"xla_tf{suffix}.json"
    payload = {"load_average": load, "tf_threads": args.tf_threads, **results}
    print("wrote", common.write_json(path, payload))


if __name__ == "__main__":
    main()

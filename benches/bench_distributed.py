"""Collection on Ray actors against the same drivers in one process.

Native CartPole, `--num-envs` envs per driver, a 64x64 PPO policy (actor
and value MLPs, collect mode, run through PyTFEagerPolicy as one graph),
`--steps` env steps per driver and round (weak scaling: each actor does what
one local driver does). Variants:

- `local x N`: N `CollectorWorker`s (the actors' own class) in this process,
  one after the other per round: what one process collects;
- `ray x N`: `DistributedCollector` with N actors, synchronous rounds
  without new weights, then with a `publish` before every round (PPO's
  pattern).

Overheads, measured on their own:

- worker post-processing: what a worker spends per round beyond its
  driver run (the batch copied out of the buffer, episode metrics), in
  µs per step, measured on the local workers;
- transfer: a ready batch of `--steps` steps fetched from an actor
  (`ray.get` of an actor call that returns a stored batch: serialisation,
  the object store, the call), in µs per transferred step; and the round
  overhead (round wall time minus the slowest actor's driver time);
- broadcast: `publish` (variables to numpy, check, `ray.put`) and
  `broadcast` (every actor loads them), in ms per broadcast.

Ray's workers run at nice 0 here (`RAY_worker_niceness=0`; Ray's default
is 15). Each actor reserves one CPU (`ray.init(num_cpus=...)` must allow N).
TensorFlow runs with one intra- and one inter-op thread per process, here
and in the actors, so that N processes can use N cores.

Run: python benches/bench_distributed.py [--workers 1,2] [--num-envs 64]
     [--steps 8192] [--rounds 10] [--json OUT]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Ray starts worker processes at nice 15, so that its own daemons and the
# driver come first; on a machine busy with other work that starves the
# actors and measures the scheduler. Nice 0, as this process has.
os.environ.setdefault("RAY_worker_niceness", "0")

import ray  # noqa: E402

from tfdrive.benchmarks import common  # noqa: E402
from tfdrive.distributed import factories  # noqa: E402
from tfdrive.distributed.collector import DistributedCollector, local_workers  # noqa: E402
from tfdrive.distributed.worker import CollectorWorker  # noqa: E402


@ray.remote(num_cpus=0)
class BatchHolder:
    """Hands back one stored batch: the transfer cost without collection."""

    def __init__(self, batch):
        self._batch = batch

    def get(self):
        return self._batch


def local_round(workers: list[CollectorWorker]) -> dict:
    """One round of the workers, one after the other: steps/s and their cost beyond the driver."""
    start = time.perf_counter()
    batches = [w.collect() for w in workers]
    seconds = time.perf_counter() - start
    steps = sum(b.num_steps for b in batches)
    # Loading weights, copying the batch out, episode metrics.
    post = seconds - sum(b.seconds for b in batches)
    return {"steps_per_s": steps / seconds, "worker_post_us_per_step": post * 1e6 / steps}


def ray_round(collector: DistributedCollector, learner_policy=None) -> dict:
    """One synchronous round: steps/s and the time beyond the slowest actor's driver run."""
    start = time.perf_counter()
    round_ = collector.collect(weights=learner_policy)
    seconds = time.perf_counter() - start
    slowest = max(b.seconds for b in round_.batches)
    return {
        "steps_per_s": round_.num_steps / seconds,
        "round_overhead_us_per_step": (seconds - slowest) * 1e6 / round_.num_steps,
    }


def rounds_interleaved(variants: dict, rounds: int) -> dict:
    """Each variant runs one round per repeat, in turn (load changes hit all alike)."""
    samples = {name: {} for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            for key, value in run().items():
                samples[name].setdefault(key, []).append(value)
    return samples


def transfer_us_per_step(batch, repeats: int) -> list[float]:
    holder = BatchHolder.remote(batch)
    ray.get(holder.get.remote())
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        got = ray.get(holder.get.remote())
        samples.append((time.perf_counter() - start) * 1e6 / got.num_steps)
    ray.kill(holder)
    return samples


def broadcast_ms(collector: DistributedCollector, policy, repeats: int) -> dict:
    publish, load = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        collector.publish(policy)
        middle = time.perf_counter()
        collector.broadcast()
        publish.append((middle - start) * 1e3)
        load.append((time.perf_counter() - middle) * 1e3)
    return {"publish_ms": publish, "broadcast_ms": load}


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2", help="actor counts (default 1,2)")
    p.add_argument("--num-envs", type=int, default=64, help="envs per driver (default 64)")
    p.add_argument("--steps", type=int, default=8192, help="env steps per driver per round")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds per variant")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    args = p.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    env_factory = factories.NativeEnvFactory("CartPole-v1", args.num_envs, num_threads=1)
    policy_factory = factories.PPOPolicyFactory(hidden=(64, 64), tf_threads=1)
    ray.init(
        num_cpus=max(counts),
        include_dashboard=False,
        object_store_memory=200 * 1024**2,
        log_to_driver=False,
        runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}},
    )
    learner_policy = policy_factory(env_factory(0))
    results: dict = {"machine": common.machine(), "args": vars(args), "variants": {}}
    rows = []
    for n in counts:
        workers = local_workers(env_factory, policy_factory, n, n * args.steps)
        with DistributedCollector(env_factory, policy_factory, n, n * args.steps) as collector:
            variants = {
                "local": functools.partial(local_round, workers),
                "ray": functools.partial(ray_round, collector),
                "ray_with_publish": functools.partial(ray_round, collector, learner_policy),
            }
            rounds_interleaved(variants, 2)  # Traces the graphs, here and in the actors.
            measured = rounds_interleaved(variants, args.rounds)
            local, plain, weighted = (measured[k] for k in variants)
            sample = collector.collect()
            broadcast = broadcast_ms(collector, learner_policy, args.rounds)
        transfer = transfer_us_per_step(sample.batches[0], args.rounds)
        results["variants"][n] = {
            "local": local,
            "ray": plain,
            "ray_with_publish": weighted,
            "transfer_us_per_step": transfer,
            "batch_bytes": int(sum(a.nbytes for a in _leaves(sample.batches[0].trajectory))),
            "steps_per_batch": sample.batches[0].num_steps,
            **broadcast,
        }
        rows.append(
            [
                n,
                f"{med(local['steps_per_s']):,.0f}",
                f"{med(plain['steps_per_s']):,.0f}",
                f"{med(weighted['steps_per_s']):,.0f}",
                f"{med(plain['steps_per_s']) / med(local['steps_per_s']):.2f}",
                f"{med(local['worker_post_us_per_step']):.2f}",
                f"{med(plain['round_overhead_us_per_step']):.2f}",
                f"{med(transfer):.3f}",
                f"{med(broadcast['publish_ms']):.2f}",
                f"{med(broadcast['broadcast_ms']):.2f}",
            ]
        )
    ray.shutdown()
    print(json.dumps(results["machine"]))
    print(
        f"native CartPole x {args.num_envs} per driver, PPO 64x64, {args.steps} steps per "
        f"driver per round, medians of {args.rounds} rounds"
    )
    print(
        common.table(
            [
                "N",
                "local x N steps/s",
                "ray x N steps/s",
                "ray + publish steps/s",
                "ray / local",
                "worker post µs/step",
                "round overhead µs/step",
                "transfer µs/step",
                "publish ms",
                "broadcast ms",
            ],
            rows,
        )
    )
    if args.json:
        common.write_json(args.json, results)


def _leaves(trajectory) -> list[np.ndarray]:
    from tfdrive.utils import nest

    return nest.flatten(trajectory)


if __name__ == "__main__":
    main()

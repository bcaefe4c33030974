"""Policy call cost: tfdrive's PyTFEagerPolicy against the raw TF floor and TF-Agents.

Run: python benches/bench_policy_call.py [--quick] [--out DIR] [--batches 1,16,256,4096]

One PPO policy (CartPole shapes: observation [4], 2 actions; actor and value
MLPs 64x64) is called with numpy time steps at each batch size, by:

* ``tfdrive``: `tfdrive.policies.py_tf_eager_policy.PyTFEagerPolicy(policy,
  use_tf_function=True)` (``batch_time_steps=True`` at batch 1, False above),
  numpy in, numpy action and info out;
* ``raw``: the floor, a concrete function of the same networks (actor logits,
  categorical sample, value) called on a tensor made from the numpy
  observation, outputs copied to numpy;
* ``raw_flat``: the same concrete function called through its flat entry
  point (``_call_flat``, skipping argument binding), as tfdrive does;
* ``tf_agents``: TF-Agents' `PyTFEagerPolicy(use_tf_function=True)` around
  TF-Agents' PPOPolicy with the same weights (only where tf_agents imports,
  i.e. the compat environment).

Variants run interleaved for several repeats; the table gives median
microseconds per call and the ratios tfdrive / raw and TF-Agents / tfdrive.
Writes DIR/policy_call_tf<version>.json (DIR defaults to bench-results) and,
where matplotlib imports, DIR/policy_call_tf<version>.png (µs per call
against batch size, log-log).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", category=DeprecationWarning)

import tensorflow as tf  # noqa: E402

from tfdrive.agents.ppo import ppo_policy  # noqa: E402
from tfdrive.benchmarks import common  # noqa: E402
from tfdrive.networks import actor_distribution_network, value_network  # noqa: E402
from tfdrive.policies import py_tf_eager_policy  # noqa: E402
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402

OBS = tensor_spec.TensorSpec((4,), tf.float32)
ACTION = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 1)
HIDDEN = (64, 64)


def _tfdrive_policy() -> ppo_policy.PPOPolicy:
    tf.random.set_seed(0)  # TF-Agents' networks take no seed: the global one sets the weights.
    actor = actor_distribution_network.ActorDistributionNetwork(OBS, ACTION, fc_layer_params=HIDDEN)
    value = value_network.ValueNetwork(OBS, fc_layer_params=HIDDEN)
    return ppo_policy.PPOPolicy(ts.time_step_spec(OBS), ACTION, actor, value)


def _raw_call(policy: ppo_policy.PPOPolicy):
    """``call(obs_numpy) -> (action, logits, value)`` via one concrete function."""
    actor, value = policy._actor_network, policy._value_network

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)], autograph=False)
    def raw(obs):
        dist, _ = actor(obs, step_type=None, network_state=())
        values, _ = value(obs, step_type=None, network_state=())
        return dist.sample(), dist.logits, values

    concrete = raw.get_concrete_function()

    captured = concrete.captured_inputs

    def call(obs: np.ndarray):
        outs = concrete(tf.constant(obs))
        return [o.numpy() for o in outs]

    def call_flat(obs: np.ndarray):
        outs = concrete._call_flat([tf.constant(obs)], captured)
        return [o.numpy() for o in outs]

    return call, call_flat


def _tf_agents_policy(source: ppo_policy.PPOPolicy, batched: bool):
    try:
        from tf_agents.agents.ppo import ppo_policy as tfa_ppo
        from tf_agents.networks import actor_distribution_network as tfa_adn
        from tf_agents.networks import value_network as tfa_vn
        from tf_agents.policies import py_tf_eager_policy as tfa_eager
        from tf_agents.trajectories import time_step as tfa_ts
    except ImportError:
        return None
    try:
        actor = tfa_adn.ActorDistributionNetwork(OBS, ACTION, fc_layer_params=HIDDEN)
    except TypeError as e:  # TF-Agents 0.19 on NumPy 2: int() of a 1-element array.
        print(f"TF-Agents' networks do not build on this stack ({e}); no tf_agents column")
        return None
    value = tfa_vn.ValueNetwork(OBS, fc_layer_params=HIDDEN)
    actor.create_variables()
    value.create_variables()
    for net, mine in ((actor, source._actor_network), (value, source._value_network)):
        for theirs, ours in zip(net.variables, mine.variables):
            theirs.assign(ours)
    policy = tfa_ppo.PPOPolicy(tfa_ts.time_step_spec(OBS), ACTION, actor, value)
    return tfa_eager.PyTFEagerPolicy(policy, use_tf_function=True, batch_time_steps=not batched)


def _time_step(batch: int, rng: np.random.Generator):
    if batch == 1:
        obs = rng.normal(size=(4,)).astype(np.float32)
        return ts.TimeStep(
            np.asarray(1, np.int32), np.asarray(0.0, np.float32), np.asarray(1.0, np.float32), obs
        )
    obs = rng.normal(size=(batch, 4)).astype(np.float32)
    return ts.TimeStep(
        np.ones(batch, np.int32), np.zeros(batch, np.float32), np.ones(batch, np.float32), obs
    )


def _calls_for(fn, seconds: float) -> int:
    fn()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds / 4:
        fn()
        n += 1
    return max(5, 4 * n)


def run(batches: list[int], seconds: float, repeats: int) -> dict:
    policy = _tfdrive_policy()
    raw, raw_flat = _raw_call(policy)
    rng = np.random.default_rng(0)
    rows, results = [], []
    for batch in batches:
        time_step = _time_step(batch, rng)
        obs_2d = np.atleast_2d(time_step.observation)
        ours = py_tf_eager_policy.PyTFEagerPolicy(
            policy, use_tf_function=True, batch_time_steps=batch == 1
        )
        theirs = _tf_agents_policy(policy, batched=batch > 1)
        calls = {
            "tfdrive": lambda ours=ours, t=time_step: ours.action(t),
            "raw": lambda o=obs_2d: raw(o),
            "raw_flat": lambda o=obs_2d: raw_flat(o),
        }
        if theirs is not None:
            calls["tf_agents"] = lambda theirs=theirs, t=time_step: theirs.action(t)
        variants = {}
        for name, fn in calls.items():
            n = _calls_for(fn, seconds)

            def loop(k: int, fn=fn) -> None:
                for _ in range(k):
                    fn()

            variants[name] = common.per_call_us(loop, n)
        samples = common.interleaved(variants, repeats)
        med = {name: common.median(xs) for name, xs in samples.items()}
        entry = {"batch": batch, "median_us": med, "samples_us": samples}
        entry["tfdrive_over_raw"] = med["tfdrive"] / med["raw"]
        entry["tfdrive_over_raw_flat"] = med["tfdrive"] / med["raw_flat"]
        row = [
            batch,
            med["tfdrive"],
            med["raw"],
            med["raw_flat"],
            entry["tfdrive_over_raw"],
            entry["tfdrive_over_raw_flat"],
        ]
        if "tf_agents" in med:
            entry["tf_agents_over_tfdrive"] = med["tf_agents"] / med["tfdrive"]
            row += [med["tf_agents"], entry["tf_agents_over_tfdrive"]]
        else:
            row += ["n/a", "n/a"]
        results.append(entry)
        rows.append(row)
    headers = [
        "batch",
        "tfdrive µs",
        "raw µs",
        "raw_flat µs",
        "tfdrive/raw",
        "tfdrive/raw_flat",
        "TF-Agents µs",
        "TF-Agents/tfdrive",
    ]
    return {
        "title": f"Policy call cost, PPO {HIDDEN} (median µs per call, {repeats} interleaved repeats)",
        "table": common.table(headers, rows),
        "results": results,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def plot(result: dict, path: Path) -> Path | None:
    """µs per call against batch size for each variant (log-log), if matplotlib imports."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    entries = result["results"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in entries[0]["median_us"]:
        ax.plot(
            [e["batch"] for e in entries],
            [e["median_us"][name] for e in entries],
            marker="o",
            label=name,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("µs per policy call (median)")
    ax.set_title(f"PPO {HIDDEN} policy call, TF {tf.__version__}")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batches", default="1,16,256,4096")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    result = run(batches, seconds=0.2 if args.quick else 0.6, repeats=3 if args.quick else 7)
    print(f"\n### {result['title']}\n\n{result['table']}")
    print("\nmachine:", common.machine())
    suffix = tf.__version__.replace(".", "_")
    print("wrote", common.write_json(Path(args.out) / f"policy_call_tf{suffix}.json", result))
    png = plot(result, Path(args.out) / f"policy_call_tf{suffix}.png")
    if png is not None:
        print("wrote", png)


if __name__ == "__main__":
    main()

"""Collection throughput with a PPO policy: tfdrive against its ceilings and references.

- `batch_sweep`: native CartPole at several batch sizes; tfdrive's driver
  (env steps/s) against the policy-only ceiling (the same policy called
  alone on a fixed batch: B / seconds per call), with the per-stage
  breakdown of the driver's iteration.
- `observer_overhead`: the same collection with all native metrics
  attached against none.
- `python_envs`: Gymnasium CartPoles (1, and 64 batched by tfdrive's
  BatchedPyEnvironment) under tfdrive's PyDriver against a pure-Python
  driver loop with TF-Agents' semantics on the same env and policy, and
  against TF-Agents' own stack (suite_gym, BatchedPyEnvironment, PPOPolicy,
  PyTFEagerPolicy, PyDriver) when TF-Agents is importable.

Every comparison is interleaved in one process; the reports give medians.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tfdrive.benchmarks import common


def _ppo_stack(env: Any, hidden: tuple[int, ...], seed: int = 0, jit_compile: bool = False) -> Any:
    from tfdrive.builders import build_policy

    return build_policy("ppo", env, hidden, seed, jit_compile=jit_compile)


def _all_metrics() -> list:
    from tfdrive.metrics import py_metrics

    return [
        py_metrics.AverageReturnMetric(),
        py_metrics.AverageEpisodeLengthMetric(),
        py_metrics.MaxReturnMetric(),
        py_metrics.MinReturnMetric(),
        py_metrics.EnvironmentSteps(),
        py_metrics.NumberOfEpisodes(),
    ]


class NativeSetup:
    """Native envs of `env_name` and a PPO policy for them, with a first time step.

    `iterations_for(seconds)`: how many policy calls take about `seconds`,
    timed on the policy alone (after a warm-up call that builds its graph).
    """

    def __init__(self, batch: int, hidden=(64, 64), env_name: str = "CartPole-v1"):
        from tfdrive.environments import native

        self.batch = batch
        self.env = native.make(env_name, batch, seed=0)
        self.policy = _ppo_stack(self.env, hidden)
        self.time_step = self.env.reset()
        self.state = self.policy.get_initial_state(batch)
        self.policy.action(self.time_step, self.state)

    def iterations_for(self, seconds: float, calls: int = 3) -> int:
        start = time.perf_counter()
        for _ in range(calls):
            self.policy.action(self.time_step, self.state)
        per_call = (time.perf_counter() - start) / calls
        return max(10, int(seconds / max(per_call, 1e-6)))

    def collector(self, observers=(), timing=False, seconds=0.5) -> _Collector:
        steps = self.iterations_for(seconds) * self.batch
        return _Collector(self.env, self.policy, list(observers), max_steps=steps, timing=timing)


class _Collector:
    """A driver on one env/policy that keeps its time step and state across runs."""

    def __init__(self, env: Any, policy: Any, observers: list, max_steps: int, timing=False):
        from tfdrive.drivers.py_driver import PyDriver

        self.driver = PyDriver(env, policy, observers, max_steps=max_steps, timing=timing)
        self.time_step = env.reset()
        self.state = policy.get_initial_state(env.batch_size or 1)

    def run(self) -> Any:
        self.time_step, self.state = self.driver.run(self.time_step, self.state)
        return self.driver.last_run_stats

    def steps_per_s(self) -> float:
        stats = self.run()
        return stats.num_steps / stats.seconds

    def steps_per_s_over(self, seconds: float) -> float:
        """Steps/s over repeated runs lasting `seconds` in all (for slowed-down runs)."""
        steps, elapsed = 0, 0.0
        while elapsed < seconds:
            stats = self.run()
            steps += stats.num_steps
            elapsed += stats.seconds
        return steps / elapsed


def _policy_ceiling(policy: Any, time_step: Any, state: Any, calls: int, batch: int):
    def measure() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            policy.action(time_step, state)
        return calls * batch / (time.perf_counter() - start)

    return measure


def batch_sweep(
    sizes=(16, 256, 1024, 4096),
    hidden=(64, 64),
    env_name="CartPole-v1",
    seconds=0.5,
    repeats=5,
) -> dict:
    """tfdrive's steps/s against the policy-only ceiling, per batch size."""
    rows, data = [], {}
    for batch in sizes:
        setup = NativeSetup(batch, hidden, env_name)
        calls = setup.iterations_for(seconds)
        collector = setup.collector(seconds=seconds)
        timed = setup.collector(timing=True, seconds=seconds)
        collector.run()  # warm-up
        samples = common.interleaved(
            {
                "policy only": _policy_ceiling(
                    setup.policy, setup.time_step, setup.state, calls, batch
                ),
                "tfdrive": collector.steps_per_s,
            },
            repeats,
        )
        ceiling = common.median(samples["policy only"])
        ours = common.median(samples["tfdrive"])
        stats = timed.run()
        stages = {k: v / stats.iterations * 1e6 for k, v in stats.stages.items()}
        rows.append(
            [
                batch,
                ceiling,
                ours,
                f"{ours / ceiling:.1%}",
                f"{stats.stages['policy'] / stats.seconds:.1%}",
                *(stages[k] for k in ("policy", "env", "assembly", "observers", "other")),
            ]
        )
        data[batch] = {
            "policy_only_steps_per_s": samples["policy only"],
            "tfdrive_steps_per_s": samples["tfdrive"],
            "stages_us_per_iteration": stages,
        }
    table = common.table(
        [
            "envs",
            "policy-only ceiling steps/s",
            "tfdrive steps/s",
            "of ceiling",
            "policy share of the loop",
            "policy µs/it",
            "env µs/it",
            "assembly µs/it",
            "observers µs/it",
            "other µs/it",
        ],
        rows,
    )
    title = f"PPO ({','.join(map(str, hidden))}) on native {env_name}, medians of {repeats}"
    return {"title": title, "table": table, "results": data}


def observer_overhead(batch=256, hidden=(64, 64), seconds=0.5, repeats=7) -> dict:
    """Collection with every native metric attached against no observers."""
    setup = NativeSetup(batch, hidden)
    bare = setup.collector(seconds=seconds)
    observed = setup.collector(_all_metrics(), seconds=seconds)
    timed = setup.collector(_all_metrics(), seconds=seconds, timing=True)
    bare.run()
    observed.run()
    timed.run()
    samples = common.interleaved(
        {"no observers": bare.steps_per_s, "all 6 native metrics": observed.steps_per_s}, repeats
    )
    medians = {k: common.median(v) for k, v in samples.items()}
    base = medians["no observers"]
    rows = [
        [k, v, f"{(base - v) / base:+.1%}" if k != "no observers" else "-"]
        for k, v in medians.items()
    ]
    # The observers' own time, from the driver's stage timing: immune to the
    # policy's run-to-run noise, which dominates the throughput comparison.
    share = [s.stages["observers"] / s.seconds for s in (timed.run() for _ in range(repeats))]
    rows.append(["observers' share of the loop (stage timing)", "-", f"{np.median(share):.1%}"])
    table = common.table(["variant", "env steps/s", "overhead"], rows)
    title = f"observer overhead: PPO on {batch} native CartPoles, medians of {repeats}"
    return {"title": title, "table": table, "results": samples}


def _python_loop_steps_per_s(env, policy, max_steps, holder):
    from tfdrive.benchmarks.driver_overhead import python_loop

    def measure() -> float:
        start = time.perf_counter()
        steps_before = max_steps
        holder["ts"], holder["ps"] = python_loop(
            env, policy, [], max_steps, holder["ts"], holder["ps"]
        )
        return steps_before / (time.perf_counter() - start)

    return measure


def _tf_agents_stack(num_envs: int, hidden: tuple[int, ...], max_steps: int):
    """TF-Agents' own collection stack, or None where TF-Agents does not import or build."""
    try:
        return _build_tf_agents_stack(num_envs, hidden, max_steps)
    except ImportError:
        return None
    except Exception as error:  # TF-Agents 0.19 on NumPy 2 / TF >= 2.16, for one
        print(f"TF-Agents' stack does not build here: {type(error).__name__}: {error}")
        return None


def _build_tf_agents_stack(num_envs: int, hidden: tuple[int, ...], max_steps: int):
    import tensorflow as tf
    from tf_agents.agents.ppo import ppo_policy
    from tf_agents.drivers import py_driver
    from tf_agents.environments import batched_py_environment, suite_gym
    from tf_agents.networks import actor_distribution_network, value_network
    from tf_agents.policies import py_tf_eager_policy
    from tf_agents.specs import tensor_spec

    envs = [suite_gym.load("CartPole-v1") for _ in range(num_envs)]
    env = envs[0] if num_envs == 1 else batched_py_environment.BatchedPyEnvironment(envs)
    tf.random.set_seed(0)
    ts_spec = tensor_spec.from_spec(env.time_step_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())
    actor = actor_distribution_network.ActorDistributionNetwork(
        ts_spec.observation, action_spec, fc_layer_params=hidden
    )
    value = value_network.ValueNetwork(ts_spec.observation, fc_layer_params=hidden)
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        ppo_policy.PPOPolicy(ts_spec, action_spec, actor, value),
        use_tf_function=True,
        batch_time_steps=num_envs == 1,
    )
    if num_envs > 1:
        # TF-Agents' wrapper returns tensors without batch_time_steps, which its
        # BatchedPyEnvironment cannot unstack into Gym actions: convert them.
        policy = _NumpyActions(policy)
    driver = py_driver.PyDriver(env, policy, [], max_steps=max_steps)
    holder = {"ts": env.reset(), "ps": policy.get_initial_state(env.batch_size or 1)}

    def measure() -> float:
        start = time.perf_counter()
        holder["ts"], holder["ps"] = driver.run(holder["ts"], holder["ps"])
        return max_steps / (time.perf_counter() - start)

    return measure


class _NumpyActions:
    """A PyPolicy whose action step's tensors are converted to numpy."""

    def __init__(self, policy: Any):
        self._policy = policy

    def action(self, time_step: Any, policy_state: Any = ()) -> Any:
        import tensorflow as tf

        step = self._policy.action(time_step, policy_state)
        return tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, step)

    def get_initial_state(self, batch_size: Any = None) -> Any:
        return self._policy.get_initial_state(batch_size)


def python_envs(num_envs=(1, 64), hidden=(64, 64), iterations=1000, repeats=5) -> dict:
    """Gymnasium CartPoles: tfdrive's full stack against Python-loop and TF-Agents stacks.

    Each measurement is a run of about `iterations` driver iterations
    (`iterations * num_envs` steps).
    """
    from tfdrive.builders import build_env

    rows, data = [], {}
    for n in num_envs:
        env = build_env("CartPole-v1", n, "gymnasium", seed=0)
        policy = _ppo_stack(env, hidden)
        max_steps = iterations * n
        collector = _Collector(env, policy, [], max_steps=max_steps)
        holder = {"ts": env.reset(), "ps": policy.get_initial_state(env.batch_size or 1)}
        # The same policy's graph compiled with XLA (`PyTFEagerPolicy(jit_compile=True)`,
        # `tfdrive collect --xla`), on its own copy of the envs.
        xla_env = build_env("CartPole-v1", n, "gymnasium", seed=0)
        xla_collector = _Collector(
            xla_env, _ppo_stack(xla_env, hidden, jit_compile=True), [], max_steps=max_steps
        )
        variants = {
            "tfdrive": collector.steps_per_s,
            "tfdrive, XLA policy": xla_collector.steps_per_s,
            "python loop (TF-Agents semantics)": _python_loop_steps_per_s(
                env, policy, max_steps, holder
            ),
        }
        tfa = _tf_agents_stack(n, hidden, max_steps)
        if tfa is not None:
            variants["TF-Agents 0.19 stack"] = tfa
        for measure in variants.values():
            measure()  # warm-up: graphs, caches
        samples = common.interleaved(variants, repeats)
        medians = {k: common.median(v) for k, v in samples.items()}
        xla = medians["tfdrive, XLA policy"]
        for k, v in medians.items():
            rows.append([n, k, v, f"{medians['tfdrive'] / v:.2f}x", f"{xla / v:.2f}x"])
        data[n] = samples
    table = common.table(
        ["envs", "stack", "env steps/s", "tfdrive speed-up", "tfdrive XLA speed-up"], rows
    )
    title = f"Gymnasium CartPole, PPO ({','.join(map(str, hidden))}), medians of {repeats}"
    return {"title": title, "table": table, "results": data}


def plot_batch_sweep(sweep: dict, path) -> None:
    """steps/s against batch size, tfdrive and the policy-only ceiling (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(sweep["results"])
    ours = [np.median(sweep["results"][b]["tfdrive_steps_per_s"]) for b in sizes]
    ceiling = [np.median(sweep["results"][b]["policy_only_steps_per_s"]) for b in sizes]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, ceiling, "k--", marker="o", label="policy-only ceiling")
    ax.plot(sizes, ours, marker="s", label="tfdrive (driver + native env)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of envs (batch size)")
    ax.set_ylabel("env steps / s")
    ax.set_title(sweep["title"], fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_breakdown(sweep: dict, path) -> None:
    """µs per iteration of each driver stage, grouped by batch size, on a log axis.

    A stacked linear bar hides every stage but the policy (it takes 90%+ of an
    iteration), so each stage gets its own bar on a log scale, labelled with
    its share of the iteration.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(sweep["results"])
    stages = ("policy", "env", "assembly", "observers", "other")
    width = 0.8 / len(stages)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, stage in enumerate(stages):
        xs = np.arange(len(sizes)) + (i - (len(stages) - 1) / 2) * width
        per_stage = [sweep["results"][b]["stages_us_per_iteration"] for b in sizes]
        values = np.array([max(p[stage], 1e-3) for p in per_stage])
        bars = ax.bar(xs, values, width, label=stage)
        for bar, p in zip(bars, per_stage):
            share = 100 * p[stage] / max(sum(p.values()), 1e-12)
            ax.annotate(
                f"{share:.0f}%" if share >= 1 else f"{share:.1f}%",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=6,
            )
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 10)  # headroom for the legend above the bars
    ax.set_xticks(np.arange(len(sizes)), [str(b) for b in sizes])
    ax.set_xlabel("number of envs (batch size)")
    ax.set_ylabel("µs per driver iteration (log)")
    ax.set_title("where an iteration's time goes (label: share of the iteration)", fontsize=9)
    ax.legend(fontsize=8, ncol=len(stages), loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

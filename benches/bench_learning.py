"""Learning: tfdrive's `train` against TF-Agents 0.19 on its own stack, same agent settings.

Run (in an environment with both tfdrive and tf-agents 0.19, e.g. TF 2.15):

    python benches/bench_learning.py [--runs ppo-cartpole,dqn-cartpole] [--seeds 0,1,2]
        [--out bench-results] [--steps N]

For each run and seed, side by side in one process:

- tfdrive: `tfdrive.train.loop.train` (native envs collected by tfdrive's
  Rust PyDriver, the agent's collect policy through PyTFEagerPolicy,
  tfdrive's PPOClipAgent / DqnAgent and TrajectoryBuffer);
- TF-Agents: TF-Agents' own agent of the same class and settings (the
  `tfdrive.train.recipes` recipe), networks, `suite_gym` envs batched by its
  `BatchedPyEnvironment` in a `TFPyEnvironment`, its `DynamicStepDriver` (in
  a `tf.function`) and `TFUniformReplayBuffer`: `gather_all` per round for
  PPO, as its PPO examples do; `as_dataset` windows for DQN, as its DQN
  tutorial does.

Both collect the same env steps per round on the same number of envs and
train the same gradient steps. Both are evaluated with the same protocol,
outside the timed part: the greedy policy's mean return over 100 episodes
(one per env of a fresh native batch, so no episode length is favoured),
every `eval_every` env steps and at the end. "Train seconds" counts
collection and training only; "total s" is the whole run, evaluations
included.

Reports per seed and median [min, max] over seeds: final return, best
return, env steps and train seconds to first reach the solved level, total
seconds; writes `learning.json` and `learning.png` (both curves against env
steps and against train seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RUNS = {
    # name: (agent, env, env steps, eval every)
    "ppo-cartpole": ("ppo", "CartPole-v1", 500_000, 20_000),
    "dqn-cartpole": ("dqn", "CartPole-v1", 200_000, 10_000),
    "ppo-pendulum": ("ppo", "Pendulum-v1", 2_000_000, 50_000),
}


@dataclasses.dataclass
class Point:
    env_steps: int
    seconds: float
    mean_return: float


def _evaluate(py_policy: Any, eval_env: Any) -> float:
    from tfdrive.train import evaluation

    return float(evaluation.evaluate(py_policy, eval_env).mean())


# TF-Agents' stack ------------------------------------------------------------


class TfaLearner:
    """TF-Agents' own agent, networks, envs, driver and replay buffer, set up like `recipe`."""

    def __init__(self, recipe: Any, env_name: str, seed: int, steps: int):
        import tensorflow as tf
        from tf_agents.drivers import dynamic_step_driver
        from tf_agents.environments import batched_py_environment, suite_gym, tf_py_environment
        from tf_agents.metrics import tf_metrics
        from tf_agents.replay_buffers import tf_uniform_replay_buffer
        from tf_agents.utils import common

        tf.random.set_seed(seed)
        envs = [suite_gym.load(env_name) for _ in range(recipe.num_envs)]
        for i, env in enumerate(envs):
            env.seed(seed + i)
        self.env = tf_py_environment.TFPyEnvironment(
            batched_py_environment.BatchedPyEnvironment(envs, multithreading=False)
        )
        self.recipe = recipe
        self.counter = tf.Variable(0, dtype=tf.int64)
        self.steps = steps
        self.agent = (self._ppo if recipe.agent == "ppo" else self._dqn)(recipe)
        self.agent.initialize()
        if recipe.agent == "ppo":
            length = recipe.collect_steps
        else:
            length = max(recipe.replay_capacity // recipe.num_envs, recipe.n_step_update + 1)
        self.buffer = tf_uniform_replay_buffer.TFUniformReplayBuffer(
            self.agent.collect_data_spec, batch_size=recipe.num_envs, max_length=length
        )
        self.env_steps = tf_metrics.EnvironmentSteps()
        self.driver = dynamic_step_driver.DynamicStepDriver(
            self.env,
            self.agent.collect_policy,
            observers=[self.buffer.add_batch, self.env_steps],
            num_steps=recipe.steps_per_round,
        )
        self.driver.run = common.function(self.driver.run, autograph=False)
        self.train = common.function(self.agent.train, autograph=False)
        self.time_step = None
        self.samples = None

    def _ppo(self, recipe: Any) -> Any:
        import tensorflow as tf
        from tf_agents.agents.ppo import ppo_clip_agent
        from tf_agents.networks import actor_distribution_network, value_network

        observation_spec = self.env.observation_spec()
        actor = actor_distribution_network.ActorDistributionNetwork(
            observation_spec,
            self.env.action_spec(),
            fc_layer_params=recipe.actor_layers,
            activation_fn=tf.nn.tanh,
        )
        value = value_network.ValueNetwork(
            observation_spec, fc_layer_params=recipe.value_layers, activation_fn=tf.nn.tanh
        )
        return ppo_clip_agent.PPOClipAgent(
            self.env.time_step_spec(),
            self.env.action_spec(),
            optimizer=tf.keras.optimizers.Adam(learning_rate=self._learning_rate(recipe)),
            actor_net=actor,
            value_net=value,
            **recipe.agent_kwargs,
            train_step_counter=self.counter,
        )

    def _learning_rate(self, recipe: Any) -> Any:
        """tfdrive's recipe learning rate, as TF-Agents' Keras builds it (a decay if set)."""
        import tensorflow as tf

        from tfdrive.train import recipes

        rate = recipes.learning_rate_for(recipe, self.steps)
        if isinstance(rate, float):
            return rate
        return tf.keras.optimizers.schedules.PolynomialDecay(**rate.get_config())

    def _dqn(self, recipe: Any) -> Any:
        import tensorflow as tf
        from tf_agents.agents.dqn import dqn_agent
        from tf_agents.networks import q_network

        counter = self.counter
        start, end = recipe.epsilon_start, recipe.epsilon_end
        decay = float(max(recipe.epsilon_decay_steps, 1))

        def epsilon() -> Any:
            progress = tf.minimum(tf.cast(counter, tf.float32) / decay, 1.0)
            return start + (end - start) * progress

        net = q_network.QNetwork(
            self.env.observation_spec(), self.env.action_spec(), fc_layer_params=recipe.q_layers
        )
        return dqn_agent.DqnAgent(
            self.env.time_step_spec(),
            self.env.action_spec(),
            q_network=net,
            optimizer=tf.keras.optimizers.Adam(learning_rate=recipe.learning_rate),
            epsilon_greedy=epsilon,
            n_step_update=recipe.n_step_update,
            target_update_period=recipe.target_update_period,
            gamma=recipe.gamma,
            gradient_clipping=recipe.gradient_clipping,
            train_step_counter=counter,
        )

    def round(self) -> int:
        """One round like tfdrive's learner; returns the env steps collected."""
        recipe = self.recipe
        if recipe.agent == "ppo":
            self.buffer.clear()
        if self.time_step is None:
            self.time_step = self.env.reset()
        before = int(self.env_steps.result())
        self.time_step, _ = self.driver.run(self.time_step)
        steps = int(self.env_steps.result()) - before
        if recipe.agent == "ppo":
            self.train(experience=self.buffer.gather_all())
            return steps
        if int(self.buffer.num_frames()) < max(recipe.learning_starts, recipe.batch_size):
            return steps
        if self.samples is None:
            dataset = self.buffer.as_dataset(
                sample_batch_size=recipe.batch_size,
                num_steps=recipe.n_step_update + 1,
                num_parallel_calls=2,
            ).prefetch(2)
            self.samples = iter(dataset)
        for _ in range(recipe.train_steps):
            experience, _ = next(self.samples)
            self.train(experience=experience)
        return steps

    def greedy_policy(self) -> Any:
        from tf_agents.policies import py_tf_eager_policy

        return py_tf_eager_policy.PyTFEagerPolicy(
            self.agent.policy, use_tf_function=True, batch_time_steps=False
        )


def run_tf_agents(
    agent: str, env_name: str, steps: int, eval_every: int, seed: int
) -> dict[str, Any]:
    from tfdrive.train import environments, recipes

    started = time.perf_counter()
    learner = TfaLearner(recipes.default_recipe(agent, env_name), env_name, seed, steps)
    greedy = learner.greedy_policy()
    # The eval envs of tfdrive's loop: 100 native envs seeded as it seeds them.
    eval_env = environments.make(env_name, 100, seed=seed + 1_000_003, clip_actions=True)
    history = [Point(0, 0.0, _evaluate(greedy, eval_env))]
    env_steps, seconds = 0, 0.0
    while env_steps < steps:
        round_start = time.perf_counter()
        env_steps += learner.round()
        seconds += time.perf_counter() - round_start
        if env_steps - history[-1].env_steps >= eval_every or env_steps >= steps:
            history.append(Point(env_steps, seconds, _evaluate(greedy, eval_env)))
    return {"history": history, "total_seconds": time.perf_counter() - started}


# tfdrive ---------------------------------------------------------------------


def run_tfdrive(
    agent: str, env_name: str, steps: int, eval_every: int, seed: int, out: Path
) -> dict[str, Any]:
    from tfdrive.train import loop

    started = time.perf_counter()
    result = loop.train(
        agent,
        env_name,
        steps=steps,
        seed=seed,
        eval_every=eval_every,
        eval_episodes=100,
        stop_when_solved=False,
        out=str(out / f"{agent}-{env_name}-seed{seed}-{int(time.time())}"),
    )
    history = [Point(p.env_steps, p.seconds, p.mean_return) for p in result.history]
    return {"history": history, "total_seconds": time.perf_counter() - started}


# Report ----------------------------------------------------------------------


def summarize(run: dict[str, Any], threshold: float) -> dict[str, Any]:
    history = run["history"]
    first = next((p for p in history if p.mean_return >= threshold), None)
    return {
        "final_return": history[-1].mean_return,
        "best_return": max(p.mean_return for p in history),
        "steps_to_solve": first and first.env_steps,
        "seconds_to_solve": first and first.seconds,
        "train_seconds": history[-1].seconds,
        "total_seconds": run["total_seconds"],
    }


def _spread(values: list[Any], fmt: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "never"
    text = format(statistics.median(known), fmt)
    if len(known) > 1:
        text += f" [{format(min(known), fmt)}, {format(max(known), fmt)}]"
    if len(known) < len(values):
        text += f" ({len(values) - len(known)} never)"
    return text


def report(name: str, threshold: float, results: dict[str, list[dict[str, Any]]]) -> str:
    from tfdrive.benchmarks import common

    rows = []
    for stack, runs in results.items():
        summaries = [summarize(r, threshold) for r in runs]
        for seed, s in zip((r["seed"] for r in runs), summaries):
            rows.append(
                [
                    stack,
                    str(seed),
                    f"{s['final_return']:.1f}",
                    f"{s['best_return']:.1f}",
                    "never" if s["steps_to_solve"] is None else f"{s['steps_to_solve']:,}",
                    "never" if s["seconds_to_solve"] is None else f"{s['seconds_to_solve']:.1f}",
                    f"{s['train_seconds']:.1f}",
                    f"{s['total_seconds']:.1f}",
                ]
            )
        rows.append(
            [
                f"**{stack}**",
                "median [range]",
                _spread([s["final_return"] for s in summaries], ".1f"),
                _spread([s["best_return"] for s in summaries], ".1f"),
                _spread([s["steps_to_solve"] for s in summaries], ",.0f"),
                _spread([s["seconds_to_solve"] for s in summaries], ".1f"),
                _spread([s["train_seconds"] for s in summaries], ".1f"),
                _spread([s["total_seconds"] for s in summaries], ".1f"),
            ]
        )
    headers = [
        "stack",
        "seed",
        "final return",
        "best return",
        f"env steps to {threshold:g}",
        f"train s to {threshold:g}",
        "train s",
        "total s",
    ]
    text = f"### {name}\n\n" + common.table(headers, rows)
    stacks = list(results)
    if len(stacks) == 2:
        ours, theirs = ([summarize(r, threshold) for r in results[s]] for s in stacks)
        ratio = _median_ratio(
            [s["seconds_to_solve"] for s in theirs], [s["seconds_to_solve"] for s in ours]
        )
        total = _median_ratio(
            [s["train_seconds"] for s in theirs], [s["train_seconds"] for s in ours]
        )
        text += (
            f"\n\n{stacks[1]} / {stacks[0]} train seconds to {threshold:g} (median): {ratio}; "
            f"for all steps: {total}"
        )
    return text


def _median_ratio(numerators: list[Any], denominators: list[Any]) -> str:
    pairs = [(a, b) for a, b in zip(numerators, denominators) if a is not None and b]
    if not pairs:
        return "n/a"
    return f"{statistics.median(a / b for a, b in pairs):.1f}x"


def plot(results: dict[str, dict[str, list[dict[str, Any]]]], threshold: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(results)
    figure, axes = plt.subplots(len(names), 2, figsize=(11, 3.8 * len(names)), squeeze=False)
    colours = {"tfdrive": "tab:blue", "TF-Agents": "tab:orange"}
    for row, name in enumerate(names):
        for stack, runs in results[name].items():
            for i, run in enumerate(runs):
                history = run["history"]
                label = stack if i == 0 else None
                returns = [p.mean_return for p in history]
                kwargs = {"color": colours.get(stack), "alpha": 0.8, "label": label}
                axes[row][0].plot([p.env_steps for p in history], returns, **kwargs)
                axes[row][1].plot([p.seconds for p in history], returns, **kwargs)
        for column, xlabel in enumerate(("env steps", "train seconds (collect + train)")):
            ax = axes[row][column]
            ax.axhline(threshold[name], color="grey", linestyle="--", linewidth=1)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("mean greedy return (100 episodes)")
            ax.set_title(name)
            ax.grid(alpha=0.3)
            ax.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="ppo-cartpole,dqn-cartpole", help=", ".join(RUNS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=None, help="override every run's steps")
    parser.add_argument("--stacks", default="tfdrive,TF-Agents")
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from tfdrive.benchmarks import common
    from tfdrive.train import loop

    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    stacks = args.stacks.split(",")
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    thresholds = {}
    texts = []
    for name in args.runs.split(","):
        agent, env_name, steps, eval_every = RUNS[name]
        steps = args.steps or steps
        thresholds[name] = loop.solved_return(env_name)
        results[name] = {stack: [] for stack in stacks}
        for seed in seeds:
            for stack in stacks:  # side by side, interleaved per seed
                print(f"{name} seed {seed}: {stack} ...", file=sys.stderr, flush=True)
                if stack == "tfdrive":
                    run = run_tfdrive(agent, env_name, steps, eval_every, seed, out / "runs")
                else:
                    run = run_tf_agents(agent, env_name, steps, eval_every, seed)
                run["seed"] = seed
                results[name][stack].append(run)
                s = summarize(run, thresholds[name])
                print(f"  {s}", file=sys.stderr, flush=True)
        texts.append(
            report(
                f"{name}: {agent.upper()} on native {env_name}, {steps:,} env steps",
                thresholds[name],
                results[name],
            )
        )
        print("\n" + texts[-1], flush=True)
    load = os.getloadavg()
    print(f"\nmachine: {common.machine()}; load average at the end: {load}")
    payload = {
        "load_average_at_end": load,
        "report": "\n\n".join(texts),
        "results": {
            name: {
                stack: [
                    {
                        "seed": r["seed"],
                        "total_seconds": r["total_seconds"],
                        "history": [dataclasses.asdict(p) for p in r["history"]],
                        **summarize(r, thresholds[name]),
                    }
                    for r in runs
                ]
                for stack, runs in by_stack.items()
            }
            for name, by_stack in results.items()
        },
    }
    print("wrote", common.write_json(out / "learning.json", payload))
    plot(results, thresholds, out / "learning.png")
    print("wrote", out / "learning.png")


if __name__ == "__main__":
    main()

"""PPO's train step: the one-off trace and the per-call time, tfdrive against TF-Agents 0.19.

Run (TF-Agents' column needs tf-agents 0.19 installed, e.g. the compat stack):

    python benches/bench_train_step.py [--repeats 3] [--calls 20] [--envs CartPole-v1,Pendulum-v1]

For each env's `tfdrive.train.recipes` PPO recipe (CartPole: 10 epochs on a
[64, 32] batch; Pendulum: 10 epochs on [64, 50], normalizers on), both
stacks build a `PPOClipAgent` with the recipe's networks (64x64 tanh actor
and value), Keras Adam with its slots built up front, and the same settings,
then train on the same synthetic experience of the recipe's batch shape
(observations, actions and policy infos drawn from fixed seeds, every step
MID):

* ``first call s``: the first call of `common.function(agent.train)`,
  which traces the train step (with autograph, as `tfdrive.train` and
  TF-Agents' examples call it) and runs it once;
* ``ms per call``: the median of `--calls` later calls of its concrete
  function.

Stacks alternate within each repeat (a fresh agent per repeat); medians over
repeats, with TF-Agents / tfdrive ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _tfdrive_agent(recipe: Any, time_step_spec: Any, action_spec: Any) -> Any:
    import tensorflow as tf

    from tfdrive.train import recipes

    return recipes.build_agent(recipe, time_step_spec, action_spec, tf.Variable(0, tf.int64))


def _tf_agents_agent(recipe: Any, time_step_spec: Any, action_spec: Any) -> Any:
    import tensorflow as tf
    from tf_agents.agents.ppo import ppo_clip_agent
    from tf_agents.networks import actor_distribution_network, value_network
    from tf_agents.specs import tensor_spec as tfa_tensor_spec
    from tf_agents.trajectories import time_step as tfa_ts

    # TF-Agents' own spec classes, so nothing of tfdrive runs on its side.
    def tfa_spec(spec: Any) -> Any:
        if hasattr(spec, "minimum"):
            return tfa_tensor_spec.BoundedTensorSpec(
                spec.shape, spec.dtype, spec.minimum, spec.maximum, spec.name
            )
        return tfa_tensor_spec.TensorSpec(spec.shape, spec.dtype, spec.name)

    observation_spec = tfa_spec(time_step_spec.observation)
    action_spec = tfa_spec(action_spec)
    actor = actor_distribution_network.ActorDistributionNetwork(
        observation_spec, action_spec, fc_layer_params=recipe.actor_layers, activation_fn=tf.nn.tanh
    )
    value = value_network.ValueNetwork(
        observation_spec, fc_layer_params=recipe.value_layers, activation_fn=tf.nn.tanh
    )
    optimizer = tf.keras.optimizers.Adam(learning_rate=recipe.learning_rate)
    agent = ppo_clip_agent.PPOClipAgent(
        tfa_ts.time_step_spec(observation_spec),
        action_spec,
        optimizer=optimizer,
        actor_net=actor,
        value_net=value,
        **recipe.agent_kwargs,
        train_step_counter=tf.Variable(0, tf.int64),
    )
    agent.initialize()
    optimizer.build(actor.trainable_variables + value.trainable_variables)
    return agent


def _experience(agent: Any, batch: int, steps: int, seed: int) -> Any:
    """A `[batch, steps]` nest of tensors matching `agent.collect_data_spec`, all MID steps."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def sample(spec: Any) -> Any:
        shape = (batch, steps, *spec.shape)
        if spec.dtype.is_integer:
            low = int(np.min(getattr(spec, "minimum", 0)))
            high = int(np.max(getattr(spec, "maximum", 1)))
            return tf.constant(rng.integers(low, high + 1, size=shape), spec.dtype)
        return tf.constant(rng.normal(size=shape).astype(spec.dtype.as_numpy_dtype))

    experience = tf.nest.map_structure(sample, agent.collect_data_spec)
    mid = tf.ones((batch, steps), tf.int32)
    return experience._replace(
        step_type=mid, next_step_type=mid, discount=tf.ones((batch, steps), tf.float32)
    )


def _measure(agent: Any, experience: Any, calls: int) -> tuple[float, float]:
    """(first call seconds, median ms per later call)."""
    from tfdrive.utils import common

    train = common.function(agent.train)
    start = time.perf_counter()
    train(experience=experience).loss.numpy()
    first = time.perf_counter() - start
    graph = train.get_concrete_function(experience=experience)
    per_call = []
    for _ in range(calls):
        start = time.perf_counter()
        graph(experience=experience, weights=None).loss.numpy()
        per_call.append(time.perf_counter() - start)
    return first, statistics.median(per_call) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--envs", default="CartPole-v1,Pendulum-v1")
    args = parser.parse_args()

    import tensorflow as tf

    from tfdrive.specs import tensor_spec
    from tfdrive.train import environments, recipes

    try:
        import tf_agents  # noqa: F401

        stacks = {"tfdrive": _tfdrive_agent, "TF-Agents": _tf_agents_agent}
    except ImportError:
        stacks = {"tfdrive": _tfdrive_agent}

    print(f"TensorFlow {tf.__version__}; medians of {args.repeats} repeats")
    print(
        "| env | batch | stack | first call s | ms per call | TF-Agents / tfdrive (first, per call) |"
    )
    print("|---|---|---|---|---|---|")
    for env_name in args.envs.split(","):
        recipe = recipes.default_recipe("ppo", env_name)
        env = environments.make(env_name, 1)
        time_step_spec = tensor_spec.from_spec(env.time_step_spec())
        action_spec = tensor_spec.from_spec(env.action_spec())
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in stacks}
        for repeat in range(args.repeats):
            for name, build in list(stacks.items()):
                try:
                    agent = build(recipe, time_step_spec, action_spec)
                except Exception as error:  # TF-Agents 0.19 on NumPy 2, for one
                    print(f"{name}'s agent does not build here: {type(error).__name__}: {error}")
                    del stacks[name], samples[name]
                    continue
                experience = _experience(agent, recipe.num_envs, recipe.collect_steps, seed=repeat)
                samples[name].append(_measure(agent, experience, args.calls))
        medians = {
            name: tuple(statistics.median(values) for values in zip(*runs))
            for name, runs in samples.items()
        }
        for name, (first, per_call) in medians.items():
            ratio = ""
            if name == "TF-Agents":
                ours = medians["tfdrive"]
                ratio = f"{first / ours[0]:.2f}x, {per_call / ours[1]:.2f}x"
            print(
                f"| {env_name} | {recipe.num_envs}x{recipe.collect_steps} | {name} "
                f"| {first:.2f} | {per_call:.1f} | {ratio} |"
            )


if __name__ == "__main__":
    main()

"""Envs and policies by name, as `tfdrive collect`, `tfdrive bench` and the benches build them.

- `build_env(name, num_envs, backend, seed)`: native envs, or Gymnasium envs
  batched by tfdrive;
- `build_ppo(time_step_spec, action_spec, hidden, seed)`: the PPO (actor +
  value MLPs) policy the collection benchmarks run;
- `build_policy(kind, env, hidden, seed, jit_compile)`: "ppo", "random" or a
  saved policy's directory, as a PyPolicy for `env`;
- `load_saved_policy(path, env, jit_compile)`: a saved policy, checked
  against `env`'s specs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["build_env", "build_policy", "build_ppo", "load_saved_policy"]


def build_env(name: str, num_envs: int, backend: str, seed: int) -> Any:
    """`num_envs` envs: native (always batched), or Gymnasium (batched in Rust when > 1)."""
    if backend == "native":
        from tfdrive.train import environments

        return environments.make(name, num_envs, backend, seed)
    from tfdrive.environments import batched_py_environment, suite_gymnasium

    envs = [suite_gymnasium.load(name) for _ in range(num_envs)]
    for i, env in enumerate(envs):
        env.seed(seed + i)
    return envs[0] if num_envs == 1 else batched_py_environment.BatchedPyEnvironment(envs)


def build_ppo(time_step_spec: Any, action_spec: Any, hidden: Sequence[int], seed: int) -> Any:
    """A PPOPolicy (TF) with actor and value MLPs of `hidden` units, for array specs."""
    import tensorflow as tf

    from tfdrive.agents.ppo import ppo_policy
    from tfdrive.networks import actor_distribution_network, value_network
    from tfdrive.specs import tensor_spec

    tf.random.set_seed(seed)
    time_step_spec = tensor_spec.from_spec(time_step_spec)
    action_spec = tensor_spec.from_spec(action_spec)
    actor = actor_distribution_network.ActorDistributionNetwork(
        time_step_spec.observation, action_spec, fc_layer_params=tuple(hidden)
    )
    value = value_network.ValueNetwork(time_step_spec.observation, fc_layer_params=tuple(hidden))
    return ppo_policy.PPOPolicy(time_step_spec, action_spec, actor, value)


def load_saved_policy(path: str, env: Any, jit_compile: bool = False) -> Any:
    """The SavedModel policy in directory `path` as a PyPolicy for `env`.

    Raises:
      ValueError: when the policy's observation or action spec differs from
        the env's (it was saved for another environment).
    """
    from tfdrive.policies import py_tf_eager_policy
    from tfdrive.specs import tensor_spec

    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        path,
        load_specs_from_pbtxt=True,
        use_tf_function=True,
        batch_time_steps=not env.batched,
        jit_compile=jit_compile,
    )
    for what, saved, wanted in (
        ("observation", policy.time_step_spec.observation, env.observation_spec()),
        ("action", policy.action_spec, env.action_spec()),
    ):
        saved, wanted = tensor_spec.from_spec(saved), tensor_spec.from_spec(wanted)
        if saved.shape != wanted.shape or saved.dtype != wanted.dtype:
            raise ValueError(
                f"the policy in {path} was saved for {what} spec (shape {saved.shape.as_list()}, "
                f"{saved.dtype.name}), but this environment's is (shape "
                f"{wanted.shape.as_list()}, {wanted.dtype.name}): pass the --env it was "
                "trained on"
            )
    return policy


def build_policy(
    kind: str, env: Any, hidden: Sequence[int], seed: int, jit_compile: bool = False
) -> Any:
    """A PyPolicy for `env`: a PPO actor-critic run as one TF graph, random, or saved (a path).

    `jit_compile` compiles a TF policy (PPO or saved) with XLA; a ValueError for random.
    """
    if kind not in ("ppo", "random"):
        return load_saved_policy(kind, env, jit_compile=jit_compile)
    if kind == "random":
        if jit_compile:
            raise ValueError("--xla needs a TensorFlow policy (ppo or a saved policy), not random")
        from tfdrive.policies import random_py_policy

        outer_dims = (env.batch_size,) if env.batched else None
        return random_py_policy.RandomPyPolicy(
            env.time_step_spec(), env.action_spec(), seed=seed, outer_dims=outer_dims
        )
    from tfdrive.policies import py_tf_eager_policy

    ppo = build_ppo(env.time_step_spec(), env.action_spec(), hidden, seed)
    return py_tf_eager_policy.PyTFEagerPolicy(
        ppo, use_tf_function=True, batch_time_steps=not env.batched, jit_compile=jit_compile
    )

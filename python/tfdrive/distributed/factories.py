"""Picklable env and policy factories for `DistributedCollector`, for the common cases.

    DistributedCollector(
        NativeEnvFactory("CartPole-v1", num_envs=16, seed=0),
        PPOPolicyFactory(hidden=(64, 64)),
        num_workers=4, steps_per_round=8192)

Each is a frozen dataclass, so it pickles by value into the Ray workers and
compares equal to a copy of itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = [
    "AgentCollectPolicy",
    "GymnasiumEnvFactory",
    "NativeEnvFactory",
    "PPOPolicyFactory",
    "env_factory",
    "published_variables",
]


@dataclasses.dataclass(frozen=True)
class NativeEnvFactory:
    """Worker w gets `native.make(name, num_envs, seed=seed + w)`.

    Sub-environment i of worker w is seeded from `(seed + w, i)`, so no two
    workers share a stream and a restarted worker replays its own.
    """

    name: str
    num_envs: int
    seed: int = 0
    num_threads: int | None = 1

    def __call__(self, worker_index: int) -> Any:
        from tfdrive.environments import native

        return native.make(
            self.name, self.num_envs, seed=self.seed + worker_index, num_threads=self.num_threads
        )


@dataclasses.dataclass(frozen=True)
class GymnasiumEnvFactory:
    """Worker w gets `num_envs` Gymnasium envs seeded `seed + w * num_envs + i`, batched."""

    name: str
    num_envs: int
    seed: int = 0

    def __call__(self, worker_index: int) -> Any:
        from tfdrive.environments import batched_py_environment, suite_gymnasium

        envs = [suite_gymnasium.load(self.name) for _ in range(self.num_envs)]
        for i, env in enumerate(envs):
            env.seed(self.seed + worker_index * self.num_envs + i)
        return batched_py_environment.BatchedPyEnvironment(envs)


def env_factory(name: str, num_envs: int, backend: str = "native", seed: int = 0) -> Any:
    """`NativeEnvFactory` or `GymnasiumEnvFactory` by `backend` ('native' or 'gymnasium')."""
    if backend == "native":
        from tfdrive.environments import native

        if name not in native.NAMES:
            raise ValueError(
                f"{name!r} is not a native environment (native: {', '.join(native.NAMES)}); "
                "use backend='gymnasium'"
            )
        return NativeEnvFactory(name, num_envs, seed)
    if backend == "gymnasium":
        return GymnasiumEnvFactory(name, num_envs, seed)
    raise ValueError(f"backend must be 'native' or 'gymnasium'; got {backend!r}")


def _limit_tf_threads(threads: int | None) -> None:
    """One worker process per core: TF's own thread pools would fight over the cores."""
    if threads is None:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TF already started in this process: keep its pools.
        pass


@dataclasses.dataclass(frozen=True)
class PPOPolicyFactory:
    """A `PPOPolicy` (collect mode) with actor and value MLPs of `hidden` units, for `env`.

    `tf_threads`: TF's intra- and inter-op threads in the worker (None: TF's
    default, one pool as wide as the machine).
    """

    hidden: tuple[int, ...] = (64, 64)
    seed: int = 0
    tf_threads: int | None = 1

    def __call__(self, env: Any) -> Any:
        _limit_tf_threads(self.tf_threads)
        import tensorflow as tf

        from tfdrive.agents.ppo import ppo_policy
        from tfdrive.networks import actor_distribution_network, value_network
        from tfdrive.specs import tensor_spec

        tf.random.set_seed(self.seed)
        time_step_spec = tensor_spec.from_spec(env.time_step_spec())
        action_spec = tensor_spec.from_spec(env.action_spec())
        actor = actor_distribution_network.ActorDistributionNetwork(
            time_step_spec.observation, action_spec, fc_layer_params=tuple(self.hidden)
        )
        value = value_network.ValueNetwork(
            time_step_spec.observation, fc_layer_params=tuple(self.hidden)
        )
        return ppo_policy.PPOPolicy(time_step_spec, action_spec, actor, value, collect=True)


@dataclasses.dataclass(frozen=True)
class AgentCollectPolicy:
    """The `collect_policy` of the agent `build_agent(time_step_spec, action_spec)` returns.

    `build_agent` gets the env's specs as tensor specs and must pickle (a
    module-level function, or a `functools.partial` of one). The learner
    builds its agent with the same function, so the variables line up, and
    publishes `published_variables(agent)` (or just `agent.collect_policy`
    when `with_train_step` is False).

    `with_train_step`: the agent's `train_step_counter` is published after
    the policy's variables, for collect policies that read it (DQN's
    epsilon schedule).
    """

    build_agent: Callable[[Any, Any], Any]
    with_train_step: bool = False
    tf_threads: int | None = 1

    def __call__(self, env: Any) -> Any:
        _limit_tf_threads(self.tf_threads)
        from tfdrive.specs import tensor_spec

        agent = self.build_agent(
            tensor_spec.from_spec(env.time_step_spec()), tensor_spec.from_spec(env.action_spec())
        )
        if not self.with_train_step:
            return agent.collect_policy
        return agent.collect_policy, published_variables(agent)


def published_variables(agent: Any) -> list[Any]:
    """The collect policy's variables, then the agent's train step counter (see above)."""
    return [*agent.collect_policy.variables(), agent.train_step_counter]

"""`tfdrive.train`'s learners with collection on Ray actors (`tfdrive train --workers N`).

`make_learner(agent, recipe, env, ..., num_workers=N)` returns an object
with the interface of `tfdrive.train.learners`' learners (`agent`,
`recipe`, `round()` returning a `RoundResult`, `checkpoint_objects()`), plus
`episode_return` (the mean return of the last 100 episodes the workers
finished, `result()` as `py_metrics.AverageReturnMetric` has it) and
`close()`. Each of the N workers runs `recipe.num_envs` envs of `env`
(worker w seeded from `seed + w`), with the agent's collect policy built
there by `recipes.build_agent` from the same recipe.

- PPO (`recipe.agent == 'ppo'`): every round is synchronous. The learner
  publishes its collect policy, each worker collects `[num_envs,
  collect_steps]` (its last `collect_steps` driver iterations), and the
  agent trains once on the N batches stacked along the batch axis:
  `[N * num_envs, collect_steps]`, one shape every round.
- DQN: collection is asynchronous. Each round takes the next batch of
  `num_envs * 64` steps from any worker into that worker's replay ring,
  then trains as many gradient steps as the recipe's replay ratio gives
  for those steps (`train_steps` per `steps_per_round` env steps), and
  publishes the collect policy with the train step counter (its epsilon
  schedule reads the counter).
"""

from __future__ import annotations

import collections
import functools
from typing import Any

import numpy as np

from tfdrive.distributed import factories
from tfdrive.distributed.collector import DistributedCollector

__all__ = ["DQN_ITERATIONS_PER_ROUND", "EpisodeReturn", "build_worker_agent", "make_learner"]

#: Driver iterations per DQN worker round: enough to amortise a Ray call.
DQN_ITERATIONS_PER_ROUND = 64


def build_worker_agent(recipe: Any, time_step_spec: Any, action_spec: Any) -> Any:
    """The recipe's agent in a worker, with a train step counter of its own."""
    import tensorflow as tf

    from tfdrive.train import recipes

    counter = tf.Variable(0, dtype=tf.int64, name="train_steps")
    return recipes.build_agent(recipe, time_step_spec, action_spec, counter)


class EpisodeReturn:
    """The mean return of the last `buffer_size` finished episodes (0.0 before the first)."""

    def __init__(self, buffer_size: int = 100):
        self._returns: collections.deque[float] = collections.deque(maxlen=buffer_size)

    def extend(self, returns: np.ndarray) -> None:
        self._returns.extend(float(r) for r in returns)

    def result(self) -> np.float32:
        return np.float32(np.mean(self._returns) if self._returns else 0.0)

    @property
    def data(self) -> np.ndarray:
        """The returns kept (as `AverageReturnMetric.data`: empty before the first episode)."""
        return np.asarray(self._returns, np.float32)


class _DistributedLearner:
    def __init__(self, agent: Any, recipe: Any, collector: DistributedCollector):
        from tfdrive.utils import common

        self.agent = agent
        self.recipe = recipe
        self.collector = collector
        self.episode_return = EpisodeReturn()
        self._train = common.function(agent.train)

    def checkpoint_objects(self) -> dict[str, Any]:
        """Nothing beside the agent: the workers' state is not checkpointed."""
        return {}

    def _train_on(self, experience: Any) -> Any:
        import tensorflow as tf

        experience = tf.nest.map_structure(tf.convert_to_tensor, experience)
        loss_info = self._train(experience=experience)
        if not np.isfinite(loss_info.loss.numpy()):
            raise FloatingPointError(
                f"the {self.recipe.agent} loss became {float(loss_info.loss)} at train step "
                f"{int(self.agent.train_step_counter.numpy())}; lower the learning rate"
            )
        return loss_info

    def close(self) -> None:
        self.collector.close()


class OnPolicyLearner(_DistributedLearner):
    """PPO's round over N workers: publish, collect `[N * B, T]`, train once."""

    def round(self) -> Any:
        from tfdrive.train.learners import RoundResult
        from tfdrive.utils import nest

        round_ = self.collector.collect(weights=self.agent.collect_policy)
        self.episode_return.extend(round_.episode_returns)
        stacked = nest.map_structure(
            lambda *leaves: np.concatenate(leaves, axis=0),
            *[batch.trajectory for batch in round_.batches],
        )
        loss_info = self._train_on(stacked)
        return RoundResult(round_.num_steps, self.recipe.num_epochs, loss_info)


class ReplayLearner(_DistributedLearner):
    """DQN's round over N workers: one asynchronous batch into its replay ring, then train."""

    def __init__(self, agent: Any, recipe: Any, collector: DistributedCollector, seed: int = 0):
        from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer

        super().__init__(agent, recipe, collector)
        batch_size = recipe.num_envs
        length = max(
            recipe.replay_capacity // (collector.num_workers * batch_size),
            recipe.n_step_update + 1,
        )
        self.buffers = [
            TrajectoryBuffer(agent.collect_data_spec, batch_size, length)
            for _ in range(collector.num_workers)
        ]
        self._rng = np.random.default_rng(seed)
        self._owed = 0.0  # Gradient steps earned by collected steps, not yet taken.

    def _publish(self) -> None:
        self.collector.publish(factories.published_variables(self.agent))

    def round(self) -> Any:
        from tfdrive.train.learners import RoundResult
        from tfdrive.utils import nest

        recipe = self.recipe
        if self.collector.version == 0:
            self._publish()
            self.collector.start()
        batch = self.collector.next()
        self.episode_return.extend(batch.episode_returns)
        buffer = self.buffers[batch.worker_index]
        for t in range(batch.shape[1]):
            buffer.add_batch(nest.map_structure(lambda a, t=t: a[:, t], batch.trajectory))
        frames = sum(b.num_frames() for b in self.buffers)
        if frames < max(recipe.learning_starts, recipe.batch_size):
            return RoundResult(batch.num_steps, 0)
        self._owed += batch.num_steps * recipe.train_steps / recipe.steps_per_round
        steps, loss_info = int(self._owed), None
        self._owed -= steps
        window = recipe.n_step_update + 1
        ready = [b for b in self.buffers if b.size >= window]
        for _ in range(steps):
            source = ready[self._rng.integers(len(ready))]
            windows = source.sample(recipe.batch_size, num_steps=window, rng=self._rng)
            loss_info = self._train_on(windows)
        self._publish()
        return RoundResult(batch.num_steps, steps, loss_info)


def make_learner(
    agent: Any,
    recipe: Any,
    env: str,
    *,
    backend: str = "native",
    seed: int = 0,
    num_workers: int,
    ray_address: str | None = None,
    timeout_s: float = 300.0,
    num_cpus_per_worker: float = 1,
) -> OnPolicyLearner | ReplayLearner:
    """The distributed learner for `recipe`'s kind of agent (see the module docs).

    Args:
      agent: the learner's agent, built by `recipes.build_agent(recipe, ...)`.
      recipe: a `PPORecipe` or `DQNRecipe`.
      env: the env id; `backend`: 'native' or 'gymnasium'.
      seed: worker w's envs are seeded from `seed + w`.
      num_workers: the Ray actors (>= 1).
      ray_address: None: a local Ray instance (or the one this process
        already started); "HOST:PORT": join that cluster.
      timeout_s, num_cpus_per_worker: as `DistributedCollector` has them.

    Raises:
      ValueError, TypeError, ConnectionError: see `DistributedCollector`.
    """
    env_factory = factories.env_factory(env, recipe.num_envs, backend, seed)
    ppo = recipe.agent == "ppo"
    policy_factory = factories.AgentCollectPolicy(
        functools.partial(build_worker_agent, recipe), with_train_step=not ppo
    )
    per_worker = (
        recipe.num_envs * recipe.collect_steps
        if ppo
        else recipe.num_envs * DQN_ITERATIONS_PER_ROUND
    )
    collector = DistributedCollector(
        env_factory,
        policy_factory,
        num_workers,
        num_workers * per_worker,
        time_steps=recipe.collect_steps if ppo else None,
        data_spec=agent.collect_data_spec,
        timeout_s=timeout_s,
        num_cpus_per_worker=num_cpus_per_worker,
        ray_address=ray_address,
    )
    if ppo:
        return OnPolicyLearner(agent, recipe, collector)
    return ReplayLearner(agent, recipe, collector, seed=seed)

"""One round of collection and training, per kind of agent.

A learner owns the agent's collect side: the collect policy (the agent's
`collect_policy` run as one graph by `PyTFEagerPolicy`), tfdrive's
`PyDriver` on the batched env, and the `TrajectoryBuffer` the driver fills
natively. `round()` collects `recipe.steps_per_round` env steps, trains,
and returns what it did:

- `OnPolicyLearner` (PPO): the buffer holds one `[B, T]` batch; each round
  refills it and trains on all of it (`agent.train` runs the epochs), as
  TF-Agents' PPO examples do with `gather_all`.
- `ReplayLearner` (DQN): the buffer is a replay ring of `[B, capacity / B]`
  steps; each round adds `B * collect_steps` steps and runs
  `recipe.train_steps` gradient steps on uniformly drawn windows of
  `n_step_update + 1` steps (`[batch_size, n + 1]` trajectories).

The driver is built at the first round, so that a checkpoint can restore
the replay buffer (see `checkpoint_objects`) before collection starts.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive.train import recipes

__all__ = ["OnPolicyLearner", "ReplayLearner", "RoundResult", "make_learner"]


@dataclasses.dataclass
class RoundResult:
    """What one round did.

    Attributes:
      env_steps: env steps collected (over the batch; boundary steps excluded).
      train_steps: gradient steps taken.
      loss_info: the agent's `LossInfo` of the last gradient step (tensors),
        None when the round did not train.
    """

    env_steps: int
    train_steps: int
    loss_info: Any = None


class _PickledBuffer(tf.train.experimental.PythonState):
    """Checkpoints a `TrajectoryBuffer` (storage and ring position) through its pickling."""

    def __init__(self, buffer: Any):
        self._buffer = buffer

    def serialize(self) -> bytes:
        return pickle.dumps(self._buffer, protocol=pickle.HIGHEST_PROTOCOL)

    def deserialize(self, string_value: Any) -> None:
        restored = pickle.loads(bytes(string_value))
        self._buffer.__setstate__(restored.__getstate__())


class _Learner:
    """Shared set-up: the collect policy, the buffer, the driver and the compiled train step."""

    def __init__(
        self,
        agent: Any,
        env: Any,
        recipe: recipes.Recipe,
        buffer_length: int,
        observers: Sequence[Any] = (),
    ):
        from tfdrive.policies import py_tf_eager_policy
        from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer
        from tfdrive.utils import common

        self.agent = agent
        self.env = env
        self.recipe = recipe
        self.buffer = TrajectoryBuffer(agent.collect_data_spec, env.batch_size, buffer_length)
        self._collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
            agent.collect_policy, use_tf_function=True, batch_time_steps=False
        )
        self._observers = list(observers)
        self._train = common.function(agent.train)
        self._train_graph: Any = None
        self._driver: Any = None
        self._time_step: Any = None
        self._policy_state: Any = None

    def checkpoint_objects(self) -> dict[str, Any]:
        """Trackables to checkpoint beside the agent (none by default)."""
        return {}

    def _collect(self) -> int:
        """Runs the driver for one round's env steps; returns the steps taken."""
        from tfdrive.drivers.py_driver import PyDriver

        if self._driver is None:
            self._driver = PyDriver(
                self.env,
                self._collect_policy,
                [self.buffer, *self._observers],
                max_steps=self.recipe.steps_per_round,
            )
            self._time_step = self.env.reset()
            self._policy_state = self._collect_policy.get_initial_state(self.env.batch_size)
        self._time_step, self._policy_state = self._driver.run(self._time_step, self._policy_state)
        return self._driver.last_run_stats.num_steps

    def _train_on(self, experience: Any) -> Any:
        """One `agent.train` call; its `LossInfo`. Raises FloatingPointError on a NaN loss."""
        experience = tf.nest.map_structure(tf.convert_to_tensor, experience)
        if self._train_graph is None:
            loss_info = self._train(experience=experience)
            # Batches keep their shapes: later calls go to the traced graph
            # directly, without tf.function's per-call dispatch on the inputs.
            self._train_graph = self._train.get_concrete_function(experience=experience)
        else:
            loss_info = self._train_graph(experience=experience, weights=None)
        if not np.isfinite(loss_info.loss.numpy()):
            raise FloatingPointError(
                f"the {self.recipe.agent} loss became {float(loss_info.loss)} at train step "
                f"{int(self.agent.train_step_counter.numpy())}; lower the learning rate"
            )
        return loss_info


class OnPolicyLearner(_Learner):
    """PPO's round: refill the `[B, T]` buffer, then train on the whole batch."""

    recipe: recipes.PPORecipe

    def __init__(self, agent: Any, env: Any, recipe: recipes.PPORecipe, observers=()):
        # A ring of exactly T slots: a run that overshoots its step limit
        # (boundary steps are not counted) keeps the latest T, so the
        # batch shape, and the train graph, never change.
        super().__init__(agent, env, recipe, recipe.collect_steps, observers)

    def round(self) -> RoundResult:
        self.buffer.clear()
        steps = self._collect()
        loss_info = self._train_on(self.buffer.gather_all())
        return RoundResult(steps, self.recipe.num_epochs, loss_info)


class ReplayLearner(_Learner):
    """DQN's round: add to the replay ring, then train on sampled n-step windows."""

    recipe: recipes.DQNRecipe

    def __init__(
        self, agent: Any, env: Any, recipe: recipes.DQNRecipe, observers=(), seed: int = 0
    ):
        length = max(recipe.replay_capacity // env.batch_size, recipe.n_step_update + 1)
        super().__init__(agent, env, recipe, length, observers)
        self._rng = np.random.default_rng(seed)

    def checkpoint_objects(self) -> dict[str, Any]:
        return {"replay_buffer": _PickledBuffer(self.buffer)}

    def round(self) -> RoundResult:
        recipe = self.recipe
        steps = self._collect()
        if self.buffer.num_frames() < max(recipe.learning_starts, recipe.batch_size):
            return RoundResult(steps, 0)
        loss_info = None
        for _ in range(recipe.train_steps):
            windows = self.buffer.sample(
                recipe.batch_size, num_steps=recipe.n_step_update + 1, rng=self._rng
            )
            loss_info = self._train_on(windows)
        return RoundResult(steps, recipe.train_steps, loss_info)


def make_learner(
    agent: Any,
    env: Any,
    recipe: recipes.Recipe,
    observers: Sequence[Any] = (),
    seed: int = 0,
    jit_compile: bool = False,
) -> _Learner:
    """The learner for `recipe`'s kind of agent; `jit_compile`: the collect policy under XLA."""
    learner: _Learner
    if isinstance(recipe, recipes.DQNRecipe):
        learner = ReplayLearner(agent, env, recipe, observers, seed=seed)
    else:
        learner = OnPolicyLearner(agent, env, recipe, observers)
    if jit_compile:
        from tfdrive.policies import py_tf_eager_policy

        learner._collect_policy = py_tf_eager_policy.PyTFEagerPolicy(
            agent.collect_policy, use_tf_function=True, batch_time_steps=False, jit_compile=True
        )
    return learner

"""One collection worker: an env and a policy built from factories, run by PyDriver per round.

`CollectorWorker` is a plain class; `DistributedCollector` runs each one as
a Ray actor (`ray.remote(CollectorWorker)`), and it runs in-process as well
(what the tests compare the actors with).

Factories (called in the worker's process, so they must pickle):

- `env_factory(worker_index)` returns a `PyEnvironment` (batched or not:
  tfdrive's native envs, Gymnasium envs through `suite_gymnasium` or a
  `BatchedPyEnvironment`, TF-Agents' envs). Seed it from `worker_index`
  (e.g. `native.make("CartPole-v1", 16, seed=1000 + worker_index)`); a
  restarted worker calls it again with the same index.
- `policy_factory(env)` returns a `TFPolicy` (run through `PyTFEagerPolicy`
  as one graph), a `PyPolicy` (numpy, run as is), or the directory of a
  policy saved by `PolicySaver` (loaded with `SavedModelPyTFEagerPolicy`).
  Published weights go to the policy's variables; to publish others too,
  it returns `(policy, variables)`: the TF variables, in the order the
  learner publishes them (e.g. the collect policy's variables and the
  agent's train step counter, which an epsilon schedule reads).

Each `collect` round loads the published weights if they are newer than the
worker's, runs `PyDriver(max_steps=steps_per_round)` from where the previous
round stopped (the env is reset once, at the first round), and returns a
`TrajectoryBatch` of the round's trajectories, filled natively by a
`TrajectoryBuffer` observer.
"""

from __future__ import annotations

import math
import os
import socket
import time
from typing import Any

import numpy as np

from tfdrive.distributed import weights as weights_lib
from tfdrive.distributed.batch import EpisodeAccumulator, TrajectoryBatch
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer
from tfdrive.utils import nest

__all__ = ["CollectorWorker", "WorkerInfo"]

_ENV_METHODS = ("reset", "step", "time_step_spec", "action_spec")


class WorkerInfo(dict):
    """What a worker reports after building its env and policy (a dict).

    Keys: `worker_index`, `host`, `pid`, `batch_size` (B of its batches),
    `time_step_spec`, `action_spec`, `trajectory_spec` (array specs), and
    `variables` (a `weights.Signature`, or None for a policy without TF
    variables).
    """


class CollectorWorker:
    """Collects `steps_per_round` env steps per `collect()` call.

    Args:
      env_factory: `env_factory(worker_index) -> PyEnvironment`.
      policy_factory: `policy_factory(env) -> TFPolicy | PyPolicy | str`
        (a saved-policy directory).
      worker_index: this worker's index, passed to `env_factory`.
      steps_per_round: env steps per round, counted as `PyDriver` counts
        them (over the whole batch; a round overshoots by less than B).
      time_steps: None: a batch holds every iteration of the round
        (`[B, T]`, T varies a little with the boundaries). An int T: it
        holds the round's last T iterations, always `[B, T]` (for a train
        step compiled for one shape); needs `steps_per_round >= B * T`.
        Episode metrics count the whole round either way.

    A factory that raises, or returns something else, is reported by every
    method call (not by the constructor), so that the collector receives
    the error with its type and traceback.
    """

    def __init__(
        self,
        env_factory: Any,
        policy_factory: Any,
        worker_index: int,
        steps_per_round: int,
        time_steps: int | None = None,
    ):
        self.worker_index = int(worker_index)
        self._steps_per_round = int(steps_per_round)
        self._time_steps = None if time_steps is None else int(time_steps)
        self._setup_error: BaseException | None = None
        try:
            self._setup(env_factory, policy_factory)
        except Exception as error:  # noqa: BLE001 - re-raised by every call, see the docs
            self._setup_error = error

    def _setup(self, env_factory: Any, policy_factory: Any) -> None:
        env = env_factory(self.worker_index)
        missing = [m for m in _ENV_METHODS if not callable(getattr(env, m, None))]
        if missing:
            raise TypeError(
                f"env_factory({self.worker_index}) returned {type(env).__name__} {env!r:.80}, "
                f"not an environment (it lacks {', '.join(missing)})"
            )
        batched = bool(getattr(env, "batched", False))
        self._batch_size = int(env.batch_size) if batched else 1
        self._env = env
        made = policy_factory(env)
        variables = None
        if isinstance(made, tuple) and len(made) == 2 and isinstance(made[1], list | tuple):
            made, variables = made
        self._policy = _as_py_policy(made, batched, self.worker_index)
        if variables is None:
            variables = weights_lib.assignable_variables(self._policy)
        elif not all(hasattr(v, "assign") for v in variables):
            raise TypeError(
                f"policy_factory(env) returned (policy, variables) in worker {self.worker_index} "
                "whose variables are not all TF variables"
            )
        self._variables = None if variables is None else list(variables)
        self._version = 0
        if self._time_steps is not None and self._steps_per_round < (
            self._batch_size * self._time_steps
        ):
            raise ValueError(
                f"time_steps={self._time_steps} needs at least batch size x time_steps = "
                f"{self._batch_size * self._time_steps} steps per round from worker "
                f"{self.worker_index}; it collects {self._steps_per_round}"
            )
        # The driver stops once steps >= steps_per_round; every iteration
        # takes at least one step in each row but a boundary (LAST -> FIRST),
        # which follows a step, so no run takes more iterations than this.
        max_iterations = 2 * math.ceil(self._steps_per_round / self._batch_size) + 2
        self._buffer = TrajectoryBuffer(
            self._policy.trajectory_spec, self._batch_size, max_iterations
        )
        self._driver = PyDriver(env, self._policy, [self._buffer], max_steps=self._steps_per_round)
        self._episodes = EpisodeAccumulator(self._batch_size)
        self._time_step: Any = None
        self._policy_state: Any = None

    def _check_setup(self) -> None:
        if self._setup_error is not None:
            raise self._setup_error

    def info(self) -> WorkerInfo:
        """The worker's specs and variable signature (see `WorkerInfo`)."""
        self._check_setup()
        return WorkerInfo(
            worker_index=self.worker_index,
            host=socket.gethostname(),
            pid=os.getpid(),
            batch_size=self._batch_size,
            time_step_spec=self._policy.time_step_spec,
            action_spec=self._policy.action_spec,
            trajectory_spec=self._policy.trajectory_spec,
            variables=(
                None if self._variables is None else weights_lib.Signature.of(self._variables)
            ),
        )

    def load_weights(self, version: int, weights: Any) -> int:
        """Assigns published weights unless the worker already has `version`; returns its version.

        Args:
          version: the published version (positive).
          weights: the arrays (see `weights.to_numpy`), or a one-element
            list holding their Ray `ObjectRef` (fetched only when needed).
        """
        self._check_setup()
        if weights is None or version == self._version:
            return self._version
        if self._variables is None:
            raise TypeError(
                f"worker {self.worker_index}: its policy ({type(self._policy).__name__}) has no "
                "TF variables to load published weights into"
            )
        arrays = _resolve(weights)
        weights_lib.assign(self._variables, arrays)
        self._version = int(version)
        return self._version

    def collect(self, version: int = 0, weights: Any = None) -> TrajectoryBatch:
        """Loads `weights` (if newer) and collects one round; see the module docs."""
        self.load_weights(version, weights)
        if self._time_step is None:
            self._time_step = self._env.reset()
            self._policy_state = self._policy.get_initial_state(self._batch_size)
            self._episodes.reset()
        self._buffer.clear()
        start = time.perf_counter()
        self._time_step, self._policy_state = self._driver.run(self._time_step, self._policy_state)
        seconds = time.perf_counter() - start
        stats = self._driver.last_run_stats
        assert stats is not None, "PyDriver.run returned without its stats"
        if stats.iterations > self._buffer.max_length:  # pragma: no cover - bounded above
            raise RuntimeError(
                f"worker {self.worker_index}: a round took {stats.iterations} iterations, more "
                f"than its buffer holds ({self._buffer.max_length})"
            )
        # One copy out of the buffer's storage into C-contiguous arrays: Ray
        # sends those out-of-band and the learner reads them without a copy.
        trajectory = self._buffer.as_numpy()
        returns, lengths = self._episodes(trajectory)
        kept = slice(-self._time_steps, None) if self._time_steps else slice(None)
        trajectory = nest.map_structure(lambda a: np.ascontiguousarray(a[:, kept]), trajectory)
        return TrajectoryBatch(
            worker_index=self.worker_index,
            policy_version=self._version,
            trajectory=trajectory,
            num_steps=int(stats.num_steps),
            num_episodes=int(stats.num_episodes),
            episode_returns=returns,
            episode_lengths=lengths,
            seconds=seconds,
        )

    def exit(self, code: int = 1) -> None:
        """Ends the worker's process at once (for fault tests and benchmarks)."""
        os._exit(code)


def _resolve(weights: Any) -> Any:
    """The arrays of `weights`: fetched from Ray's object store when it is `[ObjectRef]`."""
    if isinstance(weights, list) and len(weights) == 1 and _is_object_ref(weights[0]):
        import ray

        return ray.get(weights[0])
    return weights


def _is_object_ref(value: Any) -> bool:
    return type(value).__name__ == "ObjectRef" and type(value).__module__.startswith("ray")


def _is_tf_policy(policy: Any) -> bool:
    """A TF policy (tfdrive's or TF-Agents'): its specs carry TF dtypes."""
    try:
        leaves = nest.flatten(policy.action_spec)
    except Exception:  # noqa: BLE001 - not a policy at all
        return False
    return bool(leaves) and hasattr(getattr(leaves[0], "dtype", None), "as_numpy_dtype")


def _as_py_policy(policy: Any, batched: bool, worker_index: int) -> Any:
    """`policy` as a numpy policy the driver runs (see the module docs for what is accepted)."""
    if isinstance(policy, str | os.PathLike):
        from tfdrive.policies import py_tf_eager_policy

        # A saved policy's signatures name TFP's distribution type specs,
        # which exist only once TFP is imported (a fresh worker has not).
        try:
            import tensorflow_probability  # noqa: F401
        except ImportError:
            pass

        return py_tf_eager_policy.SavedModelPyTFEagerPolicy(
            os.fspath(policy),
            load_specs_from_pbtxt=True,
            use_tf_function=True,
            batch_time_steps=not batched,
        )
    if _is_tf_policy(policy):
        from tfdrive.policies import py_tf_eager_policy

        return py_tf_eager_policy.PyTFEagerPolicy(
            policy, use_tf_function=True, batch_time_steps=not batched
        )
    if callable(getattr(policy, "action", None)) and hasattr(policy, "trajectory_spec"):
        return policy
    raise TypeError(
        f"policy_factory(env) returned {type(policy).__name__} {policy!r:.80} in worker "
        f"{worker_index}; expected a TFPolicy, a PyPolicy, or the directory of a saved policy"
    )

"""`DistributedCollector`: N Ray actors collecting with tfdrive's PyDriver, for a learner.

    ray = cluster.connect()                     # or cluster.connect("HEAD:6379")
    with DistributedCollector(env_factory, policy_factory, num_workers=4,
                              steps_per_round=8192) as collector:
        for _ in range(rounds):                 # on-policy (PPO): synchronous rounds
            round_ = collector.collect(weights=agent.collect_policy)
            for batch in round_.batches:
                agent.train(to_tensors(batch.trajectory))

        collector.start()                       # off-policy (DQN): asynchronous
        for _ in range(n):
            batch = collector.next()            # the first batch to arrive
            replay.add(batch.trajectory); ...   # train, then now and then:
            collector.publish(agent.collect_policy)

Each worker (`worker.CollectorWorker` as a Ray actor) builds its env and
policy from the factories and collects `steps_per_round / num_workers` env
steps per round (worker i gets one more while i < the remainder).

Weights: `publish(weights)` reads the policy's variables as numpy, checks
them against the workers' variables, puts them in Ray's object store once
and bumps the version (1, 2, ...; 0 is the factory's policy). A worker
loads the newest version it was handed before it collects; every batch
carries the version it was collected with. `collect()` is a synchronous
round: every worker collects with the same, newest version. `start()` and
`next()` collect asynchronously: each worker starts its next round as soon
as its batch is taken, with the newest weights published by then.

Faults: when a worker's round fails (its process died, or its env or policy
raised), its partial batch is dropped, Ray restarts the worker (a fresh
process re-runs the factories; `max_restarts`) and the round is collected
again from it, so every round still holds `steps_per_round` steps. After
`max_restarts` restarts of one worker, `WorkerError` reaches the caller with
the worker's traceback, and every worker is shut down. Every wait has a
timeout (`timeout_s`): a worker that sends nothing in time raises
`TimeoutError` naming it.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from typing import Any

import numpy as np

from tfdrive.distributed import cluster, spec_check
from tfdrive.distributed import weights as weights_lib
from tfdrive.distributed.batch import TrajectoryBatch
from tfdrive.distributed.worker import CollectorWorker, WorkerInfo

__all__ = ["DistributedCollector", "Round", "WorkerError", "local_workers"]


class WorkerError(RuntimeError):
    """A worker failed more often than `max_restarts` allows, or could not start.

    Attributes:
      worker_index: the worker.
      restarts: how often it was restarted before this error.
      remote_traceback: the failure as the worker reported it (Ray's text,
        with the Python traceback from the worker's process).
    """

    def __init__(self, worker_index: int, restarts: int, remote_traceback: str, message: str):
        super().__init__(f"worker {worker_index}: {message}\n{remote_traceback}")
        self.worker_index = worker_index
        self.restarts = restarts
        self.remote_traceback = remote_traceback


@dataclasses.dataclass
class Round:
    """One synchronous round: every worker's batch, collected with one weights version.

    Attributes:
      batches: one `TrajectoryBatch` per worker, by worker index.
      policy_version: the weights version every batch was collected with.
      seconds: the round's wall time (submission to the last batch).
    """

    batches: list[TrajectoryBatch]
    policy_version: int
    seconds: float

    @property
    def num_steps(self) -> int:
        return sum(b.num_steps for b in self.batches)

    @property
    def num_episodes(self) -> int:
        return sum(b.num_episodes for b in self.batches)

    @property
    def episode_returns(self) -> np.ndarray:
        return np.concatenate([b.episode_returns for b in self.batches])

    @property
    def episode_lengths(self) -> np.ndarray:
        return np.concatenate([b.episode_lengths for b in self.batches])

    @property
    def restarts(self) -> int:
        return sum(b.restarts for b in self.batches)


def _picklable(value: Any, argument: str) -> None:
    from ray import cloudpickle

    try:
        cloudpickle.dumps(value)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise TypeError(
            f"{argument} cannot be pickled for the Ray workers ({error}); use a module-level "
            "function or class instance whose attributes pickle"
        ) from None


def _whole(value: Any, argument: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}; got {value!r}")
    return int(value)


class DistributedCollector:
    """Collects trajectories on `num_workers` Ray actors (see the module docs).

    Args:
      env_factory: `env_factory(worker_index) -> PyEnvironment`, run in each
        worker (see `worker`); it must pickle.
      policy_factory: `policy_factory(env) -> TFPolicy | PyPolicy | str`
        (a saved-policy directory), run in each worker; it must pickle.
      num_workers: the number of actors (>= 1).
      steps_per_round: env steps per round over all workers (>= num_workers).
      time_steps: None, or T: every batch is `[B, T]`, the last T driver
        iterations of the worker's round (see `worker.CollectorWorker`);
        each worker's share of `steps_per_round` must be at least B * T.
      data_spec: optional: the spec the learner expects (e.g. an agent's
        `collect_data_spec`); the workers' trajectory spec must match it
        (structure, shapes, dtypes), and so must every batch.
      max_restarts: restarts allowed per worker before `WorkerError`.
      timeout_s: the longest wait for any worker (start-up, a batch).
      num_cpus_per_worker: the CPUs Ray reserves per actor.
      ray_address: None: use Ray as initialised in this process, or start a
        local instance; otherwise join that cluster (see `cluster.connect`).

    Raises:
      ValueError: a bad count or timeout; workers whose specs differ; a
        trajectory spec that does not match `data_spec`.
      TypeError: a factory that does not pickle; (from a worker, with its
        index) a factory that returns no env or policy.
      WorkerError: a worker that cannot start for another reason.
      TimeoutError: a worker that does not report within `timeout_s`.
    """

    def __init__(
        self,
        env_factory: Any,
        policy_factory: Any,
        num_workers: int,
        steps_per_round: int,
        *,
        time_steps: int | None = None,
        data_spec: Any = None,
        max_restarts: int = 3,
        timeout_s: float = 300.0,
        num_cpus_per_worker: float = 1,
        ray_address: str | None = None,
    ):
        self._num_workers = _whole(num_workers, "num_workers", 1)
        self._steps_per_round = _whole(steps_per_round, "steps_per_round", self._num_workers)
        self._max_restarts = _whole(max_restarts, "max_restarts", 0)
        if time_steps is not None:
            time_steps = _whole(time_steps, "time_steps", 1)
        if not (isinstance(timeout_s, int | float) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds; got {timeout_s!r}")
        self._timeout_s = float(timeout_s)
        for value, argument in ((env_factory, "env_factory"), (policy_factory, "policy_factory")):
            if not callable(value):
                raise TypeError(f"{argument} must be callable; got {type(value).__name__}")
        self._ray = cluster.connect(ray_address)
        _picklable(env_factory, "env_factory")
        _picklable(policy_factory, "policy_factory")
        share, extra = divmod(self._steps_per_round, self._num_workers)
        self._steps = [share + (i < extra) for i in range(self._num_workers)]
        actor_class = self._ray.remote(
            max_restarts=self._max_restarts,
            max_task_retries=0,
            num_cpus=num_cpus_per_worker,
        )(CollectorWorker)
        self._actors = [
            actor_class.remote(env_factory, policy_factory, i, self._steps[i], time_steps)
            for i in range(self._num_workers)
        ]
        self._restarts = [0] * self._num_workers
        self._version = 0
        self._weights_ref: Any = None
        self._in_flight: dict[Any, int] = {}  # async: ObjectRef -> worker index
        try:
            self._infos = self._start_up()
            self._check_specs(data_spec)
        except BaseException:
            self.close()
            raise

    # Set-up -------------------------------------------------------------

    def _start_up(self) -> list[WorkerInfo]:
        refs = [actor.info.remote() for actor in self._actors]
        infos: list[WorkerInfo] = []
        deadline = time.monotonic() + self._timeout_s  # For all of them together.
        for i, ref in enumerate(refs):
            try:
                remaining = max(deadline - time.monotonic(), 0.001)
                infos.append(self._ray.get(ref, timeout=remaining))
            except self._ray.exceptions.GetTimeoutError:
                raise TimeoutError(
                    f"worker {i} did not start within timeout_s={self._timeout_s:g} s "
                    "(are there enough free CPUs in the cluster for the workers?)"
                ) from None
            except self._ray.exceptions.RayTaskError as error:
                cause = error.cause
                if isinstance(cause, TypeError | ValueError):
                    raise type(cause)(f"worker {i} could not start: {cause}") from error
                raise WorkerError(i, 0, str(error), "could not start") from None
            except self._ray.exceptions.RayActorError as error:
                raise WorkerError(i, 0, str(error), "could not start") from None
        return infos

    def _check_specs(self, data_spec: Any) -> None:
        first = self._infos[0]
        for info in self._infos[1:]:
            for key in ("time_step_spec", "action_spec", "trajectory_spec"):
                found = spec_check.spec_mismatch(info[key], first[key])
                if found:
                    raise ValueError(
                        f"worker {info['worker_index']}'s {key} differs from worker 0's: {found}"
                    )
            ours, theirs = info["variables"], first["variables"]
            found = (
                None
                if ours is None and theirs is None
                else "one has no TF variables"
                if ours is None or theirs is None
                else theirs.mismatch(ours)
            )
            if found:
                raise ValueError(
                    f"worker {info['worker_index']}'s policy variables differ from worker 0's: "
                    f"{found}"
                )
        self._data_spec = first["trajectory_spec"] if data_spec is None else data_spec
        if data_spec is not None:
            found = spec_check.spec_mismatch(first["trajectory_spec"], data_spec)
            if found:
                raise ValueError(f"the workers' trajectory spec does not match data_spec: {found}")

    # Properties -------------------------------------------------------

    @property
    def num_workers(self) -> int:
        return self._num_workers

    @property
    def steps_per_worker(self) -> list[int]:
        """Env steps each worker collects per round (they sum to `steps_per_round`)."""
        return list(self._steps)

    @property
    def version(self) -> int:
        """The newest published weights version (0 before the first `publish`)."""
        return self._version

    @property
    def worker_infos(self) -> list[WorkerInfo]:
        """What each worker reported at start-up (specs, host, pid, batch size)."""
        return list(self._infos)

    @property
    def restarts(self) -> list[int]:
        """Restarts per worker so far."""
        return list(self._restarts)

    @property
    def trajectory_spec(self) -> Any:
        """The spec of the batches' trajectories (without the `[B, T]` dims)."""
        return self._infos[0]["trajectory_spec"]

    # Weights ------------------------------------------------------------

    def publish(self, weights: Any) -> int:
        """Publishes `weights` to the workers; returns the new version.

        Args:
          weights: a policy with TF variables (e.g. `agent.collect_policy`),
            or the arrays of its `variables()` in order (see
            `weights.to_numpy`).

        Raises:
          TypeError: `weights` is no policy or sequence of arrays, or the
            workers' policy has no TF variables.
          ValueError: the arrays do not match the workers' variables (the
            message names the first that differs).
        """
        self._check_open()
        signature = self._infos[0]["variables"]
        if signature is None:
            raise TypeError(
                "the workers' policy has no TF variables: there is nothing to publish weights to"
            )
        arrays = weights_lib.to_numpy(weights)
        weights_lib.check_weights(arrays, signature)
        self._weights_ref = self._ray.put(arrays)
        self._version += 1
        return self._version

    def broadcast(self) -> None:
        """Has every worker load the newest published weights now, not at its next round.

        Returns once all have them (for evaluation, or to measure the
        broadcast); a no-op before the first `publish`.
        """
        self._check_open()
        if self._weights_ref is None:
            return
        refs = {
            actor.load_weights.remote(self._version, [self._weights_ref]): i
            for i, actor in enumerate(self._actors)
        }
        ready, _ = self._ray.wait(list(refs), num_returns=len(refs), timeout=self._timeout_s)
        if len(ready) < len(refs):
            late = sorted(i for ref, i in refs.items() if ref not in ready)
            raise TimeoutError(
                f"worker(s) {late} did not load the weights within timeout_s={self._timeout_s:g} s"
            )
        self._ray.get(ready)

    def _submit(self, i: int) -> Any:
        # The ref travels inside a list, so Ray does not fetch it for the
        # call: a worker that already has this version skips the transfer.
        weights = None if self._weights_ref is None else [self._weights_ref]
        return self._actors[i].collect.remote(self._version, weights)

    # Synchronous rounds -------------------------------------------------

    def collect(self, weights: Any = None) -> Round:
        """One synchronous round: every worker collects its share with the newest weights.

        Args:
          weights: if given, published first (see `publish`).

        Returns:
          A `Round` with one batch per worker, all of one weights version.
        """
        self._check_open()
        if self._in_flight:
            raise RuntimeError("collect() during asynchronous collection: call stop() first")
        if weights is not None:
            self.publish(weights)
        start = time.perf_counter()
        pending = {self._submit(i): i for i in range(self._num_workers)}
        batches: dict[int, TrajectoryBatch] = {}
        while pending:
            ref, i = self._next_ready(pending)
            batch = self._result(ref, i)
            if batch is None:  # It failed: the worker restarts and collects again.
                pending[self._submit(i)] = i
            else:
                batches[i] = batch
        return Round(
            [batches[i] for i in range(self._num_workers)],
            self._version,
            time.perf_counter() - start,
        )

    # Asynchronous collection ------------------------------------------

    def start(self) -> None:
        """Starts asynchronous collection: every idle worker begins a round."""
        self._check_open()
        busy = set(self._in_flight.values())
        for i in range(self._num_workers):
            if i not in busy:
                self._in_flight[self._submit(i)] = i

    def next(self) -> TrajectoryBatch:
        """The next batch to arrive from any worker; that worker starts its next round.

        Batches carry the version they were collected with, which may be
        older than `version` (off-policy learners accept that).
        """
        self._check_open()
        if not self._in_flight:
            raise RuntimeError("next() before start(): no asynchronous collection is running")
        while True:
            ref, i = self._next_ready(self._in_flight)
            batch = self._result(ref, i)
            self._in_flight[self._submit(i)] = i
            if batch is not None:
                return batch

    def stop(self) -> None:
        """Ends asynchronous collection; rounds in progress finish and are dropped."""
        if not self._in_flight:
            return
        in_flight, self._in_flight = self._in_flight, {}
        refs = list(in_flight)
        ready, not_ready = self._ray.wait(refs, num_returns=len(refs), timeout=self._timeout_s)
        if not_ready:
            self.close()
            raise TimeoutError(
                f"{len(not_ready)} worker round(s) did not finish within "
                f"timeout_s={self._timeout_s:g} s after stop(); the workers were shut down"
            )
        for ref in ready:
            # Dropped, but a failed round still restarts its worker.
            self._result(ref, in_flight[ref])

    # Waiting and faults -------------------------------------------------

    def _next_ready(self, pending: dict[Any, int]) -> tuple[Any, int]:
        ready, _ = self._ray.wait(list(pending), num_returns=1, timeout=self._timeout_s)
        if not ready:
            workers = sorted(pending.values())
            self.close()
            raise TimeoutError(
                f"no batch from worker(s) {workers} within timeout_s={self._timeout_s:g} s; "
                "the workers were shut down"
            )
        # ray.wait does not return the oldest of several ready rounds, so a
        # fast worker could starve a slow one: take them in submission order.
        all_ready, _ = self._ray.wait(list(pending), num_returns=len(pending), timeout=0)
        ready_set = set(all_ready) | set(ready)
        first = next(ref for ref in pending if ref in ready_set)
        return first, pending.pop(first)

    def _result(self, ref: Any, i: int) -> TrajectoryBatch | None:
        """Worker i's batch, or None after a failure that restarts it (WorkerError past that)."""
        exceptions = self._ray.exceptions
        try:
            batch = self._ray.get(ref, timeout=self._timeout_s)
        except exceptions.RayTaskError as error:
            # The env or policy raised: the worker's state is unknown, so
            # Ray restarts its process (a fresh env from the factory).
            self._fail(i, error, "raised")
            self._ray.kill(self._actors[i], no_restart=False)
            self._await_restart(i, error)
            return None
        except exceptions.RayActorError as error:
            # Its process died; Ray restarts it by itself.
            self._fail(i, error, "died")
            self._await_restart(i, error)
            return None
        found = spec_check.batch_mismatch(batch.trajectory, self._data_spec)
        if found:
            self.close()
            raise ValueError(
                f"worker {i} returned a batch that does not match the collect spec: {found}"
            )
        batch.restarts = self._restarts[i]
        return batch

    def _fail(self, i: int, error: Exception, what: str) -> None:
        self._restarts[i] += 1
        if self._restarts[i] > self._max_restarts:
            restarts = self._restarts[i] - 1
            self.close()
            raise WorkerError(
                i,
                restarts,
                str(error),
                f"its round {what} after {restarts} restart(s) (max_restarts="
                f"{self._max_restarts}); the workers were shut down",
            ) from None

    def _await_restart(self, i: int, error: Exception) -> None:
        """Waits until worker i answers again after a restart (calls made meanwhile can fail)."""
        exceptions = self._ray.exceptions
        deadline = time.monotonic() + self._timeout_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                info = self._ray.get(self._actors[i].info.remote(), timeout=max(remaining, 0.001))
                # ray.kill is asynchronous: the old process may still answer.
                if info["pid"] != self._infos[i]["pid"] or info["host"] != self._infos[i]["host"]:
                    self._infos[i] = info
                    return
                time.sleep(0.05)
            except exceptions.ActorUnavailableError:
                if remaining <= 0:
                    break
                time.sleep(0.05)
            except exceptions.GetTimeoutError:
                break
            except (exceptions.RayActorError, exceptions.RayTaskError) as died:
                self.close()
                raise WorkerError(
                    i,
                    self._restarts[i],
                    f"{error}\n\nThen, restarting:\n{died}",
                    "it failed and could not be restarted; the workers were shut down",
                ) from None
        self.close()
        raise TimeoutError(
            f"worker {i} did not come back within timeout_s={self._timeout_s:g} s after a "
            f"restart; the workers were shut down. The failure:\n{error}"
        )

    # Shutting down --------------------------------------------------------

    def _check_open(self) -> None:
        if not self._actors:
            raise RuntimeError("this DistributedCollector is closed")

    def close(self) -> None:
        """Kills every worker (no restart). Safe to call twice."""
        actors, self._actors = self._actors, []
        self._in_flight.clear()
        for actor in actors:
            self._ray.kill(actor, no_restart=True)

    def __enter__(self) -> DistributedCollector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if not self._actors else f"version {self._version}"
        return (
            f"DistributedCollector(num_workers={self._num_workers}, "
            f"steps_per_round={self._steps_per_round}, {state})"
        )


def local_workers(
    env_factory: Any,
    policy_factory: Any,
    num_workers: int,
    steps_per_round: int,
    time_steps: int | None = None,
) -> list[CollectorWorker]:
    """The collector's workers built in this process (no Ray), each with its share of steps.

    `worker.collect(version, weights)` runs a round as the actor would: for
    comparisons with the distributed collector and for benchmarks.
    """
    share, extra = divmod(_whole(steps_per_round, "steps_per_round", num_workers), num_workers)
    return [
        CollectorWorker(env_factory, policy_factory, i, share + (i < extra), time_steps)
        for i in range(_whole(num_workers, "num_workers", 1))
    ]

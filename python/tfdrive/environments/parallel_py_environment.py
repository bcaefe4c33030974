"""Envs stepped in worker processes, with their data in shared memory (TF-Agents' API).

`ParallelPyEnvironment(env_constructors)` builds each env in a worker
process and steps them all at once, so slow Python envs use every core.
Unlike TF-Agents' (one process per env, every action and time step pickled
through a pipe), actions and time steps travel through shared memory laid
out by the specs, and the Rust core's mailboxes (futexes) tell a worker to
step and the parent that it has: per step, no pickling and no pipe.
`num_workers` puts several envs in one process (`len(env_constructors) /
num_workers` each), so a many-core machine runs one process per core.
A worker of plain Gymnasium envs steps them as one batch through the Rust
core of `BatchedPyEnvironment` (its Gymnasium path), writing the rows
straight into shared memory; other envs step one by one in Python. A
waiting worker yields its core for a few hundred µs before it sleeps, so
the next step, posted after the policy call, starts without a wake-up.

Layout: one anonymous shared memory block (a file descriptor handed to each
worker over its pipe, never a name, so nothing is left behind whatever
crashes): the workers' mailbox slots, then one `[B, *spec.shape]` array per
flattened time step leaf (step_type, reward, discount, observation...) and
per action leaf. Worker `w` owns the rows of its envs. The pipe carries
only start-up, errors and `call`/`access`/`seed`/`render`.

Errors: an env constructor or step that raises re-raises in the parent with
the same exception type and the worker's traceback in a note; a worker
that exits is reported (its exit code, worker and envs named), never waited
on forever; an observation that does not match its spec is a ValueError
naming the env and the leaf. After any of these every worker is shut down.
`ProcessPyEnvironment` is TF-Agents' one-env process with its pipe protocol
(`call`, `access`, `step`, `reset`, `render`, blocking or not).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import signal
import tempfile
import traceback
import weakref
from collections.abc import Callable, Sequence
from multiprocessing import reduction
from typing import Any

import cloudpickle
import numpy as np

from tfdrive import _core
from tfdrive.environments import py_environment
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest

__all__ = ["ParallelPyEnvironment", "ProcessPyEnvironment"]

EnvConstructor = Callable[[], Any]

# Mailbox commands and reply statuses.
_STEP, _RESET, _CONTROL, _CLOSE = 1, 2, 3, 4
_OK, _ERROR = 1, 2
# Seconds between liveness checks while waiting on the other process.
_POLL_SECONDS = 0.1
# Seconds a closing worker gets before it is terminated.
_JOIN_SECONDS = 5.0
_ALIGN = 64


class WorkerError(RuntimeError):
    """A worker process exited, or could not be reached."""


# --------------------------------------------------------------------------
# Shared memory laid out by the specs.


class _Layout:
    """Byte offsets of the mailboxes and of each `[B, *shape]` leaf array."""

    def __init__(self, slots: int, time_step_spec: Any, action_spec: Any, batch_size: int):
        self.slots = slots
        self.batch_size = batch_size
        self.time_step_leaves = [_leaf(s) for s in nest.flatten(time_step_spec)]
        self.action_leaves = [_leaf(s) for s in nest.flatten(action_spec)]
        offset = _aligned(slots * _core.MailboxesCore.slot_bytes)
        self.offsets = []
        for dtype, shape in self.time_step_leaves + self.action_leaves:
            self.offsets.append(offset)
            offset = _aligned(offset + batch_size * dtype.itemsize * int(np.prod(shape)))
        self.size = max(offset, _ALIGN)

    def arrays(self, buffer: Any) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
        """`(mailboxes, time step arrays, action arrays)` over `buffer`."""
        memory = np.frombuffer(buffer, np.uint8, self.size)
        mailboxes = _core.MailboxesCore(
            memory[: self.slots * _core.MailboxesCore.slot_bytes], self.slots
        )
        arrays = []
        for offset, (dtype, shape) in zip(self.offsets, self.time_step_leaves + self.action_leaves):
            count = self.batch_size * int(np.prod(shape))
            view = memory[offset : offset + count * dtype.itemsize].view(dtype)
            arrays.append(view.reshape((self.batch_size, *shape)))
        split = len(self.time_step_leaves)
        return mailboxes, arrays[:split], arrays[split:]


def _leaf(spec: Any) -> tuple[np.dtype, tuple[int, ...]]:
    dtype = np.dtype(getattr(spec, "dtype", None))
    if dtype.hasobject:
        raise TypeError(f"spec {spec!r} has an object dtype: it cannot live in shared memory")
    return dtype, tuple(int(d) for d in spec.shape)


def _leaf_paths(spec: Any, name: str) -> list[str]:
    """Leaf paths under `name` for messages: `action`, `action['x']`, `time_step.reward`."""
    if not nest.is_nested(spec):
        return [name]
    return [name + (p if p.startswith("[") else "." + p) for p in nest.leaf_paths(spec)]


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _shared_memory(size: int) -> tuple[int, mmap.mmap]:
    """An anonymous shared file of `size` bytes: `(fd, mapping)`; the fd is the caller's to close."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("tfdrive-parallel-env", 0)
    else:  # no name survives: the file is unlinked at once
        fd, path = tempfile.mkstemp(prefix="tfdrive-parallel-env-")
        os.unlink(path)
    os.ftruncate(fd, size)
    return fd, mmap.mmap(fd, size)


def _write_row(arrays: list[np.ndarray], row: int, value: Any, leaves: list, what: str) -> None:
    """Writes the nest `value` into row `row` of `arrays` (its flattened leaves)."""
    flat = nest.flatten(value)
    if len(flat) != len(arrays):
        raise ValueError(f"{what} has {len(flat)} leaves; its spec has {len(arrays)}")
    for array, leaf, path in zip(arrays, flat, leaves):
        leaf = np.asarray(leaf)
        if leaf.shape != array.shape[1:]:
            raise ValueError(
                f"{what}: `{path}` has shape {leaf.shape}; its spec has {array.shape[1:]}"
            )
        try:
            np.copyto(array[row, ...], leaf, casting="same_kind")
        except TypeError:
            raise TypeError(
                f"{what}: `{path}` has dtype {leaf.dtype}; its spec has {array.dtype}"
            ) from None


# --------------------------------------------------------------------------
# The worker process.


def _worker_main(conn: Any, pickled_constructors: bytes, first_env: int, slot: int) -> None:
    """Builds the worker's envs, then serves the pipe and (once attached) the mailbox."""
    # Ctrl-C reaches the whole process group: the parent handles it and closes us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    envs: list[Any] = []
    try:
        for k, constructor in enumerate(cloudpickle.loads(pickled_constructors)):
            try:
                envs.append(constructor())
            except Exception as err:
                _add_note(err, f"(building env {first_env + k})")
                raise
        conn.send(("result", None))  # ready
    except BaseException as err:  # noqa: BLE001 - every failure goes to the parent
        _send_error(conn, err)
        return
    server = _WorkerServer(conn, envs, first_env, slot, parent)
    try:
        server.serve()
    finally:
        for env in envs:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


class _WorkerServer:
    """The worker's loop: pipe messages until attached, then mailbox commands."""

    def __init__(self, conn: Any, envs: list, first_env: int, slot: int, parent: int):
        self.conn, self.envs, self.first_env, self.slot = conn, envs, first_env, slot
        self.parent = parent
        self.mailboxes = None

    def parent_alive(self) -> bool:
        return os.getppid() == self.parent

    def serve(self) -> None:
        last_seq = 0
        while True:
            if self.mailboxes is None:
                if not self.conn.poll(_POLL_SECONDS):
                    if not self.parent_alive():
                        return
                    continue
                if not self.handle(self.conn.recv()):
                    return
                continue
            request = self.mailboxes.wait_request(self.slot, last_seq, _POLL_SECONDS)
            if request is None:
                if not self.parent_alive():
                    return
                continue
            last_seq, command = request
            status = _OK
            keep_going = True
            try:
                if command == _STEP:
                    self.step()
                elif command == _RESET:
                    self.reset()
                elif command == _CONTROL:
                    keep_going = self.handle(self.conn.recv())
                elif command == _CLOSE:
                    keep_going = False
                else:
                    raise KeyError(f"unknown mailbox command {command}")
            except Exception as err:  # noqa: BLE001 - every failure goes to the parent
                _send_error(self.conn, err)
                status = _ERROR
            self.mailboxes.reply(self.slot, last_seq, status)
            if not keep_going:
                return

    def handle(self, message: tuple) -> bool:
        """Serves one pipe message; False when the worker should exit."""
        kind = message[0]
        try:
            if kind == "close":
                return False
            if kind == "call":
                _, env, name, args, kwargs = message
                result = getattr(self.envs[env], name)(*args, **kwargs)
            elif kind == "access":
                _, env, name = message
                result = getattr(self.envs[env], name)
            elif kind == "attach":
                self.attach(message[1])
                result = None
            else:
                raise KeyError(f"unknown message {kind!r}")
        except Exception as err:  # noqa: BLE001 - every failure goes to the parent
            _send_error(self.conn, err)
            return True
        self.conn.send(("result", result))
        return True

    def attach(self, layout: _Layout) -> None:
        fd = reduction.recv_handle(self.conn)
        try:
            self.memory = mmap.mmap(fd, layout.size)
        finally:
            os.close(fd)
        self.layout = layout
        self.mailboxes, self.time_steps, self.actions = layout.arrays(self.memory)
        self.time_step_paths = _leaf_paths(self.envs[0].time_step_spec(), "time_step")
        self.action_spec = self.envs[0].action_spec()
        self.rows = slice(self.first_env, self.first_env + len(self.envs))
        self.core = self.gymnasium_core()

    def gymnasium_core(self) -> Any:
        """The Rust core of `BatchedPyEnvironment` for this worker's envs, or None.

        Only for plain Gymnasium envs (its Gymnasium path calls
        `gymnasium.Env.step` directly and builds the rows in Rust, several
        times faster than stepping the wrappers one by one in Python) with
        one action array. As in a `BatchedPyEnvironment`, the wrappers' own
        `current_time_step()` is then not updated.
        """
        from tfdrive.environments import batched_py_environment as batched

        spec = self.envs[0].time_step_spec()
        if (
            len(self.actions) != 1
            or len(self.time_steps) != 4
            or batched._gymnasium_fast_path(self.envs) is None
        ):
            return None
        last = self.first_env + len(self.envs) - 1
        return batched.BatchedPyEnvironment._make_core(
            self.envs,
            spec,
            first_env=self.first_env,
            owner=f"worker {self.slot} (envs {self.first_env}-{last}) of a ParallelPyEnvironment",
        )

    def write_all(self, leaves: list) -> None:
        """Copies the core's `[k, ...]` leaves (checked against the spec) into this worker's rows."""
        for array, leaf in zip(self.time_steps, leaves, strict=True):
            array[self.rows] = leaf

    def write(self, k: int, time_step: Any) -> None:
        row = self.first_env + k
        _write_row(self.time_steps, row, time_step, self.time_step_paths, f"env {row}")

    def step(self) -> None:
        if self.core is not None:
            # A copy: the envs may keep their actions, and the rows are rewritten next step.
            self.write_all(self.core.step(self.actions[0][self.rows].copy()))
            return
        for k, env in enumerate(self.envs):
            row = self.first_env + k
            # A copy: the env may keep the action, and its row is rewritten next step.
            action = nest.pack_sequence_as(
                self.action_spec, [np.array(a[row]) for a in self.actions]
            )
            self.write(k, env.step(action))

    def reset(self) -> None:
        if self.core is not None:
            self.write_all(self.core.reset())
            return
        for k, env in enumerate(self.envs):
            self.write(k, env.reset())


def _add_note(err: BaseException, note: str) -> None:
    if hasattr(err, "add_note"):  # Python >= 3.11
        err.add_note(note)


def _send_error(conn: Any, err: BaseException) -> None:
    """Sends `err` (pickled when it can be) and its formatted traceback to the parent."""
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        pickled = cloudpickle.dumps(err)
    except Exception:  # noqa: BLE001 - an unpicklable exception travels as text
        pickled = None
    try:
        conn.send(("error", pickled, text))
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------
# The parent's handle on a worker.


class _Worker:
    """One worker process hosting envs `first_env ... first_env + len(constructors) - 1`."""

    def __init__(
        self, context: Any, constructors: Sequence[EnvConstructor], first_env: int, slot: int
    ):
        self.first_env = first_env
        self.num_envs = len(constructors)
        self.slot = slot
        try:
            pickled = cloudpickle.dumps(list(constructors))
        except Exception as err:
            raise TypeError(
                f"the env constructors of worker {slot} (envs {self.describe_envs()}) cannot be "
                f"pickled for the worker process: {err}"
            ) from err
        self.mailboxes: Any = None  # set once the shared memory is attached
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child_conn, pickled, first_env, slot),
            daemon=True,
            name=f"tfdrive-env-worker-{slot}",
        )
        self.process.start()
        child_conn.close()

    def describe_envs(self) -> str:
        last = self.first_env + self.num_envs - 1
        return str(self.first_env) if last == self.first_env else f"{self.first_env}-{last}"

    def describe(self) -> str:
        return f"worker {self.slot} (pid {self.process.pid}, envs {self.describe_envs()})"

    def check_alive(self, doing: str) -> None:
        if not self.process.is_alive():
            raise WorkerError(
                f"{self.describe()} exited with code {self.process.exitcode} while {doing}"
            )

    def receive(self, doing: str) -> Any:
        """The next pipe result; re-raises a worker's error; WorkerError if it died."""
        while not self.conn.poll(_POLL_SECONDS):
            self.check_alive(doing)
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(_POLL_SECONDS)
            raise WorkerError(f"{self.describe()} closed its pipe while {doing}") from None
        if message[0] == "error":
            raise _rebuilt(message[1], message[2], f"{self.describe()}, while {doing}")
        return message[1]

    def wait_start(self) -> None:
        self.receive("starting")

    def request(self, message: tuple, doing: str) -> Any:
        """Sends `message` over the pipe (before the mailbox is attached) and returns the result."""
        self.send(message)
        return self.receive(doing)

    def specs(self) -> list[tuple[Any, Any]]:
        """`(time_step_spec, action_spec)` of each of the worker's envs."""
        return [
            (
                self.request(("call", k, "time_step_spec", (), {}), "reading its specs"),
                self.request(("call", k, "action_spec", (), {}), "reading its specs"),
            )
            for k in range(self.num_envs)
        ]

    def send(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            self.check_alive(f"sending {message[0]!r}")
            raise

    def close(self) -> None:
        """Asks the worker to exit, then terminates it if it does not (idempotent)."""
        if self.process.is_alive():
            try:
                if self.mailboxes is not None:  # attached: it listens to its mailbox
                    self.mailboxes.post(self.slot, _CLOSE)
                else:
                    self.conn.send(("close",))
            except (OSError, ValueError):
                pass
            self.process.join(_JOIN_SECONDS)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(_JOIN_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _rebuilt(pickled: bytes | None, text: str, where: str) -> BaseException:
    """The worker's exception (same type and arguments) with its traceback in a note."""
    err: BaseException | None = None
    if pickled is not None:
        try:
            err = cloudpickle.loads(pickled)
        except Exception:  # noqa: BLE001 - fall back to the text
            err = None
    if err is None:
        return WorkerError(f"Error in environment process ({where}):\n{text}")
    note = f"Raised in {where}; the worker's traceback:\n{text}"
    if hasattr(err, "add_note"):  # Python >= 3.11
        err.add_note(note)
    else:  # the same exception, the worker's traceback as its cause
        err.__cause__ = WorkerError(note)
    return err


def _shutdown(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.close()


def _context(start_method: str | None) -> Any:
    return multiprocessing.get_context(start_method)


# --------------------------------------------------------------------------
# The batched environment.


class ParallelPyEnvironment(py_environment.PyEnvironment):
    """Batches envs that run in worker processes (TF-Agents' arguments, plus `num_workers`).

    Time steps are batched: each leaf `[B, *spec.shape]` with B =
    `len(env_constructors)` and the spec's dtype; actions are batched the
    same way. The returned arrays are copies (the shared rows are rewritten
    by the next step).

    Args:
      env_constructors: callables returning the envs (pickled with
        cloudpickle, so lambdas work). All envs need the same specs.
      start_serially: start one worker after another (True) or all at once.
      blocking: step the workers one after another (True) or all at once.
      flatten: accepted for TF-Agents' API; the shared memory is always
        laid out flat, so it changes nothing.
      num_workers: worker processes (default: one per env, as TF-Agents);
        the envs are split into contiguous groups, one per worker.
      start_method: the `multiprocessing` start method (default: the
        platform's, as TF-Agents); "spawn" or "forkserver" when the parent
        runs threads an env must not inherit.

    Raises:
      TypeError: an env constructor is not callable or cannot be pickled.
      ValueError: the envs' specs differ, `num_workers` is out of range.
    """

    def __init__(
        self,
        env_constructors: Sequence[EnvConstructor],
        start_serially: bool = True,
        blocking: bool = False,
        flatten: bool = False,
        *,
        num_workers: int | None = None,
        start_method: str | None = None,
    ):
        super().__init__()
        env_constructors = list(env_constructors)
        if any(not callable(c) for c in env_constructors):
            raise TypeError(
                "Found non-callable `env_constructors` in `ParallelPyEnvironment` __init__ call. "
                "Did you accidentally pass in environment instances instead of constructors? "
                f"Got: {env_constructors}"
            )
        if not env_constructors:
            raise ValueError("env_constructors is empty: a batch needs at least one env")
        num_envs = len(env_constructors)
        num_workers = num_envs if num_workers is None else num_workers
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
            raise TypeError(f"num_workers must be an int, got {num_workers!r}")
        if not 1 <= num_workers <= num_envs:
            raise ValueError(
                f"num_workers must be in [1, {num_envs}] (the number of envs), got {num_workers}"
            )
        self._num_envs = num_envs
        self._blocking = blocking
        self._start_serially = start_serially
        self._flatten = flatten
        self._closed = False
        context = _context(start_method)
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._workers)
        groups = np.array_split(np.arange(num_envs), num_workers)
        try:
            for slot, rows in enumerate(groups):
                worker = _Worker(context, [env_constructors[i] for i in rows], int(rows[0]), slot)
                self._workers.append(worker)
                if start_serially:
                    worker.wait_start()
            if not start_serially:
                for worker in self._workers:
                    worker.wait_start()
            self._check_specs()
            self._attach()
            self._envs = [
                ProcessPyEnvironment._for_env(self, worker, k)
                for worker in self._workers
                for k in range(worker.num_envs)
            ]
        except BaseException:
            self.close()
            raise
        self._pending: list[int] | None = None

    def _check_specs(self) -> None:
        specs = [spec for worker in self._workers for spec in worker.specs()]
        self._time_step_spec, self._action_spec = specs[0]
        self._observation_spec = self._time_step_spec.observation
        for env, (time_step_spec, action_spec) in enumerate(specs):
            if action_spec != self._action_spec:
                raise ValueError(
                    f"All environments must have the same action spec: env {env} has "
                    f"{action_spec}, env 0 {self._action_spec}."
                )
            if time_step_spec != self._time_step_spec:
                raise ValueError(
                    f"All environments must have the same time_step_spec: env {env} has "
                    f"{time_step_spec}, env 0 {self._time_step_spec}."
                )

    def _attach(self) -> None:
        """Creates the shared memory and hands it to every worker."""
        self._layout = _Layout(
            len(self._workers), self._time_step_spec, self._action_spec, self._num_envs
        )
        fd, self._memory = _shared_memory(self._layout.size)
        try:
            self._mailboxes, self._time_step_arrays, self._action_arrays = self._layout.arrays(
                self._memory
            )
            for worker in self._workers:
                worker.send(("attach", self._layout))
                reduction.send_handle(worker.conn, fd, worker.process.pid)
            for worker in self._workers:
                worker.receive("attaching the shared memory")
                worker.mailboxes = self._mailboxes
        finally:
            os.close(fd)
        self._action_paths = _leaf_paths(self._action_spec, "action")

    # Properties --------------------------------------------------------------

    @property
    def batched(self) -> bool:
        return True

    @property
    def batch_size(self) -> int:
        return self._num_envs

    @property
    def num_workers(self) -> int:
        """Worker processes."""
        return len(self._workers)

    @property
    def envs(self) -> list[ProcessPyEnvironment]:
        """One handle per env (`call`, `access` and attributes run in its worker)."""
        return list(self._envs)

    def observation_spec(self) -> Any:
        return self._observation_spec

    def action_spec(self) -> Any:
        return self._action_spec

    def time_step_spec(self) -> ts.TimeStep:
        return self._time_step_spec

    # Stepping ------------------------------------------------------------------

    def _run(self, command: int, doing: str) -> ts.TimeStep:
        self._command(command, doing)
        return self._collect(doing)

    def _command(self, command: int, doing: str) -> None:
        if self._closed:
            raise ValueError("the ParallelPyEnvironment is closed")
        if self._pending is not None:
            raise RuntimeError("step_async was called before: call step_wait first")
        if self._blocking:  # one worker after another
            self._pending = []
            for worker in self._workers:
                seq = self._mailboxes.post(worker.slot, command)
                self._wait(worker, seq, doing)
            return
        self._pending = [self._mailboxes.post(w.slot, command) for w in self._workers]

    def _collect(self, doing: str) -> ts.TimeStep:
        pending, self._pending = self._pending, None
        for worker, seq in zip(self._workers, pending or []):
            self._wait(worker, seq, doing)
        leaves = [np.array(a) for a in self._time_step_arrays]
        return nest.pack_sequence_as(self._time_step_spec, leaves)

    def _wait(self, worker: _Worker, seq: int, doing: str) -> None:
        """Waits for `worker`'s reply; on an error or a dead worker closes all and raises."""
        try:
            while True:
                status = self._mailboxes.wait_reply(worker.slot, seq, _POLL_SECONDS)
                if status is not None:
                    break
                worker.check_alive(doing)
            if status == _ERROR:
                worker.receive(doing)  # raises the worker's error
        except BaseException:
            self._pending = None
            self.close()
            raise

    def _reset(self) -> ts.TimeStep:
        return self._run(_RESET, "resetting")

    def _step(self, actions: Any) -> ts.TimeStep:
        self.step_async(actions)
        return self.step_wait()

    def step_async(self, actions: Any) -> None:
        """Sends a batch of actions (nest of `[B, ...]` arrays); `step_wait` collects the time steps.

        The workers step while the caller does other work (e.g. the policy for
        another batch). Auto-reset is the envs' own, as in `step`.
        """
        if self._closed:
            raise ValueError("the ParallelPyEnvironment is closed")
        if self._current_time_step is None:
            raise RuntimeError("call reset() before step_async()")
        _write_batch(self._action_arrays, actions, self._action_paths, self._num_envs)
        self._command(_STEP, "stepping")

    def step_wait(self) -> ts.TimeStep:
        """The time steps of the `step_async` call before (batched)."""
        if self._pending is None:
            raise RuntimeError("step_wait without step_async")
        time_step = self._collect("stepping")
        self._current_time_step = time_step
        return time_step

    def _unstack_actions(self, batched_actions: Any) -> list[Any]:
        """The per-env actions of a batch (a nest of `[B, ...]` arrays), as TF-Agents splits them."""
        flat = nest.flatten(batched_actions)
        return [nest.pack_sequence_as(batched_actions, list(leaves)) for leaves in zip(*flat)]

    # Control -----------------------------------------------------------------

    def _control(self, worker: _Worker, message: tuple, doing: str) -> Callable[[], Any]:
        """Sends `message` to `worker`'s envs; returns a promise of the result."""
        if self._closed:
            raise ValueError("the ParallelPyEnvironment is closed")
        if self._pending is not None:
            raise RuntimeError("a step is in flight: call step_wait first")
        worker.send(message)
        seq = self._mailboxes.post(worker.slot, _CONTROL)

        def promise() -> Any:
            try:
                while self._mailboxes.wait_reply(worker.slot, seq, _POLL_SECONDS) is None:
                    worker.check_alive(doing)
                return worker.receive(doing)
            except WorkerError:
                self.close()
                raise

        return promise

    def seed(self, seeds: Sequence[Any]) -> list[Any]:
        """Calls `seed(seed)` on each env; returns their results."""
        if len(seeds) != self._num_envs:
            raise ValueError("Number of seeds should match the number of parallel_envs.")
        return [env.call("seed", seed)() for env, seed in zip(self.envs, seeds)]

    def render(self, mode: str = "rgb_array") -> Any:
        """The envs' `rgb_array` renders, stacked: `[B, H, W, 3]`."""
        if mode != "rgb_array":
            raise NotImplementedError(f"Only rgb_array rendering mode is supported. Got {mode}")
        images = [env.call("render", mode)() for env in self.envs]
        return nest.map_structure(lambda *x: np.stack(x), *images)

    def close(self) -> None:
        """Shuts every worker down (idempotent); the shared memory goes with the last mapping."""
        self._closed = True
        self._finalizer()


def _write_batch(arrays: list[np.ndarray], actions: Any, paths: list[str], batch_size: int) -> None:
    flat = nest.flatten(actions)
    if len(flat) != len(arrays):
        raise ValueError(f"actions have {len(flat)} leaves; the action spec has {len(arrays)}")
    for array, leaf, path in zip(arrays, flat, paths):
        leaf = np.asarray(leaf)
        if leaf.shape != array.shape:
            raise ValueError(
                f"`{path}` has shape {leaf.shape}; expected {array.shape} ([batch_size] + spec shape)"
            )
        try:
            np.copyto(array, leaf, casting="same_kind")
        except TypeError:
            raise TypeError(
                f"`{path}` has dtype {leaf.dtype}; the action spec has {array.dtype}"
            ) from None


# --------------------------------------------------------------------------
# One env in a process, TF-Agents' pipe protocol.


class ProcessPyEnvironment:
    """Steps one env in its own process (TF-Agents' `ProcessPyEnvironment`).

    Every call goes through the pipe (pickled); `ParallelPyEnvironment` is
    the fast path. `call`/`step(blocking=False)`/`reset(blocking=False)`
    return a promise: call it for the result. Attributes that are not this
    class's are read from the env in the process.

    Args:
      env_constructor: a callable returning the env (cloudpickled).
      flatten: accepted for TF-Agents' API (no effect).
    """

    def __init__(self, env_constructor: EnvConstructor, flatten: bool = False):
        if not callable(env_constructor):
            raise TypeError(f"env_constructor must be callable, got {env_constructor!r}")
        self._constructor: EnvConstructor | None = env_constructor
        self._flatten = flatten
        self._worker: _Worker | None = None
        self._parent: ParallelPyEnvironment | None = None
        self._env_index = 0
        self._time_step_spec: Any = None
        self._action_spec: Any = None

    @classmethod
    def _for_env(
        cls, parent: ParallelPyEnvironment, worker: _Worker, k: int
    ) -> ProcessPyEnvironment:
        """A handle on env `k` of `parent`'s `worker` (messages go through the parent's mailbox)."""
        handle = cls.__new__(cls)
        handle._constructor, handle._flatten = None, parent._flatten
        handle._worker, handle._parent, handle._env_index = worker, parent, k
        handle._time_step_spec = parent.time_step_spec()
        handle._action_spec = parent.action_spec()
        return handle

    def start(self, wait_to_start: bool = True) -> None:
        """Starts the process; waits for the env to be built unless `wait_to_start` is False."""
        if self._constructor is None:
            raise RuntimeError("this handle belongs to a ParallelPyEnvironment, which started it")
        self._worker = _Worker(_context(None), [self._constructor], 0, 0)
        self._finalizer = weakref.finalize(self, _shutdown, [self._worker])
        if wait_to_start:
            self.wait_start()

    def wait_start(self) -> None:
        """Waits for the env to be built; re-raises its constructor's error."""
        worker = self._started()
        try:
            worker.wait_start()
        except BaseException:
            worker.close()
            raise

    def _started(self) -> _Worker:
        if self._worker is None:
            raise RuntimeError("the ProcessPyEnvironment is not started: call start()")
        return self._worker

    def observation_spec(self) -> Any:
        return self.time_step_spec().observation

    def action_spec(self) -> Any:
        """The env's action spec (read from the process once)."""
        if self._action_spec is None:
            self._action_spec = self.call("action_spec")()
        return self._action_spec

    def time_step_spec(self) -> Any:
        """The env's time step spec (read from the process once)."""
        if self._time_step_spec is None:
            self._time_step_spec = self.call("time_step_spec")()
        return self._time_step_spec

    def _send(self, message: tuple, doing: str) -> Callable[[], Any]:
        worker = self._started()
        if self._parent is not None:
            return self._parent._control(worker, message, doing)
        worker.send(message)
        return lambda: worker.receive(doing)

    def __getattr__(self, name: str) -> Any:
        # Private names stay local (pickling, internals); the rest is the env's.
        if name.startswith("_"):
            raise AttributeError(name)
        return self.access(name)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Calls method `name` of the env in the process; returns a promise of the result."""
        return self._send(("call", self._env_index, name, args, kwargs), f"calling {name}")

    def access(self, name: str) -> Any:
        """Reads attribute `name` of the env in the process (blocks)."""
        return self._send(("access", self._env_index, name), f"reading {name}")()

    def step(self, action: Any, blocking: bool = True) -> Any:
        promise = self.call("step", action)
        return promise() if blocking else promise

    def reset(self, blocking: bool = True) -> Any:
        promise = self.call("reset")
        return promise() if blocking else promise

    def render(self, mode: str = "rgb_array", blocking: bool = True) -> Any:
        if mode != "rgb_array":
            raise NotImplementedError(f"Only rgb_array rendering mode is supported. Got {mode}")
        promise = self.call("render")
        return promise() if blocking else promise

    def close(self) -> None:
        """Closes the env and its process (a handle from `ParallelPyEnvironment.envs` closes all)."""
        if self._parent is not None:
            self._parent.close()
        elif self._worker is not None:
            self._finalizer()

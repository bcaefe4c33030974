"""Type stubs for the native module ``tfdrive._core`` (built from ``rust/``)."""

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, final

import numpy as np

__all__ = [
    "__version__",
    "DriverCore",
    "RunStats",
    "count_steps",
    "EpisodeMetricCore",
    "TrajectoryBufferCore",
    "NativeVecEnv",
    "PyEnvBatch",
    "MailboxesCore",
]

__version__: str

# --- driver (rust/src/py/driver.rs) -----------------------------------------

@final
class RunStats:
    """What one `DriverCore.run()` did."""

    @property
    def num_steps(self) -> int:
        """Steps collected (boundary transitions excluded), summed over a batch."""
    @property
    def num_episodes(self) -> int:
        """Episodes collected, summed over a batch."""
    @property
    def iterations(self) -> int:
        """Loop iterations (policy.action calls)."""
    @property
    def seconds(self) -> float:
        """Wall time of the run."""
    @property
    def stages(self) -> dict[str, float] | None:
        """Seconds per stage (policy, env, gil_wait, assembly, observers, other), or None
        unless run with timing=True."""

@final
class DriverCore:
    """The step loop behind `tfdrive.drivers.py_driver.PyDriver`."""

    def __new__(
        cls,
        env: Any,
        policy: Any,
        observers: Sequence[Any],
        transition_observers: Sequence[Any],
        info_observers: Sequence[Any],
        max_steps: float,
        max_episodes: float,
        end_episode_on_boundary: bool,
        trajectory_type: Any,
    ) -> DriverCore: ...
    def run(
        self,
        time_step: Any,
        policy_state: Any,
        progress: Callable[[int, int], Any] | None = None,
        timing: bool = False,
    ) -> tuple[Any, Any, RunStats]:
        """Runs until a limit is reached: `(last time step, last output state, stats)`."""

def count_steps(
    step_type: Any, next_step_type: Any, end_episode_on_boundary: bool = True
) -> tuple[int, int]:
    """`(num_steps, num_episodes)` that a (batch of) transition(s) adds to a driver."""

# --- metrics (rust/src/py/observers.rs) -------------------------------------

@final
class EpisodeMetricCore:
    """The native state of a `tfdrive.metrics.py_metrics` metric."""

    def __new__(
        cls, kind: str, buffer_size: int | None = None, batch_size: int | None = None
    ) -> EpisodeMetricCore:
        """`kind`: average_return, average_episode_length, max_return,
        min_return, environment_steps or number_of_episodes."""
    def observe(self, step_type: Any, next_step_type: Any, reward: Any) -> None: ...
    def reset(self) -> None: ...
    def values(self) -> np.ndarray:
        """Finished episodes' values in the window, oldest first (float64)."""
    @property
    def count(self) -> int: ...
    @count.setter
    def count(self, count: int) -> None: ...
    @property
    def batch_size(self) -> int | None: ...
    def get_state(self) -> dict[str, Any]:
        """`batch_size`, `accumulators` (float64 [B]), `window` (float64), `count`."""
    def set_state(self, state: dict[str, Any]) -> None:
        """Restores `get_state()`'s dict (KeyError / ValueError naming the key)."""
    def __getnewargs__(self) -> tuple[str, int | None, int | None]: ...
    def __getstate__(self) -> dict[str, Any]: ...
    def __setstate__(self, state: dict[str, Any]) -> None: ...

# --- replay_buffers (rust/src/py/buffer.rs) ---------------------------------

@final
class TrajectoryBufferCore:
    """The native state of a `tfdrive.replay_buffers.TrajectoryBuffer`.

    Writes one item per row into the caller's storage arrays
    (`[batch_size, max_length, *leaf_shape]`, C-contiguous, owning their data),
    at the shared cursor, overwriting the oldest item once full.
    """

    def __new__(
        cls,
        storage: list[np.ndarray],
        names: list[str],
        batch_size: int,
        max_length: int,
        dict_keys: list[str] | None = None,
    ) -> TrajectoryBufferCore: ...
    def add_leaves(self, leaves: Sequence[Any]) -> None:
        """Appends one batch: the flattened leaves, `[B, *leaf_shape]` (or
        `leaf_shape` when B == 1) of the leaves' dtypes; raises TypeError /
        ValueError naming the spec leaf, writing nothing."""
    def add_nested(self, fields: Sequence[Any]) -> None:
        """Appends one batch given as nests (the data_spec's top-level children,
        in order), flattened natively in tf.nest order; then as add_leaves."""
    def clear(self) -> None: ...
    def set_position(self, cursor: int, len: int, writes: int) -> None:
        """Restores a copied buffer's `cursor`, `len` and `writes` (ValueError if impossible)."""
    @property
    def len(self) -> int:
        """Items stored per row (<= max_length)."""
    @property
    def cursor(self) -> int:
        """The slot the next item goes to."""
    @property
    def start(self) -> int:
        """The slot of the oldest stored item."""
    @property
    def writes(self) -> int:
        """Batches added since construction or the last clear()."""
    @property
    def batch_size(self) -> int: ...
    @property
    def max_length(self) -> int: ...
    @property
    def names(self) -> list[str]: ...

# --- environments (rust/src/py/envs.rs, rust/src/py/batched.rs) -------------

@final
class NativeVecEnv:
    """A batch of native classic-control envs stepped in Rust (GIL released).

    Wrapped by `tfdrive.environments.native.NativeEnvironment`. `reset()` and
    `step(action)` return `(step_type [B] int32, reward [B] float32,
    discount [B] float32, observation [B, obs_dim] float32)`.
    """

    def __new__(
        cls, name: str, num_envs: int, seed: int = 0, num_threads: int | None = None
    ) -> NativeVecEnv: ...
    @property
    def name(self) -> str: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def num_threads(self) -> int: ...
    @property
    def max_episode_steps(self) -> int: ...
    @property
    def action_shape(self) -> list[int]: ...
    @property
    def action_dtype(self) -> str:
        """'int64' or 'float32'."""
    @property
    def action_bounds(self) -> tuple[float, float]: ...
    @property
    def observation_shape(self) -> list[int]: ...
    @property
    def observation_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(minimum, maximum), float32 arrays of the observation shape."""
    def reset(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]: ...
    def step(self, action: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Raises TypeError (dtype) or ValueError (shape, bounds) naming the action spec."""
    def reset_time_step(self) -> Any:
        """`reset()` as a `tfdrive.trajectories.time_step.TimeStep`."""
    def step_time_step(self, action: Any) -> Any:
        """`step(action)` as a `tfdrive.trajectories.time_step.TimeStep`."""
    def current_time_step(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None: ...
    def seed(self, seed: int) -> None: ...
    def get_state(self, index: int) -> tuple[np.ndarray, int]:
        """(Gymnasium state as float64, elapsed steps) of env `index`."""
    def set_state(self, index: int, state: Sequence[float], elapsed: int) -> None: ...
    def __getnewargs__(self) -> tuple[str, int, int, int]: ...
    def __getstate__(self) -> dict[str, Any]:
        """`states` [B, k] float64, `elapsed`, `needs_reset`, `rng` [B], `current`."""
    def __setstate__(self, state: dict[str, Any]) -> None: ...

@final
class PyEnvBatch:
    """Steps Python environments and stacks their time steps into `[B, ...]` arrays.

    `leaf_specs` lists `(name, spec_repr, shape, dtype)` for step_type, reward,
    discount and each observation leaf. `gym_envs` selects the Gymnasium path.
    `reset()`/`step()` return the stacked leaves in that order. Messages name
    env `first_env + row` of `owner` (default "a BatchedPyEnvironment of B envs").
    """

    def __new__(
        cls,
        envs: list[Any],
        leaf_specs: list[tuple[str, str, tuple[int, ...], Any]],
        flatten_observation: Any | None = None,
        gym_envs: list[Any] | None = None,
        discount: float = 1.0,
        discrete: bool = False,
        first_env: int = 0,
        owner: str | None = None,
    ) -> PyEnvBatch: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def gymnasium_path(self) -> bool: ...
    def reset(self) -> list[np.ndarray]: ...
    def step(self, actions: Any) -> list[np.ndarray]:
        """Raises ValueError if len(actions) != num_envs; env exceptions pass
        through unchanged with a note naming the env index."""
    def infos(self) -> list[Any] | None:
        """The Gymnasium path's last info per env; None on the generic path."""

# --- parallel environments (rust/src/py/mailbox.rs) -------------------------

@final
class MailboxesCore:
    """Request/reply mailboxes in shared memory, one slot per worker process.

    Behind `tfdrive.environments.parallel_py_environment`. `memory` is a
    writable, C-contiguous numpy array of at least `slots * slot_bytes` bytes
    that every process maps, zeroed before first use (TypeError / ValueError
    otherwise). Waits release the GIL; a timeout must be finite and >= 0.
    """

    slot_bytes: ClassVar[int]
    def __new__(cls, memory: np.ndarray, slots: int) -> MailboxesCore: ...
    @property
    def slots(self) -> int: ...
    def post(self, slot: int, command: int) -> int:
        """Parent: posts `command` to `slot`; returns the request's sequence number."""
    def wait_request(self, slot: int, last_seq: int, timeout: float) -> tuple[int, int] | None:
        """Worker: `(seq, command)` of the next request after `last_seq`, or None
        after `timeout` seconds."""
    def reply(self, slot: int, seq: int, status: int) -> None:
        """Worker: answers request `seq` of `slot` with `status`."""
    def wait_reply(self, slot: int, seq: int, timeout: float) -> int | None:
        """Parent: the status replied to request `seq`, or None after `timeout` seconds."""

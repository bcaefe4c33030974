"""PyHashedReplayBuffer: a PyUniformReplayBuffer that stores each frame once.

Observations of frame-stacking environments (e.g. `[84, 84, 4]`, the last
four frames) overlap from step to step. This buffer splits every
observation along its last axis into frames, keeps each distinct frame once
in a reference-counted `FrameBuffer` (keyed by a hash of its bytes), and
stores only the frames' hashes.
"""

from __future__ import annotations

import logging
import pickle
import threading
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive.replay_buffers import py_uniform_replay_buffer
from tfdrive.specs import array_spec


class FrameBuffer(tf.train.experimental.PythonState):
    """Reference-counted distinct frames, keyed by the hash of their bytes.

    Checkpointed (pickled) through `tf.train.experimental.PythonState`. Not
    safe for concurrent `add_frame` calls.
    """

    def __init__(self):
        self._frames: dict[int, tuple[np.ndarray, int]] = {}

    def add_frame(self, frame: np.ndarray) -> int:
        """Stores `frame` (or counts one more use of an equal one); returns its key."""
        key = hash(frame.tobytes())
        _, count = self._frames.get(key, (None, 0))
        self._frames[key] = (frame, count + 1)
        return key

    def __len__(self) -> int:
        return len(self._frames)

    def serialize(self) -> bytes:
        return pickle.dumps(self._frames)

    def deserialize(self, string_value: bytes) -> None:
        self._frames = pickle.loads(string_value)

    def compress(self, observation: np.ndarray, split_axis: int = -1) -> np.ndarray:
        """The keys of `observation`'s frames along `split_axis` (int64 `[frames]`)."""
        frames = np.split(observation, observation.shape[split_axis], split_axis)
        return np.array([self.add_frame(frame) for frame in frames])

    def decompress(self, observation: Any, split_axis: int = -1) -> np.ndarray:
        """The observation whose frame keys are `observation`."""
        return np.concatenate([self._frames[key][0] for key in observation], axis=split_axis)

    def on_delete(self, observation: Any, split_axis: int = -1) -> None:
        """Releases one use of each frame key in `observation`."""
        del split_axis
        for key in observation:
            frame, count = self._frames[key]
            if count > 1:
                self._frames[key] = (frame, count - 1)
            else:
                del self._frames[key]

    def clear(self) -> None:
        self._frames = {}


class PyHashedReplayBuffer(py_uniform_replay_buffer.PyUniformReplayBuffer):
    """A PyUniformReplayBuffer of trajectories whose observation frames are deduplicated.

    Args:
      data_spec: a `Trajectory` of `ArraySpec`s; its observation is split
        into frames along the last axis.
      capacity: the most items kept.
      log_interval: log the number of distinct frames every this many adds;
        None: never.

    Raises:
      ValueError: if `data_spec` is not a `Trajectory` spec.
    """

    def __init__(self, data_spec: Any, capacity: int, log_interval: int | None = None):
        if not _is_trajectory(data_spec):
            raise ValueError(f"data_spec must be the spec of a trajectory: {data_spec}")
        super().__init__(data_spec, capacity)
        self._frame_buffer = FrameBuffer()
        self._lock_frame_buffer = threading.Lock()
        self._log_interval = log_interval

    def _encoded_data_spec(self) -> Any:
        observation = self._data_spec.observation
        keys = array_spec.ArraySpec(shape=(observation.shape[-1],), dtype=np.int64)
        return self._data_spec._replace(observation=keys)

    def _encode(self, traj: Any) -> Any:
        """`traj` with its observation replaced by the keys of its frames."""
        with self._lock_frame_buffer:
            observation = self._frame_buffer.compress(traj.observation)
        if self._log_interval and self._np_state.item_count % self._log_interval == 0:
            logging.info("Effective Replay buffer frame count: %d", len(self._frame_buffer))
        return traj._replace(observation=observation)

    def _decode(self, encoded_trajectory: Any) -> Any:
        observation = self._frame_buffer.decompress(encoded_trajectory.observation)
        return encoded_trajectory._replace(observation=observation)

    def _on_delete(self, encoded_trajectory: Any) -> None:
        with self._lock_frame_buffer:
            self._frame_buffer.on_delete(encoded_trajectory.observation)

    def _clear(self) -> None:
        super()._clear()
        self._frame_buffer.clear()


def _is_trajectory(spec: Any) -> bool:
    """A `Trajectory` of tfdrive or TF-Agents, recognised by its type name and fields."""
    fields = getattr(type(spec), "_fields", ())
    return type(spec).__name__ == "Trajectory" and "observation" in fields

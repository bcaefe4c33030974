"""Replay buffers (the names of `tf_agents.replay_buffers`); numpy-only imports.

`TrajectoryBuffer`: a `[B, T]` ring of trajectories in preallocated numpy
arrays, filled natively by tfdrive's `PyDriver` (or by `add_batch` / as an
observer of any driver) and read without copying.
"""

from tfdrive.replay_buffers import trajectory_buffer
from tfdrive.replay_buffers.trajectory_buffer import BufferInfo, TrajectoryBuffer

__all__ = ["BufferInfo", "TrajectoryBuffer", "trajectory_buffer"]

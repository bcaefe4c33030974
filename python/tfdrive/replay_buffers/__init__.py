"""Replay buffers (the names of `tf_agents.replay_buffers`).

`TrajectoryBuffer` (numpy-only, imported with the package): a `[B, T]` ring
of trajectories in preallocated numpy arrays, filled natively by tfdrive's
`PyDriver` (or by `add_batch` / as an observer of any driver) and read
without copying. TF-Agents' buffers load lazily (they import TensorFlow):
`replay_buffer.ReplayBuffer`, `tf_uniform_replay_buffer.TFUniformReplayBuffer`
(tables of `tf.Variable`s), `py_uniform_replay_buffer.PyUniformReplayBuffer`
and `py_hashed_replay_buffer.PyHashedReplayBuffer` (numpy storage).
"""

from tfdrive._lazy import lazy_namespace
from tfdrive.replay_buffers import trajectory_buffer as trajectory_buffer
from tfdrive.replay_buffers.trajectory_buffer import BufferInfo as BufferInfo
from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer as TrajectoryBuffer

_names, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "ReplayBuffer": "replay_buffer",
        "TFUniformReplayBuffer": "tf_uniform_replay_buffer",
        "PyUniformReplayBuffer": "py_uniform_replay_buffer",
        "PyHashedReplayBuffer": "py_hashed_replay_buffer",
    },
)
__all__ = sorted({*_names, "BufferInfo", "TrajectoryBuffer", "trajectory_buffer"})

"""Training checkpoints (`Checkpointer`) and spec nests saved to and loaded from files.

Re-exported by `tfdrive.utils.common` under TF-Agents' names.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import struct_pb2
from tensorflow.python.saved_model import nested_structure_coder

from tfdrive.specs import tensor_spec

__all__ = ["Checkpointer", "load_spec", "save_spec"]


class Checkpointer:
    """Saves and restores trackable objects (agent, policy, replay buffer, step) in a directory.

    Creates `ckpt_dir` if missing and starts restoring its latest checkpoint
    at once (restoration completes as the objects' variables are created; see
    `initialize_or_restore`).

    Args:
      ckpt_dir: The checkpoint directory.
      max_to_keep: How many checkpoints to keep; older ones are deleted.
      **kwargs: The objects to checkpoint, by name (as `tf.train.Checkpoint`).
    """

    def __init__(self, ckpt_dir: str, max_to_keep: int = 20, **kwargs: Any):
        self._checkpoint = tf.train.Checkpoint(**kwargs)
        if not tf.io.gfile.exists(ckpt_dir):
            tf.io.gfile.makedirs(ckpt_dir)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, directory=ckpt_dir, max_to_keep=max_to_keep
        )
        latest = self._manager.latest_checkpoint
        self._checkpoint_exists = latest is not None
        if latest is not None:
            logging.info("Checkpoint available: %s", latest)
        else:
            logging.info("No checkpoint available at %s", ckpt_dir)
        self._load_status = self._checkpoint.restore(latest)

    @property
    def checkpoint_exists(self) -> bool:
        """Whether a checkpoint was found at construction or saved since."""
        return self._checkpoint_exists

    @property
    def manager(self) -> tf.train.CheckpointManager:
        """The underlying `tf.train.CheckpointManager`."""
        return self._manager

    def initialize_or_restore(self, session: Any = None) -> Any:
        """Restores from the latest checkpoint (TF1: initializes when there is none).

        Returns:
          The restore status of `tf.train.Checkpoint.restore`.
        """
        self._load_status.initialize_or_restore(session)
        return self._load_status

    def save(self, global_step: Any, options: tf.train.CheckpointOptions | None = None) -> None:
        """Saves a checkpoint numbered `global_step` (an int or int variable)."""
        path = self._manager.save(checkpoint_number=global_step, options=options)
        self._checkpoint_exists = True
        logging.info("%s", f"Saved checkpoint: {path}")


def save_spec(spec: Any, file_path: str) -> None:
    """Writes a nest of tensor (or array) specs to `file_path` as a `StructuredValue` proto.

    Array specs are converted to tensor specs first; missing directories are
    created.
    """
    proto = nested_structure_coder.encode_structure(tensor_spec.from_spec(spec))
    directory = os.path.dirname(file_path)
    if directory and not tf.io.gfile.exists(directory):
        tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(file_path, "wb") as f:
        f.write(proto.SerializeToString())


def load_spec(file_path: str) -> Any:
    """Reads a spec nest written by `save_spec`.

    Dicts, lists and tuples come back as they were; named tuples come back as
    TensorFlow's generic named-tuple type (rebuild them, e.g.
    ``trajectory.Trajectory(*spec)``).
    """
    with tf.io.gfile.GFile(file_path, "rb") as f:
        proto = struct_pb2.StructuredValue.FromString(f.read())
    return nested_structure_coder.decode_proto(proto)

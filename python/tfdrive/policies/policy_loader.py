"""Loading policies saved by `PolicySaver`, and assembling full saved models.

A training job typically writes one full SavedModel of its policy
(``saved_model.pb``, ``policy_specs.pbtxt``, ``variables/``, ``assets/``)
and then, every so often, variable-only checkpoints
(`PolicySaver.save_checkpoint`: ``<checkpoint>/variables/variables*``).
`load` returns the policy at any of those checkpoints as a numpy policy;
`materialize_saved_model` writes a full SavedModel for one of them.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from tfdrive.policies import policy_saver, py_tf_eager_policy

__all__ = ["load", "materialize_saved_model"]


def load(saved_model_path: str, checkpoint_path: str | None = None) -> Any:
    """Loads a saved policy, optionally with the variables of a later checkpoint.

    Args:
      saved_model_path: Folder of a full SavedModel written by
        `PolicySaver.save` (its specs are read from ``policy_specs.pbtxt``).
      checkpoint_path: Optional folder written by `PolicySaver.save_checkpoint`
        (holding ``variables/variables.index`` and data shards) whose values
        replace the saved ones.

    Returns:
      A `SavedModelPyTFEagerPolicy`.
    """
    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        saved_model_path, load_specs_from_pbtxt=True
    )
    if checkpoint_path:
        policy.update_from_checkpoint(checkpoint_path)
    return policy


def _copy_file(from_dir: str, name: str, to_dir: str) -> None:
    tf.io.gfile.copy(os.path.join(from_dir, name), os.path.join(to_dir, name))


def _copy_dir(from_dir: str, name: str, to_dir: str) -> None:
    """Copies the files directly in ``from_dir/name`` to ``to_dir/name``."""
    source = os.path.join(from_dir, name)
    target = os.path.join(to_dir, name)
    tf.io.gfile.mkdir(target)
    for file_name in tf.io.gfile.listdir(source):
        _copy_file(source, file_name, target)


def materialize_saved_model(saved_model_path: str, checkpoint_path: str, output_path: str) -> None:
    """Writes a full SavedModel: the graph of one saved model with a checkpoint's variables.

    `output_path` receives ``saved_model.pb``, ``policy_specs.pbtxt`` and
    ``assets/`` from `saved_model_path`, and ``variables/`` from
    `checkpoint_path`; `load(output_path)` then gives the policy at that
    checkpoint.

    Args:
      saved_model_path: Folder of a full SavedModel written by `PolicySaver.save`.
      checkpoint_path: Folder written by `PolicySaver.save_checkpoint` for the
        same policy.
      output_path: Folder to create; it must not exist yet.

    Raises:
      ValueError: `output_path` exists already.
    """
    if tf.io.gfile.exists(output_path):
        raise ValueError(f"Output path already exists: {output_path}")
    tf.io.gfile.makedirs(output_path)
    _copy_dir(checkpoint_path, tf.saved_model.VARIABLES_DIRECTORY, output_path)
    if tf.io.gfile.isdir(os.path.join(saved_model_path, tf.saved_model.ASSETS_DIRECTORY)):
        _copy_dir(saved_model_path, tf.saved_model.ASSETS_DIRECTORY, output_path)
    _copy_file(saved_model_path, tf.saved_model.SAVED_MODEL_FILENAME_PB, output_path)
    _copy_file(saved_model_path, policy_saver.POLICY_SPECS_PBTXT, output_path)

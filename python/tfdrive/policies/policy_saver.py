"""`PolicySaver`: exports a `TFPolicy` as a SavedModel that `SavedModelPyTFEagerPolicy` loads.

The SavedModel holds `tf.function`s ``action(time_step, policy_state)``
(time steps and state with a batch dimension), ``get_initial_state(batch_size)``,
``get_train_step()`` and ``get_metadata()``, plus the ``model_variables``.
Beside it, ``policy_specs.pbtxt`` stores the collect data spec and the policy
state spec (TensorFlow's structure proto, as TF-Agents writes it), so the
policy can be loaded without restating its specs.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from google.protobuf import text_format
from tensorflow.python.saved_model import nested_structure_coder

from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories import trajectory

__all__ = ["POLICY_SPECS_PBTXT", "PolicySaver", "load_specs", "specs_from_collect_data_spec"]

POLICY_SPECS_PBTXT = "policy_specs.pbtxt"


def _rebuild_namedtuples(value: Any) -> Any:
    """Decoded protos give ad-hoc namedtuples; map TimeStep / Trajectory back to ours."""
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        fields = type(value)._fields
        children = [_rebuild_namedtuples(v) for v in value]
        if type(value).__name__ == "Trajectory" and fields == trajectory.Trajectory._fields:
            return trajectory.Trajectory(*children)
        if type(value).__name__ == "TimeStep" and fields == ts.TimeStep._fields:
            return ts.TimeStep(*children)
        return type(value)(*children)
    if isinstance(value, dict):
        return {k: _rebuild_namedtuples(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_rebuild_namedtuples(v) for v in value)
    return value


def specs_from_collect_data_spec(loaded: dict) -> dict:
    """Derives the policy's specs from ``{'collect_data_spec', 'policy_state_spec'}``."""
    collect = loaded["collect_data_spec"]
    time_step_spec = ts.TimeStep(
        step_type=collect.step_type,
        reward=collect.reward,
        discount=collect.discount,
        observation=collect.observation,
    )
    return {
        "collect_data_spec": collect,
        "time_step_spec": time_step_spec,
        "action_spec": collect.action,
        "policy_state_spec": loaded.get("policy_state_spec", ()),
        "info_spec": collect.policy_info,
    }


def load_specs(model_path: str) -> dict:
    """Reads ``policy_specs.pbtxt`` of a saved policy; see `specs_from_collect_data_spec`."""
    with tf.io.gfile.GFile(os.path.join(model_path, POLICY_SPECS_PBTXT), "r") as f:
        proto = text_format.Parse(f.read(), nested_structure_coder.struct_pb2.StructuredValue())
    decoded = _rebuild_namedtuples(nested_structure_coder.decode_proto(proto))
    return specs_from_collect_data_spec(decoded)


class PolicySaver:
    """Saves a `TFPolicy` for deployment or for `SavedModelPyTFEagerPolicy`.

    Args:
      policy: The `TFPolicy` to export.
      batch_size: Fixed batch size of the exported functions, or None for any.
      use_nest_path_signatures: Accepted for TF-Agents compatibility (no
        serving signatures are written; the functions are used directly).
      seed: Seed passed to ``policy.action`` inside the exported graph, so
        the loaded policy samples the same sequence as the original called
        with that seed.
      train_step: A scalar int64 `tf.Variable` saved with the policy
        (default: the constant -1).
      input_fn_and_spec: Not supported (must be None).
      metadata: Optional dict of `tf.Variable`s saved with the policy.
    """

    def __init__(
        self,
        policy: Any,
        batch_size: int | None = None,
        use_nest_path_signatures: bool = True,
        seed: Any = None,
        train_step: tf.Variable | None = None,
        input_fn_and_spec: Any = None,
        metadata: dict | None = None,
    ):
        del use_nest_path_signatures
        if input_fn_and_spec is not None:
            raise NotImplementedError("tfdrive's PolicySaver does not support input_fn_and_spec.")
        if train_step is not None and not isinstance(train_step, tf.Variable):
            raise ValueError(f"train_step must be a tf.Variable, got {type(train_step)}.")
        self._policy = policy
        self._train_step = train_step
        self._metadata = metadata or {}
        outer = [batch_size]
        self._time_step_input_spec = tensor_spec.add_outer_dims_nest(policy.time_step_spec, outer)
        self._policy_state_input_spec = tensor_spec.add_outer_dims_nest(
            policy.policy_state_spec, outer
        )

        def action(time_step: Any, policy_state: Any) -> Any:
            if seed is not None:
                return policy.action(time_step, policy_state, seed=seed)
            return policy.action(time_step, policy_state)

        action_fn = tf.function(action, autograph=False)
        action_fn.get_concrete_function(self._time_step_input_spec, self._policy_state_input_spec)
        if batch_size is None:
            get_initial_state_fn = tf.function(
                lambda batch_size: policy.get_initial_state(batch_size),
                input_signature=[tf.TensorSpec([], tf.int32, name="batch_size")],
                autograph=False,
            )
            get_initial_state_fn.get_concrete_function()
        else:
            get_initial_state_fn = tf.function(
                lambda: policy.get_initial_state(batch_size), input_signature=[], autograph=False
            )
            get_initial_state_fn.get_concrete_function()
        train_step_value = self._train_step

        def get_train_step() -> tf.Tensor:
            if train_step_value is None:
                return tf.constant(-1, tf.int64)
            return tf.identity(train_step_value)

        train_step_fn = tf.function(get_train_step, input_signature=[], autograph=False)
        train_step_fn.get_concrete_function()
        metadata_fn = tf.function(
            lambda: {k: tf.identity(v) for k, v in self._metadata.items()},
            input_signature=[],
            autograph=False,
        )
        metadata_fn.get_concrete_function()

        saved = tf.Module()
        saved.action = action_fn
        saved.get_initial_state = get_initial_state_fn
        saved.get_train_step = train_step_fn
        saved.get_metadata = metadata_fn
        saved.model_variables = list(policy.variables())
        saved.policy_module = policy
        if self._train_step is not None:
            saved.train_step = self._train_step
        saved.metadata = dict(self._metadata)
        self._saved = saved

    @property
    def action_input_spec(self) -> Any:
        """``(time_step_spec, policy_state_spec)`` with the batch dimension."""
        return (self._time_step_input_spec, self._policy_state_input_spec)

    @property
    def policy_state_spec(self) -> Any:
        return self._policy.policy_state_spec

    @property
    def policy_step_spec(self) -> Any:
        return self._policy.policy_step_spec

    def get_train_step(self) -> Any:
        return self._saved.get_train_step()

    def get_metadata(self) -> dict:
        return self._saved.get_metadata()

    def save(self, export_dir: str, options: tf.saved_model.SaveOptions | None = None) -> None:
        """Writes the SavedModel and ``policy_specs.pbtxt`` to `export_dir`."""
        tf.saved_model.save(self._saved, export_dir, options=options)
        specs = {
            "collect_data_spec": self._policy.collect_data_spec,
            "policy_state_spec": self._policy.policy_state_spec,
        }
        proto = nested_structure_coder.encode_structure(specs)
        with tf.io.gfile.GFile(os.path.join(export_dir, POLICY_SPECS_PBTXT), "w") as f:
            f.write(text_format.MessageToString(proto))

    def save_checkpoint(
        self, export_dir: str, options: tf.train.CheckpointOptions | None = None
    ) -> None:
        """Writes only the variables, in the layout `update_from_checkpoint` reads."""
        checkpoint = tf.train.Checkpoint(policy=self._saved)
        prefix = os.path.join(
            export_dir, tf.saved_model.VARIABLES_DIRECTORY, tf.saved_model.VARIABLES_FILENAME
        )
        checkpoint.write(prefix, options=options)

"""`TFPyPolicy`: a numpy `PyPolicy` run inside TensorFlow as a `TFPolicy`.

Each call of `action` (and of `get_initial_state`) runs the Python policy
through one `tf.numpy_function`, so the policy works eagerly, inside a
`tf.function` and in TF1 graphs alike. The outputs have the dtypes of the
policy's specs; their static shapes are unknown.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.utils import common, nest_utils

__all__ = ["TFPyPolicy", "map_tensor_spec_to_dtypes_list"]

_PY_POLICY_MEMBERS = (
    "time_step_spec",
    "action_spec",
    "policy_state_spec",
    "info_spec",
    "action",
    "get_initial_state",
)


def map_tensor_spec_to_dtypes_list(t_spec: Any) -> list:
    """The dtypes of a nest of specs, in `tf.nest.flatten` order."""
    return [spec.dtype for spec in tf.nest.flatten(t_spec)]


class TFPyPolicy(tf_policy.TFPolicy):
    """Exposes a `PyPolicy` (tfdrive's, TF-Agents' or any object with its protocol) as a `TFPolicy`.

    Args:
      policy: The Python policy: ``time_step_spec``, ``action_spec``,
        ``policy_state_spec``, ``info_spec``, ``action(time_step=...,
        policy_state=...)`` and ``get_initial_state(batch_size=...)``.
      py_policy_is_batched: False (default): the time steps given to `action`
        must have a batch dimension of 1, which is removed before calling the
        Python policy and added back to the action it returns (the state and
        info are passed through as they are). True: time steps and actions
        are passed through unchanged.
      name: The `tf.Module` name; the class name by default.

    The specs are those of `policy`, as tensor specs. Actions are not clipped
    and the state is not reset on FIRST steps (the Python policy sees every
    step as is). `distribution` raises `NotImplementedError`, and a `seed`
    passed to `action` raises `NotImplementedError`: sampling is the Python
    policy's own business.

    Raises:
      TypeError: `policy` lacks a member of the `PyPolicy` protocol.
    """

    def __init__(self, policy: Any, py_policy_is_batched: bool = False, name: str | None = None):
        missing = [m for m in _PY_POLICY_MEMBERS if not hasattr(policy, m)]
        if missing:
            raise TypeError(
                "Input policy should implement py_policy.PyPolicy, but saw "
                f"{type(policy).__name__} (missing {missing})."
            )
        time_step_spec, action_spec, policy_state_spec, info_spec = tf.nest.map_structure(
            tensor_spec.from_spec,
            (policy.time_step_spec, policy.action_spec, policy.policy_state_spec, policy.info_spec),
        )
        super().__init__(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            policy_state_spec=policy_state_spec,
            info_spec=info_spec,
            clip=False,
            name=name,
            automatic_state_reset=False,
        )
        self._py_policy = policy
        self._py_policy_is_batched = py_policy_is_batched
        self._policy_state_dtypes = map_tensor_spec_to_dtypes_list(self.policy_state_spec)
        self._policy_step_dtypes = map_tensor_spec_to_dtypes_list(self.policy_step_spec)

    # Compiled so that eagerly, too, empty nests (which `tf.numpy_function`
    # cannot return) are rebuilt from the specs rather than dropped.
    @common.function
    def _get_initial_state(self, batch_size: Any) -> Any:
        inputs = [] if batch_size is None else [batch_size]

        def initial_state(*batch: Any) -> list:
            size = int(batch[0]) if batch else None
            return tf.nest.flatten(self._py_policy.get_initial_state(batch_size=size))

        with tf.name_scope("get_initial_state"):
            flat_state = tf.numpy_function(
                initial_state,
                inputs,
                self._policy_state_dtypes,
                name="get_initial_state_numpy_function",
            )
            if not self._policy_state_dtypes:
                # No outputs: the op alone, which still runs (the Python
                # policy may reset itself) as the compiled function's
                # stateful ops all do.
                flat_state = []
            return tf.nest.pack_sequence_as(self.policy_state_spec, flat_state)

    @common.function
    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        if seed is not None:
            raise NotImplementedError(f"seed is not supported; but saw seed: {seed}")
        py_specs = (self._py_policy.time_step_spec, self._py_policy.policy_state_spec)
        expected_outputs = len(self._policy_step_dtypes)

        def action(*flat_inputs: Any) -> list:
            py_time_step, py_state = tf.nest.pack_sequence_as(py_specs, list(flat_inputs))
            step = self._py_policy.action(time_step=py_time_step, policy_state=py_state)
            flat_step = tf.nest.flatten(step)
            if len(flat_step) != expected_outputs:
                raise ValueError(
                    f"The Python policy returned {step!r}, which does not match its "
                    f"policy_step_spec {self.policy_step_spec}."
                )
            return flat_step

        with tf.name_scope("action"):
            if not self._py_policy_is_batched:
                time_step = nest_utils.unbatch_nested_tensors(time_step)
            flat_step = tf.numpy_function(
                action,
                tf.nest.flatten((time_step, policy_state)),
                self._policy_step_dtypes,
                name="action_numpy_function",
            )
            step = tf.nest.pack_sequence_as(self.policy_step_spec, flat_step)
            if not self._py_policy_is_batched:
                step = step._replace(action=nest_utils.batch_nested_tensors(step.action))
            return step

    def _variables(self) -> list:
        return []

    def _distribution(self, time_step: Any, policy_state: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not support distribution yet.")

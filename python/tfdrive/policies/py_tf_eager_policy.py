"""Numpy wrappers around TensorFlow policies: `PyTFEagerPolicy` and `SavedModelPyTFEagerPolicy`.

The driver calls ``policy.action(time_step, policy_state)`` with numpy time
steps. With ``use_tf_function=True`` each call is one run of a compiled
graph:

1. the time step (pruned to the spec) and the state are flattened once into
   a list of leaves, each converted to one tensor of the spec's dtype;
2. a concrete function, traced once per input kind (with or without state)
   with ``None`` batch dimensions, runs ``policy.action`` (validation, state
   reset, sampling, clipping) and, with ``batch_time_steps``, adds and
   removes the batch dimension inside the graph;
3. each action and info output is copied to the host once (``.numpy()``);
   the state stays a tensor (on the policy's device) for the next call.

Placement: the graph is traced under the device of the policy's variables
(e.g. ``/GPU:0`` when the policy was built under ``tf.device('/GPU:0')``), so
it runs there; inputs are created on the host and copied in by the runtime,
and outputs are copied back by ``.numpy()``.

With ``use_tf_function=False``, `policy.action` runs eagerly (op by op), for
debugging.

XLA (``jit_compile=True``, which implies ``use_tf_function``): the same graph
is compiled by XLA (``tf.function(jit_compile=True)``), which fuses the
network's layers, the sampling and the clipping into a few kernels; see
docs/xla.md for when that pays. XLA compiles once per input shape (batch
size), so keep the batch size fixed. What changes against the plain graph:

* deterministic outputs (greedy actions, logits, value predictions, means)
  are the same up to float rounding (XLA may fuse and reorder arithmetic);
* sampling draws from the same distribution but from XLA's own random
  stream (XLA ignores the seeds of stateful random ops such as
  ``tf.random.categorical``), so `tf.random.set_seed` does not reproduce the
  plain graph's samples; calls with an explicit ``seed``
  (``action(time_step, seed=...)``) therefore run the plain graph, so the
  seed means what it means in TF-Agents;
* ``tf.debugging.assert_*`` ops inside the graph are not evaluated, and
  out-of-range gather indices are clamped instead of raising.

A policy with an op XLA cannot compile (``tf.py_function``, string ops, some
custom ops) is not an error: the first call that XLA refuses is rerun with
the plain graph, one warning (`XlaFallbackWarning`, also logged) names the
policy and XLA's error, and every later call runs the plain graph. An error
the plain graph raises as well is raised as is.

`get_initial_state` is not compiled: it makes zeros once per run.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive import _gin
from tfdrive.policies import py_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import nest_utils

__all__ = [
    "PyTFEagerPolicy",
    "PyTFEagerPolicyBase",
    "SavedModelPyTFEagerPolicy",
    "XlaFallbackWarning",
]

_logger = logging.getLogger(__name__)


class XlaFallbackWarning(RuntimeWarning):
    """A ``jit_compile=True`` policy could not be compiled by XLA and runs the plain graph."""


def _policy_device(policy: Any) -> str | None:
    """The device of the policy's first variable, or None without variables."""
    try:
        variables = policy.variables()
    except TypeError:
        variables = policy.variables
    except Exception:
        return None
    for v in tf.nest.flatten(variables):
        device = getattr(v, "device", None)
        if device:
            return device
    return None


def _to_numpy(x: Any) -> Any:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _make_converter() -> Any:
    """Returns ``convert(value, dtype) -> EagerTensor`` on the host.

    Uses the EagerTensor constructor directly where TensorFlow has it (about
    twice as fast as `tf.constant`); numpy values are cast to `dtype`.
    """
    try:
        from tensorflow.python.eager import context
        from tensorflow.python.framework import ops

        eager_tensor = ops.EagerTensor
        host = context.context().host_address_space() + "/device:CPU:0"
        eager_tensor(np.zeros([1], np.float32), host, tf.float32.as_datatype_enum)
    except Exception:  # pragma: no cover - public fallback
        return lambda value, dtype: tf.constant(value, dtype=dtype)

    def convert(value: Any, dtype: tf.DType) -> Any:
        if isinstance(value, tf.Tensor):
            return value if value.dtype == dtype else tf.cast(value, dtype)
        return eager_tensor(value, host, dtype.as_datatype_enum)

    return convert


def _host_array(t: Any) -> np.ndarray:
    """One copy of an output tensor on the host, as an ndarray (0-d for scalars)."""
    value = t._numpy() if hasattr(t, "_numpy") else t.numpy()
    return value if isinstance(value, np.ndarray) else np.asarray(value)


def _make_packer(structure: Any, convert: Any) -> Any:
    """Returns ``pack(flat, start) -> (nest, next_start)`` rebuilding `structure`.

    Precomputed once per traced structure: packing then costs a few Python
    calls instead of a generic `tf.nest.pack_sequence_as` walk. Each leaf
    goes through `convert`.
    """
    if not tf.nest.is_nested(structure):
        return lambda flat, i: (convert(flat[i]), i + 1)
    if isinstance(structure, dict):
        keys = sorted(structure)
        order = list(structure)
        children = [_make_packer(structure[k], convert) for k in keys]

        def pack_dict(flat: list, i: int) -> tuple[Any, int]:
            values = {}
            for key, child in zip(keys, children):
                values[key], i = child(flat, i)
            return {k: values[k] for k in order}, i

        return pack_dict
    items = list(structure)
    children = [_make_packer(v, convert) for v in items]
    if hasattr(type(structure), "_fields"):
        make = lambda values: type(structure)(*values)  # noqa: E731
    else:
        make = type(structure) if type(structure) in (list, tuple) else list

    def pack_sequence(flat: list, i: int) -> tuple[Any, int]:
        values = []
        for child in children:
            value, i = child(flat, i)
            values.append(value)
        return make(values), i

    return pack_sequence


class _CompiledAction:
    """One concrete function of ``policy.action`` over flat tensor inputs."""

    def __init__(
        self,
        policy_action: Any,
        time_step_spec: Any,
        state_spec: Any,
        batch_time_steps: bool,
        device: str | None,
        jit_compile: bool = False,
    ):
        self.jit_compile = jit_compile
        self._time_step_spec = time_step_spec
        self._state_spec = state_spec
        flat_ts = tf.nest.flatten(time_step_spec)
        flat_state = tf.nest.flatten(state_spec)
        self.num_ts = len(flat_ts)
        ts_outer = [] if batch_time_steps else [None]
        signature = [tf.TensorSpec(ts_outer + s.shape.as_list(), s.dtype) for s in flat_ts]
        signature += [tf.TensorSpec([None] + s.shape.as_list(), s.dtype) for s in flat_state]
        structure = {}

        def flat_action(*flat: tf.Tensor) -> list:
            if device:
                with tf.device(device):
                    return flat_action_body(*flat)
            return flat_action_body(*flat)

        def flat_action_body(*flat: tf.Tensor) -> list:
            time_step = tf.nest.pack_sequence_as(time_step_spec, list(flat[: self.num_ts]))
            if batch_time_steps:
                time_step = tf.nest.map_structure(lambda t: tf.expand_dims(t, 0), time_step)
            state = tf.nest.pack_sequence_as(state_spec, list(flat[self.num_ts :]))
            step = policy_action(time_step, state)
            action, info = step.action, step.info
            if batch_time_steps:
                action = tf.nest.map_structure(lambda t: tf.squeeze(t, 0), action)
                info = tf.nest.map_structure(lambda t: tf.squeeze(tf.convert_to_tensor(t), 0), info)
            structure["step"] = step
            structure["action"] = action
            structure["info"] = info
            return tf.nest.flatten(action) + tf.nest.flatten(info) + tf.nest.flatten(step.state)

        function = tf.function(
            flat_action, input_signature=signature, autograph=False, jit_compile=jit_compile
        )
        self._concrete = function.get_concrete_function()
        self._captured = self._concrete.captured_inputs
        # Off the host CPU, also call under the device scope so the outputs
        # (notably the recurrent state) stay on that device between calls.
        self._call_device = device if device and not device.endswith("CPU:0") else None
        self._call_flat = getattr(self._concrete, "_call_flat", None)
        self._action_structure = structure["action"]
        self._info_structure = structure["info"]
        self._state_structure = structure["step"].state
        self._n_action = len(tf.nest.flatten(self._action_structure))
        self._n_info = len(tf.nest.flatten(self._info_structure))
        self._single_action = not tf.nest.is_nested(self._action_structure)
        self._pack_action = _make_packer(self._action_structure, _host_array)
        self._pack_info = _make_packer(self._info_structure, _host_array)
        self._pack_state = _make_packer(self._state_structure, lambda t: t)
        self.dtypes = [s.dtype for s in signature]

    def __call__(self, flat_inputs: list) -> tuple[Any, Any, Any]:
        if self._call_device is not None:
            with tf.device(self._call_device):
                return self._run(flat_inputs)
        return self._run(flat_inputs)

    @property
    def graph(self) -> tf.Graph:
        """The traced graph (its ops carry the device they are pinned to)."""
        return self._concrete.graph

    def _run(self, flat_inputs: list) -> tuple[Any, Any, Any]:
        if self._call_flat is not None:
            outputs = self._call_flat(flat_inputs, self._captured)
        else:  # pragma: no cover - public fallback
            outputs = self._concrete(*flat_inputs)
        if not isinstance(outputs, (list, tuple)):
            outputs = tf.nest.flatten(outputs)
        if self._single_action:
            action, i = _host_array(outputs[0]), 1
        else:
            action, i = self._pack_action(outputs, 0)
        info, i = self._pack_info(outputs, i)
        state, _ = self._pack_state(outputs, i)
        return action, state, info


@_gin.configurable
class PyTFEagerPolicyBase(py_policy.PyPolicy):
    """Runs a `TFPolicy` (or a loaded SavedModel policy) on numpy inputs.

    Args:
      policy: The TensorFlow policy (``action(time_step, policy_state,
        seed=None)`` over batched tensors).
      time_step_spec / action_spec / policy_state_spec / info_spec: Array or
        tensor specs describing the policy.
      use_tf_function: Run each call as one compiled graph (fast) instead of
        eagerly.
      batch_time_steps: The time steps passed in are unbatched (one
        environment): a batch dimension of 1 is added before the call and
        removed from the action and info. Use False for batched
        environments. The state keeps its batch dimension either way.
      jit_compile: Compile the action graph with XLA (implies
        `use_tf_function`); falls back to the plain graph, with one
        `XlaFallbackWarning`, when XLA cannot compile it. See the module
        docstring.
    """

    def __init__(
        self,
        policy: Any,
        time_step_spec: Any,
        action_spec: Any,
        policy_state_spec: Any,
        info_spec: Any,
        use_tf_function: bool = False,
        batch_time_steps: bool = True,
        jit_compile: bool = False,
    ):
        if not isinstance(jit_compile, bool):
            raise TypeError(f"jit_compile must be a bool, got {jit_compile!r}.")
        self._policy = policy
        self._jit_compile = jit_compile
        self._xla_error: str | None = None
        self._use_tf_function = use_tf_function or jit_compile
        self._batch_time_steps = batch_time_steps
        super().__init__(time_step_spec, action_spec, policy_state_spec, info_spec)
        self._tf_time_step_spec = tensor_spec.from_spec(self._time_step_spec)
        self._tf_state_spec = tensor_spec.from_spec(self._policy_state_spec)
        self._np_ts_dtypes = [s.dtype for s in tf.nest.flatten(self._time_step_spec)]
        self._np_state_dtypes = [s.dtype for s in tf.nest.flatten(self._policy_state_spec)]
        self._observation_is_leaf = not tf.nest.is_nested(self._time_step_spec.observation)
        self._num_ts_leaves = len(tf.nest.flatten(self._time_step_spec))
        self._compiled: dict = {}
        self._convert = _make_converter()
        self._device = _policy_device(policy)
        if self._use_tf_function:
            self._policy_action_fn = tf.function(policy.action, autograph=False)
        else:
            self._policy_action_fn = policy.action

    @property
    def device(self) -> str | None:
        """Device the compiled graph runs on (that of the policy's variables)."""
        return self._device

    @property
    def jit_compile(self) -> bool:
        """True while calls run the XLA-compiled graph (False after a fallback)."""
        return self._jit_compile and self._xla_error is None

    def _fall_back_from_xla(self, error: Exception) -> None:
        """Records that XLA refused the policy; warns once; later calls run the plain graph."""
        if self._xla_error is not None:
            return
        name = getattr(self._policy, "name", None) or type(self._policy).__name__
        lines = str(error).strip().splitlines()
        # Drop the graph's attribute list ("[_XlaMustCompile=true,...]"): noise to a reader.
        detail = re.sub(r"\[_XlaMustCompile[^\]]*\]", "", lines[0] if lines else "")
        self._xla_error = f"{type(error).__name__}: {detail}"
        message = (
            f"PyTFEagerPolicy(jit_compile=True): XLA cannot compile the action graph of policy "
            f"{name!r} ({type(self._policy).__name__}); running the plain TensorFlow graph "
            f"instead. XLA's error: {self._xla_error}"
        )
        _logger.warning(message)
        warnings.warn(message, XlaFallbackWarning, stacklevel=6)
        self._compiled = {k: c for k, c in self._compiled.items() if not c.jit_compile}

    def variables(self) -> Any:
        """The policy's variables as numpy arrays."""
        return tf.nest.map_structure(lambda t: t.numpy(), self._policy.variables())

    def _get_initial_state(self, batch_size: int | None) -> Any:
        # As TF-Agents: None means a leading dimension of 0.
        if batch_size is None:
            batch_size = 0
        return self._policy.get_initial_state(batch_size=batch_size)

    def _compiled_for(self, has_state: bool) -> _CompiledAction:
        compiled = self._compiled.get(has_state)
        if compiled is None:
            compiled = _CompiledAction(
                self._policy.action,
                self._tf_time_step_spec,
                self._tf_state_spec if has_state else (),
                self._batch_time_steps,
                self._device,
                jit_compile=self.jit_compile,
            )
            self._compiled[has_state] = compiled
        return compiled

    def _run_compiled(self, has_state: bool, tensors: list) -> tuple[Any, Any, Any]:
        compiled = self._compiled_for(has_state)
        if not compiled.jit_compile:
            return compiled(tensors)
        try:
            return compiled(tensors)
        except (tf.errors.OpError, ValueError, TypeError) as xla_error:
            # Only an error the plain graph does not raise is XLA's: rerun
            # without XLA, which raises the genuine error if there is one.
            self._compiled.pop(has_state)
            plain = _CompiledAction(
                self._policy.action,
                self._tf_time_step_spec,
                self._tf_state_spec if has_state else (),
                self._batch_time_steps,
                self._device,
            )
            try:
                outputs = plain(tensors)
            except Exception:
                self._compiled[has_state] = compiled
                raise
            self._fall_back_from_xla(xla_error)
            self._compiled[has_state] = plain
            return outputs

    def _flat_time_step(self, time_step: Any) -> list:
        observation = time_step.observation
        if self._observation_is_leaf and not isinstance(observation, (tuple, list, dict)):
            return [time_step.step_type, time_step.reward, time_step.discount, observation]
        observation = nest_utils.prune_extra_keys(self._time_step_spec.observation, observation)
        nest_utils.assert_same_structure(
            observation,
            self._time_step_spec.observation,
            message="time_step.observation and time_step_spec.observation structures do not match",
        )
        return [time_step.step_type, time_step.reward, time_step.discount] + tf.nest.flatten(
            observation
        )

    def _check_shapes(self, leaves: list) -> None:
        """Raises ValueError naming the spec when an input's inner shape is wrong."""
        specs = tf.nest.flatten(self._time_step_spec) + tf.nest.flatten(self._policy_state_spec)
        for i, (x, spec) in enumerate(zip(leaves, specs)):
            shape = getattr(x, "shape", None)
            shape = np.shape(x) if shape is None else tuple(shape)
            outer = 0 if (self._batch_time_steps and i < self._num_ts_leaves) else 1
            if tuple(shape[outer:]) != tuple(spec.shape) or len(shape) != outer + len(spec.shape):
                raise ValueError(
                    f"Input of shape {tuple(shape)} does not match spec {spec} "
                    f"(batch_time_steps={self._batch_time_steps})."
                )

    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        if seed is None and self._use_tf_function:
            return self._fast_action(time_step, policy_state)
        return self._slow_action(time_step, policy_state, seed)

    def _fast_action(self, time_step: Any, policy_state: Any) -> Any:
        has_state = bool(tf.nest.flatten(policy_state)) and bool(self._np_state_dtypes)
        compiled = self._compiled_for(has_state)
        leaves = self._flat_time_step(time_step)
        if has_state:
            leaves += tf.nest.flatten(policy_state)
        if len(leaves) != len(compiled.dtypes):
            raise ValueError(
                "time_step / policy_state do not match the policy's specs: got "
                f"{len(leaves)} leaves, expected {len(compiled.dtypes)} for "
                f"time_step_spec {self._time_step_spec} and policy_state_spec "
                f"{self._policy_state_spec}."
            )
        self._check_shapes(leaves)
        convert = self._convert
        tensors = [convert(x, d) for x, d in zip(leaves, compiled.dtypes)]
        action, state, info = self._run_compiled(has_state, tensors)
        return policy_step.PolicyStep(action, state, info)

    def _slow_action(self, time_step: Any, policy_state: Any, seed: Any) -> Any:
        if self._batch_time_steps:
            time_step = nest_utils.batch_nested_array(time_step)
        time_step = tf.nest.map_structure(tf.convert_to_tensor, time_step)
        if seed is not None:
            step = self._policy_action_fn(time_step, policy_state, seed=seed)
        else:
            step = self._policy_action_fn(time_step, policy_state)
        action, info = step.action, step.info
        if self._batch_time_steps:
            action = nest_utils.unbatch_nested_tensors_to_arrays(action)
            info = nest_utils.unbatch_nested_tensors_to_arrays(info)
        else:
            action = tf.nest.map_structure(_to_numpy, action)
            info = tf.nest.map_structure(_to_numpy, info)
        return step._replace(action=action, info=info)


@_gin.configurable
class PyTFEagerPolicy(PyTFEagerPolicyBase):
    """Numpy-in, numpy-out wrapper of a `TFPolicy`; see the module docstring.

    Args:
      policy: A `TFPolicy` (tfdrive's or TF-Agents').
      use_tf_function: One compiled graph per call (recommended) or eager.
      batch_time_steps: True for unbatched time steps (one environment),
        False for batched environments.
      jit_compile: Compile the graph with XLA (implies `use_tf_function`),
        falling back to the plain graph with one `XlaFallbackWarning` when
        XLA cannot compile the policy; see the module docstring.

    `action` returns `PolicyStep(action, state, info)` with numpy action and
    info (unbatched when `batch_time_steps`) and the state as tensors.
    """

    def __init__(
        self,
        policy: Any,
        use_tf_function: bool = False,
        batch_time_steps: bool = True,
        jit_compile: bool = False,
    ):
        super().__init__(
            policy,
            tensor_spec.to_array_spec(policy.time_step_spec),
            tensor_spec.to_array_spec(policy.action_spec),
            tensor_spec.to_array_spec(policy.policy_state_spec),
            tensor_spec.to_array_spec(policy.info_spec),
            use_tf_function,
            batch_time_steps,
            jit_compile,
        )


@_gin.configurable
class SavedModelPyTFEagerPolicy(PyTFEagerPolicyBase):
    """Loads a policy saved with `PolicySaver` (or TF-Agents' saver) and runs it on numpy.

    Args:
      model_path: Directory of the SavedModel.
      time_step_spec / action_spec / policy_state_spec / info_spec: The
        policy's specs; required unless `load_specs_from_pbtxt`.
      load_specs_from_pbtxt: Read the specs saved beside the model
        (``policy_specs.pbtxt``, written by tfdrive's `PolicySaver`).
      use_tf_function, batch_time_steps: As in `PyTFEagerPolicy`.
      jit_compile: As in `PyTFEagerPolicy`. The loaded concrete functions are
        called inside a new function that XLA compiles whole (their bodies
        are inlined), so it applies to saved policies too.

    Raises:
      ValueError: Neither specs nor `load_specs_from_pbtxt` given.
    """

    def __init__(
        self,
        model_path: str,
        time_step_spec: Any = None,
        action_spec: Any = None,
        policy_state_spec: Any = (),
        info_spec: Any = (),
        load_specs_from_pbtxt: bool = False,
        use_tf_function: bool = False,
        batch_time_steps: bool = True,
        jit_compile: bool = False,
    ):
        # A saved distribution policy holds TFP type specs, which only
        # deserialize once TFP's (lazily loaded) distributions registered them.
        import tensorflow_probability as tfp

        tfp.distributions.Distribution  # noqa: B018

        policy = tf.saved_model.load(model_path)
        self._checkpoint = tf.train.Checkpoint(policy=policy)
        if not (time_step_spec or load_specs_from_pbtxt):
            raise ValueError(
                "To load a SavedModel policy you have to provide the specs, or"
                "enable loading from proto."
            )
        policy_specs = None
        if not time_step_spec and load_specs_from_pbtxt:
            from tfdrive.policies import policy_saver

            policy_specs = policy_saver.load_specs(model_path)
            time_step_spec = policy_specs["time_step_spec"]
            action_spec = policy_specs["action_spec"]
            policy_state_spec = policy_specs["policy_state_spec"]
            info_spec = policy_specs["info_spec"]
        super().__init__(
            _LoadedPolicy(policy),
            time_step_spec,
            action_spec,
            policy_state_spec,
            info_spec,
            use_tf_function,
            batch_time_steps,
            jit_compile,
        )
        if policy_specs:
            self._collect_data_spec = policy_specs["collect_data_spec"]
        self._train_step_from_last_restored_checkpoint_path: int | None = None

    def get_train_step(self) -> Any:
        """The train step stored with the model (numpy int64)."""
        return self._policy.loaded.get_train_step().numpy()

    def get_train_step_from_last_restored_checkpoint_path(self) -> int | None:
        """The step parsed from the last `update_from_checkpoint` path (``..._<step>``)."""
        return self._train_step_from_last_restored_checkpoint_path

    def get_metadata(self) -> Any:
        return self._policy.loaded.get_metadata()

    def variables(self) -> Any:
        return self._policy.loaded.model_variables

    def update_from_checkpoint(self, checkpoint_path: str) -> None:
        """Loads variable values from a checkpoint written by `PolicySaver.save_checkpoint`."""
        file_prefix = os.path.join(
            checkpoint_path, tf.saved_model.VARIABLES_DIRECTORY, tf.saved_model.VARIABLES_FILENAME
        )
        status = self._checkpoint.read(file_prefix)
        try:
            self._train_step_from_last_restored_checkpoint_path = int(
                checkpoint_path.split("_")[-1]
            )
        except ValueError:
            self._train_step_from_last_restored_checkpoint_path = None
        status.assert_existing_objects_matched().expect_partial()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_policy",):
            raise AttributeError(name)
        return getattr(self._policy.loaded, name)


class _LoadedPolicy:
    """Adapts a loaded SavedModel to the policy protocol used above."""

    def __init__(self, loaded: Any):
        self.loaded = loaded

    def action(self, time_step: Any, policy_state: Any = (), seed: Any = None) -> Any:
        del seed  # A saved graph has its own seeds.
        step = self.loaded.action(time_step, policy_state)
        if not isinstance(step, policy_step.PolicyStep):
            step = policy_step.PolicyStep(*step)
        return step

    def get_initial_state(self, batch_size: Any) -> Any:
        return self.loaded.get_initial_state(batch_size)

    def variables(self) -> Any:
        return list(self.loaded.model_variables)

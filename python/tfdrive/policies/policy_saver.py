"""`PolicySaver`: exports a TF policy as a SavedModel in TF-Agents' layout.

The exported object (a `tf.Module`) holds these `tf.function`s, each traced
for a batch of `batch_size` (None: any batch size):

* ``action(time_step, policy_state)`` -> `PolicyStep` (policy_state may be
  omitted when the policy has no state),
* ``distribution(time_step, policy_state)`` -> `PolicyStep` whose action is a
  `tfp` distribution (raises `InvalidArgumentError` when the policy cannot
  export one),
* ``get_initial_state(batch_size)`` (no argument when `batch_size` is fixed),
* ``get_train_step()`` and ``get_metadata()``,

plus the attributes ``model_variables``, ``train_step`` and ``metadata``.
The flat serving signatures ``action``, ``get_initial_state``,
``get_train_step`` and ``get_metadata`` take and return dicts keyed by spec
names (nest paths such as ``0/observation`` by default), which is what
TFLite conversion and TF Serving read. Beside the model,
``policy_specs.pbtxt`` stores the collect data spec and the policy state
spec, so `SavedModelPyTFEagerPolicy` and `policy_loader.load` can rebuild the
policy's specs.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories import trajectory
from tfdrive.utils import common

__all__ = [
    "POLICY_SPECS_PBTXT",
    "InputFnAndSpecType",
    "InputFnType",
    "PolicySaver",
    "add_batch_dim",
    "load_specs",
    "rename_spec_with_nest_paths",
    "specs_from_collect_data_spec",
]

POLICY_SPECS_PBTXT = "policy_specs.pbtxt"

_logger = logging.getLogger(__name__)

# `input_fn(example) -> (time_step, policy_state)`, and the spec of `example`.
InputFnType = Callable[[Any], tuple[Any, Any]]
InputFnAndSpecType = tuple[InputFnType, Any]

_POLICY_METHODS = ("action", "distribution", "get_initial_state", "variables")
_POLICY_SPECS = ("time_step_spec", "policy_state_spec", "policy_step_spec", "collect_data_spec")


# --------------------------------------------------------------------------
# Spec names: the flat signatures key their inputs and outputs by spec name.


def _true_if_missing_or_collision(spec: Any, spec_names: set[str]) -> bool:
    """True if `spec` has no name or one already in `spec_names`; else records the name."""
    if not spec.name or spec.name in spec_names:
        return True
    spec_names.add(spec.name)
    return False


def _joined_path(path: tuple) -> str:
    return "/".join(str(key) for key in path)


def rename_spec_with_nest_paths(spec: Any) -> Any:
    """Renames every spec of a nest after its path, e.g. ``observation/0``.

    Returns the same nest of `tf.TensorSpec`s (bounds dropped) named by the
    joined keys, indices and field names leading to each leaf.
    """
    renamed = [
        tf.TensorSpec(shape=leaf.shape, dtype=leaf.dtype, name=_joined_path(path))
        for path, leaf in zip(
            tf.__internal__.nest.yield_flat_paths(spec), tf.nest.flatten(spec), strict=True
        )
    ]
    return tf.nest.pack_sequence_as(spec, renamed)


def _check_spec(spec: Any) -> None:
    """Raises ValueError unless every spec in the nest has a name of its own."""
    names: set[str] = set()
    if any([_true_if_missing_or_collision(s, names) for s in tf.nest.flatten(spec)]):
        shown = tf.nest.map_structure(lambda s: s.name or "<MISSING>", spec)
        raise ValueError(
            f"Specs contain either a missing name or a name collision.\n  Spec names: {shown}\n"
        )


def _check_compatible(spec: Any, tensor: Any, ignore_outer_dims: bool = True) -> None:
    """Raises ValueError unless `tensor` matches `spec` (outer dims ignored by default)."""
    shape = tensor.shape
    if ignore_outer_dims and shape.rank is not None and spec.shape.rank is not None:
        shape = shape[max(shape.rank - spec.shape.rank, 0) :]
    if not spec.is_compatible_with(tf.TensorSpec(shape, tensor.dtype)):
        raise ValueError(f"Tensor is incompatible with spec. spec = {spec}, tensor = {tensor}")


def add_batch_dim(spec: Any, outer_dims: Sequence[int | None]) -> tf.TensorSpec:
    """`spec` as a `tf.TensorSpec` (same name and dtype) with `outer_dims` prepended."""
    return tf.TensorSpec(
        shape=tf.TensorShape(outer_dims).concatenate(spec.shape), name=spec.name, dtype=spec.dtype
    )


def _is_tf_policy(policy: Any) -> bool:
    """A TF policy by structure (tfdrive's, TF-Agents' or a user's `tf.Module`)."""
    return (
        isinstance(policy, tf.Module)
        and all(callable(getattr(policy, m, None)) for m in _POLICY_METHODS)
        and all(hasattr(policy, s) for s in _POLICY_SPECS)
    )


def _check_composite_distribution(value: Any) -> Any:
    """Passes `value` through; a distribution must be a composite tensor to be exported."""
    if isinstance(value, tfp.distributions.Distribution) and not hasattr(value, "_type_spec"):
        raise TypeError(f"{value} is not a composite tensor.")
    return value


class PolicySaver:
    """Saves a TF policy (tfdrive's or TF-Agents' `TFPolicy`) as a SavedModel.

    Use::

      saver = PolicySaver(agent.policy, batch_size=None, train_step=train_step)
      saver.save("/tmp/policy")                        # graph, variables, specs
      saver.save_checkpoint("/tmp/ckpt/policy_0100")   # variables only

      loaded = tf.saved_model.load("/tmp/policy")
      state = loaded.get_initial_state(batch_size=3)
      step = loaded.action(time_step, state)           # or loaded.action(time_step)

    Args:
      policy: The TF policy to export (an object with TFPolicy's specs and
        `action`, `distribution`, `get_initial_state`, `variables`).
      batch_size: The batch size every exported function expects: None (any)
        or a Python int > 0.
      use_nest_path_signatures: Name the flat signatures' inputs and outputs
        after the specs' nest paths (``0/observation``, ``action``). When
        False the specs' own names are used and must all be set and unique.
      seed: Seed passed to ``policy.action`` in the exported graph (mostly
        for tests; the loaded policy then samples what the original does
        with that seed).
      train_step: A `tf.Variable` holding the train step, saved as it is at
        `save` time. Default: a new int64 variable holding -1 (eager only).
      input_fn_and_spec: Optional ``(input_fn, spec)``: the exported
        ``action`` and ``distribution`` take one batched input matching
        `spec`, which ``input_fn`` maps to ``(time_step, policy_state)``.
      metadata: A dict of string -> `tf.Variable` saved with the policy.

    Raises:
      TypeError: `policy` is not a TF policy, or `metadata` is not a dict of
        string -> `tf.Variable`.
      ValueError: `batch_size` is neither None nor a positive int;
        `train_step` is not a `tf.Variable` (or is missing in TF1); or, with
        `use_nest_path_signatures=False`, a spec name is missing or repeated.
    """

    def __init__(
        self,
        policy: Any,
        batch_size: int | None = None,
        use_nest_path_signatures: bool = True,
        seed: Any = None,
        train_step: tf.Variable | None = None,
        input_fn_and_spec: InputFnAndSpecType | None = None,
        metadata: dict[str, tf.Variable] | None = None,
    ):
        if not _is_tf_policy(policy):
            raise TypeError(f"policy is not a TFPolicy.  Saw: {type(policy)}")
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
        ):
            raise ValueError(f"Expected batch_size == None or python int > 0, saw: {batch_size}")

        def name_specs(spec: Any) -> Any:
            if use_nest_path_signatures:
                return rename_spec_with_nest_paths(spec)
            _check_spec(spec)
            return spec

        self._use_nest_path_signatures = use_nest_path_signatures
        action_fn_input_spec = name_specs((policy.time_step_spec, policy.policy_state_spec))

        saved = tf.Module()
        saved.collect_data_spec = copy.copy(policy.collect_data_spec)
        saved.policy_state_spec = copy.copy(policy.policy_state_spec)
        # Kept apart too: tf.Module may wrap what is assigned to it.
        self._collect_data_spec = policy.collect_data_spec
        self._raw_policy_state_spec = policy.policy_state_spec

        self._train_step = self._checked_train_step(train_step)
        saved.train_step = self._train_step
        self._metadata = self._checked_metadata(metadata)
        saved.metadata = self._metadata

        if batch_size is None:
            initial_state = common.function(policy.get_initial_state)
            initial_state_input_specs: tuple = (
                tf.TensorSpec(dtype=tf.int32, shape=(), name="batch_size"),
            )
        else:
            initial_state = common.function(
                functools.partial(policy.get_initial_state, batch_size=batch_size)
            )
            initial_state_input_specs = ()
        initial_state.get_concrete_function(*initial_state_input_specs)

        if seed is None:
            action_fn = policy.action
        else:

            def action_fn(time_step: Any, policy_state: Any) -> Any:
                return policy.action(time_step, policy_state, seed=seed)

        def distribution_fn(time_step: Any, policy_state: Any) -> Any:
            try:
                step = policy.distribution(time_step=time_step, policy_state=policy_state)
                return tf.nest.map_structure(_check_composite_distribution, step)
            except (TypeError, NotImplementedError) as error:
                # The SavedModel still gets a `distribution`: one that fails at
                # run time with the reason, rather than failing the export.
                _logger.warning(
                    "Could not serialize policy.distribution() for policy %r; calling the "
                    "saved distribution() will fail with: %s",
                    policy,
                    error,
                )
                return _failing_function(str(error))()

        train_step_fn = common.function(lambda: saved.train_step).get_concrete_function()
        metadata_fn = common.function(lambda: saved.metadata).get_concrete_function()

        batched_time_step_spec = name_specs(
            tf.nest.map_structure(lambda s: add_batch_dim(s, [batch_size]), policy.time_step_spec)
        )
        batched_state_spec = name_specs(
            tf.nest.map_structure(
                lambda s: add_batch_dim(s, [batch_size]), policy.policy_state_spec
            )
        )
        policy_step_spec = name_specs(policy.policy_step_spec)
        policy_state_spec = name_specs(policy.policy_state_spec)

        polymorphic_action, polymorphic_distribution = (
            _exported_policy_function(
                fn, batched_time_step_spec, batched_state_spec, input_fn_and_spec, batch_size
            )
            for fn in (action_fn, distribution_fn)
        )
        if input_fn_and_spec is None:
            action_input_spec: Any = action_fn_input_spec
        else:
            action_input_spec = (input_fn_and_spec[1],)

        # No flat signature for `distribution`: serving signatures cannot
        # return composite tensors.
        self._signatures = {
            "action": _function_with_flat_signature(
                polymorphic_action,
                input_specs=action_input_spec,
                output_spec=policy_step_spec,
                include_batch_dimension=True,
                batch_size=batch_size,
            ),
            "get_initial_state": _function_with_flat_signature(
                initial_state,
                input_specs=initial_state_input_specs,
                output_spec=policy_state_spec,
                include_batch_dimension=False,
            ),
            "get_train_step": _function_with_flat_signature(
                train_step_fn,
                input_specs=(),
                output_spec=self._train_step.dtype,
                include_batch_dimension=False,
            ),
            "get_metadata": _function_with_flat_signature(
                metadata_fn,
                input_specs=(),
                output_spec=tf.nest.map_structure(lambda v: v.dtype, self._metadata),
                include_batch_dimension=False,
            ),
        }

        saved.action = polymorphic_action
        saved.distribution = polymorphic_distribution
        saved.get_initial_state = initial_state
        saved.get_train_step = train_step_fn
        saved.get_metadata = metadata_fn
        saved.model_variables = policy.variables()
        # Everything the policy tracks (lookup tables, assets, ...) must be
        # reachable from the exported module to be saved with it.
        dependencies = getattr(policy, "_unconditional_checkpoint_dependencies", None)
        if dependencies is not None:
            saved._all_assets = {ref.name: ref.ref for ref in dependencies}

        self._policy = saved
        self._raw_policy = policy
        # Attributes added by `register_concrete_function`, for `save_checkpoint`.
        self._checkpointed_attributes: list[str] = []
        self._batch_size = batch_size
        self._action_input_spec = action_input_spec
        self._policy_step_spec = policy_step_spec
        self._policy_state_spec = policy_state_spec

    @staticmethod
    def _checked_train_step(train_step: Any) -> tf.Variable:
        if train_step is None:
            if not common.has_eager_been_enabled():
                raise ValueError(
                    f"train_step is required in TF1 and must be a `tf.Variable`: {train_step}"
                )
            return tf.Variable(
                -1,
                trainable=False,
                dtype=tf.int64,
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
                shape=(),
            )
        if not isinstance(train_step, tf.Variable):
            raise ValueError(f"train_step must be a TensorFlow variable: {train_step}")
        return train_step

    @staticmethod
    def _checked_metadata(metadata: Any) -> dict[str, tf.Variable]:
        metadata = metadata or {}
        for key, value in metadata.items():
            if not isinstance(key, str):
                raise TypeError(f"Keys of metadata must be strings: {key}")
            if not isinstance(value, tf.Variable):
                raise TypeError(f"Values of metadata must be tf.Variable: {value}")
        return metadata

    @property
    def action_input_spec(self) -> Any:
        """The input of the exported ``action``: ``(time_step_spec, policy_state_spec)``.

        Unbatched, renamed after nest paths when `use_nest_path_signatures`;
        ``(input_spec,)`` when `input_fn_and_spec` was given.
        """
        return self._action_input_spec

    @property
    def policy(self) -> tf.Module:
        """The `tf.Module` that `save` exports."""
        return self._policy

    @property
    def policy_step_spec(self) -> Any:
        """The output spec of the exported ``action`` (renamed like `action_input_spec`)."""
        return self._policy_step_spec

    @property
    def policy_state_spec(self) -> Any:
        """The output spec of the exported ``get_initial_state`` (renamed likewise)."""
        return self._policy_state_spec

    @property
    def signatures(self) -> dict[str, Callable]:
        """The flat serving signatures: ``action``, ``get_initial_state``,
        ``get_train_step`` and ``get_metadata``."""
        return self._signatures

    def get_train_step(self) -> Any:
        """The train step: a numpy int eagerly, a tensor in graph mode."""
        if tf.executing_eagerly():
            return self._train_step.numpy()
        return tf.identity(self._train_step)

    def get_metadata(self) -> dict[str, Any]:
        """The metadata: a dict of numpy values eagerly, of the variables in graph mode."""
        if tf.executing_eagerly():
            return {key: value.numpy() for key, value in self._metadata.items()}
        return self._metadata

    def register_function(
        self,
        name: str,
        fn: InputFnType,
        input_spec: Any,
        outer_dims: Sequence[int | None] = (None,),
    ) -> None:
        """Exports ``fn(inputs)`` as attribute `name` of the SavedModel.

        Args:
          name: Attribute name of the function in the SavedModel.
          fn: A callable of one argument, a nest matching `input_spec`.
          input_spec: Nest of `tf.TypeSpec`s of one unbatched input.
          outer_dims: Dimensions prepended to every spec (default: one batch
            dimension of any size).

        Raises:
          ValueError: The SavedModel already has an attribute `name`.
        """
        self._check_free(name)
        batched_spec = tf.nest.map_structure(lambda s: add_batch_dim(s, outer_dims), input_spec)
        function = common.function(fn)
        function.get_concrete_function(batched_spec)
        setattr(self._policy, name, function)

    def register_concrete_function(self, name: str, fn: Any, assets: Any = None) -> None:
        """Exports an already traced `tf.function` (or concrete function) as attribute `name`.

        The variables its traces capture are saved with it; `assets` names
        further trackables (tables, files) it needs.

        Raises:
          ValueError: The SavedModel already has an attribute `name`.
        """
        self._check_free(name)
        setattr(self._policy, name, fn)
        if hasattr(fn, "_list_all_concrete_functions"):
            concrete = fn._list_all_concrete_functions()
        else:
            concrete = [fn]
        attributes = [f"{name}__variables_{i}" for i in range(len(concrete))]
        for attribute, traced in zip(attributes, concrete, strict=True):
            setattr(self._policy, attribute, traced.variables)
        if assets:
            attributes.append(f"{name}__assets")
            setattr(self._policy, attributes[-1], assets)
        self._checkpointed_attributes.extend(attributes)

    def _check_free(self, name: str) -> None:
        if getattr(self._policy, name, None) is not None:
            raise ValueError(f"Policy already has an attribute registered with: {name}")

    def save(self, export_dir: str, options: tf.saved_model.SaveOptions | None = None) -> None:
        """Writes the SavedModel and ``policy_specs.pbtxt`` to `export_dir`.

        Args:
          export_dir: Folder of the SavedModel (created if needed).
          options: Optional `tf.saved_model.SaveOptions`.
        """
        tf.saved_model.save(self._policy, export_dir, signatures=self._signatures, options=options)
        specs = {
            "collect_data_spec": self._collect_data_spec,
            "policy_state_spec": self._raw_policy_state_spec,
        }
        # Written aside and renamed, so a reader polling for the file never
        # sees it half written.
        final = os.path.join(export_dir, POLICY_SPECS_PBTXT)
        temporary = final + "_temp"
        tensor_spec.to_pbtxt_file(temporary, specs)
        tf.io.gfile.rename(temporary, final, overwrite=True)

    def save_checkpoint(
        self, export_dir: str, options: tf.train.CheckpointOptions | None = None
    ) -> None:
        """Writes only the variables, to ``export_dir/variables/variables*``.

        That is the variables part of a full SavedModel: it can update a
        loaded policy (`SavedModelPyTFEagerPolicy.update_from_checkpoint`,
        `policy_loader.load`) or replace the ``variables/`` folder of a saved
        model (`policy_loader.materialize_saved_model`).

        Args:
          export_dir: Folder of the checkpoint.
          options: Optional `tf.train.CheckpointOptions`.
        """
        # Everything holding variables is also listed at the top level, where
        # the SavedModel has it: then every variable gets the key it has in
        # the SavedModel, and the files can stand in for its variables.
        # (TF-Agents lists only model_variables and train_step, which leaves
        # metadata and registered functions' variables out of such models.)
        extra = {name: getattr(self._policy, name) for name in self._checkpointed_attributes}
        checkpoint = tf.train.Checkpoint(
            policy=self._policy,
            model_variables=self._policy.model_variables,
            train_step=self._train_step,
            metadata=self._policy.metadata,
            **extra,
        )
        prefix = os.path.join(
            export_dir, tf.saved_model.VARIABLES_DIRECTORY, tf.saved_model.VARIABLES_FILENAME
        )
        checkpoint.write(prefix, options=options)


def _exported_policy_function(
    fn: Callable[[Any, Any], Any],
    time_step_spec: Any,
    policy_state_spec: Any,
    input_fn_and_spec: InputFnAndSpecType | None,
    batch_size: int | None,
) -> Any:
    """``fn(time_step, policy_state)`` as the traced `tf.function` the SavedModel exports.

    Args:
      fn: The policy's ``action`` or ``distribution``.
      time_step_spec / policy_state_spec: Batched input specs.
      input_fn_and_spec: If given, the function takes one batched
        ``example`` instead, mapped to ``(time_step, policy_state)`` by the
        input function and checked against the (unbatched) policy specs.
      batch_size: The batch dimension of ``example``.

    Returns:
      A `tf.function` with its concrete functions traced: ``(example)``; or
      ``(time_step, policy_state)``, plus ``(time_step)`` for a policy
      without state.
    """
    if input_fn_and_spec is not None:
        input_fn, input_spec = input_fn_and_spec
        unbatched = tensor_spec.remove_outer_dims_nest((time_step_spec, policy_state_spec), 1)

        def from_example(example: Any) -> Any:
            inputs = input_fn(example)
            tf.nest.map_structure(_check_compatible, unbatched, inputs, check_types=False)
            return fn(*inputs)

        function = common.function(from_example)
        function.get_concrete_function(
            example=tf.nest.map_structure(lambda s: add_batch_dim(s, [batch_size]), input_spec)
        )
        return function
    if policy_state_spec:
        function = common.function(fn)
        function.get_concrete_function(time_step=time_step_spec, policy_state=policy_state_spec)
        return function

    # Without state the function is also callable as fn(time_step), sharing
    # one trace of `fn`.
    def stateless(time_step: Any, policy_state: Any = policy_state_spec) -> Any:
        return fn(time_step, policy_state)

    function = common.function(stateless)
    function.get_concrete_function(time_step=time_step_spec, policy_state=policy_state_spec)
    function.get_concrete_function(time_step=time_step_spec)
    return function


def _failing_function(message: str) -> Callable[[], tuple]:
    """A `tf.function` that fails with `InvalidArgumentError(message)` when run."""

    @common.function
    def fail() -> tuple:
        tf.Assert(False, [message])
        return ()

    return fail


def _function_with_flat_signature(
    function: Callable,
    input_specs: Any,
    output_spec: Any,
    include_batch_dimension: bool,
    batch_size: int | None = None,
) -> Any:
    """Wraps `function` in a `tf.function` with a flat, named input signature.

    Args:
      function: Called with the arguments `input_specs` describes.
      input_specs: Tuple of nests of specs, one per positional argument.
      output_spec: Nest of named specs (or dtypes) matching the output.
      include_batch_dimension: Whether inputs get a leading `batch_size` dim.
      batch_size: The leading dimension (None: any).

    Returns:
      A `tf.function` taking the flattened inputs (named after their specs)
      and returning a dict from output spec name to output tensor.
    """

    def input_signature(spec: Any) -> Any:
        if include_batch_dimension:
            return add_batch_dim(spec, [batch_size])
        return spec

    flat_input_specs = [input_signature(s) for s in tf.nest.flatten(input_specs)]
    output_names = [s.name for s in tf.nest.flatten(output_spec)]

    @common.function(input_signature=flat_input_specs)
    def with_flat_signature(*flat_inputs: Any) -> dict[str, Any]:
        outputs = function(*tf.nest.pack_sequence_as(input_specs, flat_inputs))
        tf.nest.assert_same_structure(outputs, output_spec, check_types=False)
        return dict(zip(output_names, tf.nest.flatten(outputs), strict=True))

    return with_flat_signature


def _as_trajectory(collect_data_spec: Any) -> Any:
    """A decoded ``Trajectory`` namedtuple (rebuilt by field names) as tfdrive's class."""
    fields = getattr(type(collect_data_spec), "_fields", None)
    if type(collect_data_spec).__name__ == "Trajectory" and fields == trajectory.Trajectory._fields:
        return trajectory.Trajectory(*collect_data_spec)
    return collect_data_spec


def specs_from_collect_data_spec(loaded_policy_specs: Any) -> dict[str, Any]:
    """The policy's specs from the nest `PolicySaver.save` writes to ``policy_specs.pbtxt``.

    Args:
      loaded_policy_specs: ``{'collect_data_spec': ..., 'policy_state_spec':
        ...}`` as read by ``tensor_spec.from_pbtxt_file``.

    Returns:
      A dict of array spec nests: ``collect_data_spec`` (a `Trajectory`),
      ``time_step_spec`` (a `TimeStep`), ``action_spec``,
      ``policy_state_spec`` and ``info_spec``.
    """
    specs = tensor_spec.to_nest_array_spec(loaded_policy_specs)
    collect_data_spec = _as_trajectory(specs["collect_data_spec"])
    time_step_spec = ts.TimeStep(
        step_type=collect_data_spec.step_type,
        reward=collect_data_spec.reward,
        discount=collect_data_spec.discount,
        observation=collect_data_spec.observation,
    )
    return {
        "collect_data_spec": collect_data_spec,
        "time_step_spec": time_step_spec,
        "action_spec": collect_data_spec.action,
        "policy_state_spec": specs["policy_state_spec"],
        "info_spec": collect_data_spec.policy_info,
    }


def load_specs(saved_model_path: str) -> dict[str, Any]:
    """`specs_from_collect_data_spec` of the ``policy_specs.pbtxt`` in `saved_model_path`."""
    path = os.path.join(saved_model_path, POLICY_SPECS_PBTXT)
    return specs_from_collect_data_spec(tensor_spec.from_pbtxt_file(path))

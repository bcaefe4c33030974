"""`Network`: the Keras 2 layer that tfdrive's (and users') networks subclass.

A network differs from a plain Keras layer in three ways:

* it carries an optional ``input_tensor_spec`` (nest of `TensorSpec`s of one
  input, without outer dims) and checks every input against it;
* it carries a recurrent ``state_spec`` (`()` when stateless) and is called
  as ``net(inputs, step_type=None, network_state=(), training=False) ->
  (outputs, new_state)``; ``step_type`` and an empty ``network_state`` are
  passed only to a ``call`` that takes them (Keras drops ``training`` the
  same way), so ``call(self, inputs)`` is a valid network;
* it remembers its constructor arguments, so ``copy(**overrides)`` builds a
  fresh network (new variables) with the same configuration.

``create_variables()`` builds the variables by calling the network on one
sampled input (outer dims ``[1]``) and returns the output spec: a
`TensorSpec` per tensor output, a `DistributionSpecV2` per distribution
output. The module-level `create_variables(layer, input_spec)` does the same
for any Keras layer.

`Network` is ``keras.layers.Layer`` of Keras 2 (`tfdrive._keras`): tf.keras
on TF 2.15, ``tf_keras`` on TF >= 2.16. A Keras 3 layer (plain ``tf.keras``
on TF >= 2.16 without ``TF_USE_LEGACY_KERAS=1``) cannot be tracked by it, so
assigning one to a network raises a `TypeError` instead of silently losing
its variables.

Mixing with TF-Agents: when TF-Agents is loaded, tfdrive's `Network` and
`DistributionNetwork` are registered as virtual subclasses of TF-Agents'
(its containers and policies check networks with ``isinstance``), and
distribution output specs are built from TF-Agents' `DistributionSpecV2`
class for the same reason.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._interop import ensure_registered, register_with_tf_agents
from tfdrive._keras import is_keras3_object, keras
from tfdrive.specs import tensor_spec
from tfdrive.specs.distribution_spec import DistributionSpec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = [
    "DistributionNetwork",
    "DistributionSpec",
    "DistributionSpecV2",
    "Network",
    "Params",
    "check_not_keras3",
    "create_variables",
    "get_state_spec",
    "is_distribution_network",
    "is_network",
]

# Attributes holding specs or constructor arguments: stored as given, without
# Keras' tracking (which would wrap lists, dicts and tuples in proxies).
_PLAIN_ATTRIBUTES = frozenset(
    {"_input_tensor_spec", "_state_spec", "_network_output_spec", "_output_spec", "_saved_kwargs"}
)


def is_network(obj: Any) -> bool:
    """True for objects with the network protocol (tfdrive's, TF-Agents' or a user's)."""
    return callable(obj) and hasattr(obj, "create_variables") and hasattr(obj, "state_spec")


def is_distribution_network(obj: Any) -> bool:
    """True when ``obj.output_spec`` is a nest of distribution specs."""
    spec = getattr(obj, "output_spec", None)
    if spec is None:
        return False
    leaves = tf.nest.flatten(spec)
    return bool(leaves) and all(
        hasattr(s, "input_params_spec") and hasattr(s, "sample_spec") for s in leaves
    )


def _keras3_message(what: str, obj: Any) -> str:
    return (
        f"{what} is a Keras 3 object ({type(obj).__module__}.{type(obj).__name__}). tfdrive "
        "networks are Keras 2 layers, which cannot track Keras 3 layers (their variables would "
        "be silently missing). Build the layers with Keras 2: `import tf_keras` (or `from "
        "tfdrive._keras import keras`), or set TF_USE_LEGACY_KERAS=1 before importing "
        "TensorFlow so that `tf.keras` is Keras 2."
    )


def check_not_keras3(obj: Any, argument: str) -> None:
    """Raises a `TypeError` explaining the fix when `obj` is a Keras 3 layer.

    Args:
      obj: A value given as (part of) `argument`.
      argument: The argument's name, for the message.
    """
    if is_keras3_object(obj):
        raise TypeError(_keras3_message(f"An entry of `{argument}`", obj))


def _capture_init_arguments(init):
    """Wraps a subclass `__init__` so the instance remembers its arguments for `copy`."""
    signature = inspect.signature(init)
    parameters = list(signature.parameters.values())
    var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), None)

    @functools.wraps(init)
    def init_and_capture(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            init(self, *args, **kwargs)  # Raises Python's own error naming `__init__`.
            raise
        bound.apply_defaults()
        init(*bound.args, **bound.kwargs)
        saved = dict(bound.arguments)
        saved.pop(parameters[0].name)
        if var_keyword is not None:
            saved.update(saved.pop(var_keyword, {}))
        object.__setattr__(self, "_saved_kwargs", saved)

    return init_and_capture


class Network(keras.layers.Layer):
    """Base class of networks used by policies and agents (a Keras 2 layer).

    Subclasses create their layers in ``__init__`` (after calling this one)
    and implement ``call(inputs, step_type=None, network_state=(),
    training=False) -> (outputs, new_state)``; ``step_type``,
    ``network_state`` and ``training`` may be left out of ``call``'s
    signature. Variables are created on the first call (or by
    `create_variables`).

    Args:
      input_tensor_spec: Nest of `tf.TypeSpec` of one input (no outer dims),
        or None; without it `create_variables` needs a spec argument.
      state_spec: Nest of `TensorSpec`s of the recurrent state; `()` when
        stateless.
      name: Layer name.

    Raises:
      RuntimeError: When a subclass's ``__init__`` takes ``*args`` (its
        arguments could not be recorded for `copy`).
    """

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return  # The inherited (already wrapped) __init__ records the arguments.
        if any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(init).parameters.values()):
            raise RuntimeError(
                f"{cls.__name__}.__init__ function accepts *args.  This is not allowed."
            )
        # Deliberate: every subclass constructor records its arguments (for `copy`).
        cls.__init__ = _capture_init_arguments(init)  # type: ignore[method-assign]

    def __init__(
        self, input_tensor_spec: Any = None, state_spec: Any = (), name: str | None = None
    ):
        ensure_registered()
        # No autocast: it would change bfloat16 inputs and break the spec checks.
        super().__init__(name=name, autocast=False)
        self._is_graph_network = False
        self._input_tensor_spec = (
            tensor_spec.from_spec(input_tensor_spec) if input_tensor_spec is not None else None
        )
        self._network_output_spec = None
        self._state_spec = tensor_spec.from_spec(state_spec)
        self._saved_kwargs = dict(
            input_tensor_spec=input_tensor_spec, state_spec=state_spec, name=name
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
            return
        candidates = tf.nest.flatten(value) if isinstance(value, (list, tuple, dict)) else [value]
        for candidate in candidates:
            if is_keras3_object(candidate):
                raise TypeError(_keras3_message(f"{type(self).__name__}.{name}", candidate))
        super().__setattr__(name, value)

    @property
    def input_tensor_spec(self) -> Any:
        """Nest of `TensorSpec`s of one input (no outer dims), or None."""
        return self._input_tensor_spec

    @property
    def state_spec(self) -> Any:
        """Nest of `TensorSpec`s of the recurrent state; `()` when stateless."""
        return self._state_spec

    def create_variables(self, input_tensor_spec: Any = None, **kwargs: Any) -> Any:
        """Builds the variables by calling the network once; returns the output spec.

        Args:
          input_tensor_spec: Used only when the network was built without one.
          **kwargs: Passed on to the call, e.g. ``training=True``.

        Returns:
          The nest of output specs without outer dims: `TensorSpec`s for
          tensors, `DistributionSpecV2` for distributions. Later calls return
          the same object.

        Raises:
          ValueError: Neither the network nor the argument gives an input spec.
        """
        if self._network_output_spec is not None:
            return self._network_output_spec
        if self._input_tensor_spec is None:
            self._input_tensor_spec = input_tensor_spec
        if self._input_tensor_spec is None:
            raise ValueError(
                "Unable to create_variables: no input_tensor_spec provided, and "
                "Network did not define one."
            )
        sample = tensor_spec.sample_spec_nest(self._input_tensor_spec, outer_dims=(1,))
        outputs, _ = self.__call__(
            sample,
            step_type=tf.fill((1,), ts.StepType.FIRST),
            network_state=self.get_initial_state(batch_size=1),
            **kwargs,
        )
        self._network_output_spec = tf.nest.map_structure(
            lambda x: _unbatched_spec(x, outer_ndim=1), outputs
        )
        return self._network_output_spec

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"Network `{self.name}` {type(self)} has not been built, unable to access "
                f"{what}. Please call `create_variables` or apply the network first."
            )

    @property
    def variables(self) -> list:
        """All variables, once built (`ValueError` before)."""
        self._require_built("variables")
        return super().variables

    @property
    def trainable_variables(self) -> list:
        """Trainable variables, once built (`ValueError` before)."""
        self._require_built("trainable_variables")
        return super().trainable_variables

    @property
    def layers(self) -> list:
        """The direct sub-layers (those in attributes, lists and dicts included)."""
        return list(self._flatten_layers(include_self=False, recursive=False))

    def get_layer(self, name: str | None = None, index: int | None = None) -> Any:
        """The sub-layer at `index` in `layers`, or the one named `name`.

        Raises:
          ValueError: Both or neither given, index out of range, unknown name.
        """
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index.")
        layers = self.layers
        if index is not None:
            if index >= len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}.")
        raise ValueError("Provide either a layer name or layer index.")

    def summary(self, line_length=None, positions=None, print_fn=None) -> None:
        """Prints one line per sub-layer (name, type, parameter count) and the totals.

        Args:
          line_length: Width of the table (default 65).
          positions: Column ends, as fractions of `line_length` or absolute.
          print_fn: Called with each line (default `print`).

        Raises:
          ValueError: The network has not been built yet.
        """
        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` "
                "or `__call__()` with some data, or `create_variables()`."
            )
        print_fn = print_fn or print
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        if positions[-1] <= 1:
            positions = [int(line_length * p) for p in positions]

        def row(fields):
            line = ""
            for field, end in zip(fields, positions):
                line = (line + str(field))[: end - 1].ljust(end)
            print_fn(line.rstrip())

        def count(weights):
            return sum(int(w.shape.num_elements() or 0) for w in weights)

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(["Layer (type)", "Output Shape", "Param #"])
        print_fn("=" * line_length)
        for layer in self.layers:
            row([f"{layer.name} ({type(layer).__name__})", "multiple", count(layer.weights)])
        print_fn("=" * line_length)
        trainable = count(self.trainable_weights)
        print_fn(f"Total params: {trainable + count(self.non_trainable_weights)}")
        print_fn(f"Trainable params: {trainable}")
        print_fn(f"Non-trainable params: {count(self.non_trainable_weights)}")
        print_fn("_" * line_length)

    def copy(self, **kwargs: Any) -> Network:
        """A new network built with the same constructor arguments, updated by `kwargs`.

        Weights are never shared or copied: the copy creates its own variables.
        """
        return type(self)(**dict(self._saved_kwargs, **kwargs))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """Checks `inputs` and the state against the specs and runs `call`.

        Args:
          inputs: Nest matching `input_tensor_spec`, with outer dims (e.g.
            ``[B]`` or ``[B, T]``) ahead of each spec's shape.
          *args: Further positional arguments of `call` (``step_type``, ...).
          **kwargs: ``step_type``, ``network_state``, ``training`` and any
            other keyword of `call`. ``step_type`` is dropped when `call`
            does not take it, and so is an empty (None or ``()``)
            ``network_state``.

        Returns:
          ``(outputs, new_state)``.

        Raises:
          ValueError: `inputs`, ``network_state`` or the returned state does
            not match `input_tensor_spec` / `state_spec` (structure, dtype or
            inner shape).
        """
        if self.input_tensor_spec is not None:
            nest_utils.assert_matching_dtypes_and_inner_shapes(
                _as_checked_values(inputs, self.input_tensor_spec),
                self.input_tensor_spec,
                allow_extra_fields=True,
                caller=self,
                tensors_name="`inputs`",
                specs_name="`input_tensor_spec`",
            )
        parameters = _parameters_of_call(self.call)
        call_kwargs, extra_args = _call_arguments(parameters, (inputs, *args), kwargs)
        network_state = call_kwargs.get("network_state")
        if _has_state(network_state):
            nest_utils.assert_matching_dtypes_and_inner_shapes(
                network_state,
                self.state_spec,
                allow_extra_fields=True,
                caller=self,
                tensors_name="`network_state`",
                specs_name="`state_spec`",
            )
        takes_any_keyword = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        if "step_type" not in parameters and not takes_any_keyword:
            call_kwargs.pop("step_type", None)
        if (
            "network_state" not in parameters
            and not takes_any_keyword
            and not tf.is_tensor(network_state)
            and not _has_state(network_state)
        ):
            call_kwargs.pop("network_state", None)
        if extra_args:
            # Values for `*args` follow the positional parameters, which must then
            # be passed by position too (by name they would be bound twice).
            leading = [
                call_kwargs.pop(p.name)
                for p in parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            extra_args = (*leading, *extra_args)
        outputs, new_state = super().__call__(*extra_args, **call_kwargs)
        nest_utils.assert_matching_dtypes_and_inner_shapes(
            new_state,
            self.state_spec,
            allow_extra_fields=True,
            caller=self,
            tensors_name="`new_state`",
            specs_name="`state_spec`",
        )
        return outputs, new_state

    def get_initial_state(self, batch_size: Any = None) -> Any:
        """Zeros shaped like `state_spec`, with outer dim ``[batch_size]`` unless it is None."""
        return self._get_initial_state(batch_size)

    def _get_initial_state(self, batch_size: Any) -> Any:
        return tensor_spec.zero_spec_nest(
            self._state_spec, outer_dims=None if batch_size is None else [batch_size]
        )


class DistributionNetwork(Network):
    """A `Network` whose outputs are distributions described by `output_spec`.

    Args:
      input_tensor_spec: Nest of `TensorSpec`s of one input.
      state_spec: Nest of `TensorSpec`s of the recurrent state, `()` if none.
      output_spec: Nest of `DistributionSpec`s of the outputs.
      name: Layer name.
    """

    def __init__(self, input_tensor_spec: Any, state_spec: Any, output_spec: Any, name: str):
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=state_spec, name=name)
        self._output_spec = output_spec

    @property
    def output_spec(self) -> Any:
        return self._output_spec


register_with_tf_agents(Network, "tf_agents.networks.network", "Network")
register_with_tf_agents(DistributionNetwork, "tf_agents.networks.network", "DistributionNetwork")


def _as_checked_values(values: Any, specs: Any) -> Any:
    """`values` with arrays and Python values converted as Keras will see them.

    Non-tensor leaves are converted with the spec's dtype as a hint, so a
    float64 numpy array checks as float32 against a float32 spec (Keras casts
    it on the way in). Leaves without a matching spec are left alone.
    """
    values = nest_utils.prune_extra_keys(specs, values)
    flat_values, flat_specs = tf.nest.flatten(values), tf.nest.flatten(specs)
    if len(flat_values) != len(flat_specs) or all(
        tf.is_tensor(v) or isinstance(v, tf.TypeSpec) for v in flat_values
    ):
        return values
    converted = []
    for value, spec in zip(flat_values, flat_specs):
        if not (tf.is_tensor(value) or isinstance(value, tf.TypeSpec)):
            try:
                value = tf.convert_to_tensor(value, dtype_hint=spec.dtype)
            except (TypeError, ValueError):
                pass  # The check reports it.
        converted.append(value)
    try:
        return tf.nest.pack_sequence_as(values, converted)
    except (TypeError, ValueError):
        return values


def _has_state(state: Any) -> bool:
    """False for None and empty (non-namedtuple) tuples and lists; identity checks only."""
    if state is None:
        return False
    if isinstance(state, (tuple, list)) and not state and not hasattr(state, "_fields"):
        return False
    return True


@functools.lru_cache(maxsize=256)
def _parameters_of_function(function: Any) -> Any:
    return inspect.signature(function).parameters


def _parameters_of_call(call: Any) -> Any:
    """The parameters of `call` without ``self`` (cached per function)."""
    function = getattr(call, "__func__", None)
    if function is None:
        return inspect.signature(call).parameters
    parameters = list(_parameters_of_function(function).values())[1:]
    return {p.name: p for p in parameters}


def _call_arguments(parameters, positional: tuple, named: dict) -> tuple[dict, tuple]:
    """Maps a call's arguments onto `call`'s parameters by name, filling defaults.

    Positional values bind, in order, to the positional parameters not given
    by name. Those left over go to a ``*args`` parameter if `call` has one,
    and are dropped otherwise, as TF-Agents' ``getcallargs`` binding does
    (``net(obs, step_type, network_state=s)`` on a `call` without
    ``step_type``).
    """
    kwargs = dict(named)
    free = [
        p.name
        for p in parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in kwargs
    ]
    kwargs.update(zip(free, positional))
    for p in parameters.values():
        if p.default is not p.empty and p.name not in kwargs:
            kwargs[p.name] = p.default
    takes_varargs = any(p.kind is p.VAR_POSITIONAL for p in parameters.values())
    return kwargs, tuple(positional[len(free) :]) if takes_varargs else ()


class Params:
    """A distribution (or bijector, linear operator) as its type and constructor parameters.

    Args:
      type_: The class, e.g. `tfp.distributions.Normal`.
      params: Dict of constructor keyword arguments; nested objects that have
        ``parameters`` are `Params` themselves, tensors may be specs.
    """

    def __init__(self, type_: type, params: dict):
        self.type_ = type_
        self.params = params

    def __eq__(self, other: Any) -> bool:
        return (
            hasattr(other, "type_")
            and hasattr(other, "params")
            and self.type_ == other.type_
            and self.params == other.params
        )

    def __repr__(self) -> str:
        return f"<Params: type={self.type_}, params={self.params}>"


class DistributionSpecV2:
    """The output spec of a distribution: event shape, dtype and parameter specs.

    Args:
      event_shape: `tf.TensorShape` of one event (a sample of no sample shape).
      dtype: The dtype of samples.
      parameters: `Params` whose tensors are replaced by their `tf.TypeSpec`s.

    Raises:
      TypeError: `parameters` still holds a tensor.
    """

    def __init__(self, event_shape: tf.TensorShape, dtype: tf.DType, parameters: Params):
        if any(tf.is_tensor(x) for x in _params_leaves(parameters)):
            raise TypeError(f"`parameters` must hold specs, not tensors; saw {parameters}")
        self._event_shape = event_shape
        self._dtype = dtype
        self._parameters = parameters
        self._event_spec = tf.TensorSpec(shape=event_shape, dtype=dtype)

    @property
    def event_shape(self) -> tf.TensorShape:
        return self._event_shape

    @property
    def dtype(self) -> tf.DType:
        return self._dtype

    @property
    def event_spec(self) -> tf.TensorSpec:
        return self._event_spec

    @property
    def parameters(self) -> Params:
        return self._parameters

    def __eq__(self, other: Any) -> bool:
        return (
            hasattr(other, "event_spec")
            and hasattr(other, "parameters")
            and self.event_shape == other.event_shape
            and self.dtype == other.dtype
            and self.parameters == other.parameters
        )

    def __repr__(self) -> str:
        return (
            f"<DistributionSpecV2: event_shape={self.event_shape}, dtype={self.dtype}, "
            f"parameters={self.parameters}>"
        )


def _params_leaves(params: Params) -> list:
    leaves = []
    for value in tf.nest.flatten(params.params):
        leaves.extend(_params_leaves(value) if isinstance(value, Params) else [value])
    return leaves


def _distribution_spec_types() -> tuple[type, type]:
    """The ``(Params, DistributionSpecV2)`` classes output specs are built from.

    TF-Agents' own when its ``distributions.utils`` is loaded (its policies
    and checks recognise distribution output specs by ``isinstance``),
    tfdrive's otherwise. TF-Agents is never imported here.
    """
    tfa_utils = sys.modules.get("tf_agents.distributions.utils")
    if tfa_utils is not None:
        return tfa_utils.Params, tfa_utils.DistributionSpecV2
    return Params, DistributionSpecV2


def _parameters_of(value: Any, params_type: type) -> Any:
    """`Params` of an object with a ``parameters`` dict, leaving out defaults by identity."""
    parameters = getattr(value, "parameters", None)
    if not isinstance(parameters, dict):
        raise TypeError(
            f"value.parameters is not available or is not a dict; value: {value}; "
            f"parameters: {parameters}"
        )
    if not parameters:
        return value
    defaults = {
        k: p.default
        for k, p in inspect.signature(type(value).__init__).parameters.items()
        if p.default is not p.empty
    }

    def nested(p):
        if getattr(p, "parameters", None) is not None:
            return _parameters_of(p, params_type)
        return p

    return params_type(
        type(value),
        {
            k: tf.nest.map_structure(nested, v)
            for k, v in parameters.items()
            if v is not defaults.get(k, None)
        },
    )


def _params_to_specs(params: Any, outer_ndim: int, params_type: type) -> Any:
    """`params` with every tensor replaced by its spec without `outer_ndim` outer dims."""

    def convert(p):
        if isinstance(p, params_type):
            return _params_to_specs(p, outer_ndim, params_type)
        if tf.is_tensor(p):
            return tensor_spec.remove_outer_dims_nest(tf.type_spec_from_value(p), outer_ndim)
        return p

    return params_type(params.type_, tf.nest.map_structure(convert, params.params))


def _unbatched_spec(x: Any, outer_ndim: int) -> Any:
    """The spec of one output leaf with its `outer_ndim` outer dims removed."""
    if isinstance(x, tfp.distributions.Distribution):
        params_type, spec_type = _distribution_spec_types()
        parameters = _params_to_specs(_parameters_of(x, params_type), outer_ndim, params_type)
        return spec_type(event_shape=x.event_shape, dtype=x.dtype, parameters=parameters)
    return tensor_spec.remove_outer_dims_nest(tf.type_spec_from_value(x), outer_ndim)


def create_variables(module: Any, input_spec: Any = None, **kwargs: Any) -> Any:
    """Builds the variables of a network or any Keras layer; returns its output spec.

    For a plain Keras layer the layer is called on one sampled input (outer
    dims as many as its input spec requires beyond `input_spec`), and the
    output and state specs are remembered on it as ``_network_output_spec``
    and ``_network_state_spec``.

    Args:
      module: A network (anything with ``create_variables``) or Keras layer.
      input_spec: Nest of specs of one input (no outer dims); required for
        Keras layers.
      **kwargs: Passed on to the call, e.g. ``training=True``.

    Returns:
      The nest of output specs without outer dims (`DistributionSpecV2` for
      distribution outputs).

    Raises:
      ValueError: `module` is a Keras layer and `input_spec` is None.
      TypeError: `module` is a bare Keras RNN layer (wrap it in an
        ``RNNWrapper``).
    """
    if is_network(module):
        return module.create_variables(input_spec, **kwargs)
    if input_spec is None:
        raise ValueError(
            f"Module is a Keras layer; an input_spec is required but saw None: {module}"
        )
    if isinstance(module, keras.layers.RNN):
        raise TypeError(
            "Keras RNN layers (non-cell layers) must be wrapped in "
            f"tf_agents.keras_layers.RNNWrapper.  Layer: {module}"
        )
    known = getattr(module, "_network_output_spec", None)
    if known is not None:
        return known
    outer_ndim = _input_outer_ndim(module, input_spec)
    sample = tensor_spec.sample_spec_nest(input_spec, outer_dims=(1,) * outer_ndim)
    if getattr(module, "get_initial_state", None) is not None:
        state = module.get_initial_state(sample)
        state_spec = tf.nest.map_structure(
            lambda t: tensor_spec.remove_outer_dims_nest(tf.type_spec_from_value(t), 1), state
        )
        output = module(sample, state, **kwargs)[0]  # Cells return (output, new_state).
    else:
        output = module(sample, **kwargs)
        state_spec = ()
    module._network_output_spec = tf.nest.map_structure(
        lambda x: _unbatched_spec(x, outer_ndim), output
    )
    module._network_state_spec = state_spec
    return module._network_output_spec


def _input_outer_ndim(layer: Any, input_spec: Any) -> int:
    """How many outer dims `layer` expects ahead of `input_spec`'s shape (1 when unknown)."""
    if isinstance(layer, keras.layers.RNN):
        raise TypeError(
            "Saw a tf.keras.layers.RNN layer nested inside e.g. a keras Sequential layer.  "
            "This is not directly supported.  Please wrap your layer inside a "
            "`tf_agents.keras_layers.RNNWrapper` or use `tf_agents.networks.Sequential`.  "
            f"Layer: {layer}"
        )
    if isinstance(layer, keras.layers.TimeDistributed):
        return 1 + _input_outer_ndim(layer.layer, input_spec)
    if isinstance(layer, keras.Sequential):
        return _input_outer_ndim(layer.layers[0], input_spec)
    layer_input_spec = layer.input_spec
    if layer_input_spec is None or isinstance(layer_input_spec, (list, tuple)):
        return 1
    ndim = layer_input_spec.ndim
    if ndim is None:
        ndim = layer_input_spec.min_ndim
    if ndim is None:
        return 1
    if input_spec:
        first = tf.nest.flatten(input_spec)[0]
        if ndim >= first.shape.ndims:
            return ndim - first.shape.ndims
    return 1


def get_state_spec(layer: Any) -> Any:
    """The recurrent state spec of a network or Keras layer (`()` when stateless).

    Raises:
      TypeError: `layer` is a bare Keras RNN layer (wrap it in an ``RNNWrapper``).
      ValueError: `layer` has ``get_initial_state`` but no ``state_size``.
    """
    if is_network(layer):
        return layer.state_spec
    if isinstance(layer, keras.layers.RNN):
        raise TypeError(
            f"RNN Layer must be wrapped inside `tf_agents.keras_layers.RNNWrapper`: {layer}"
        )
    state_size = getattr(layer, "state_size", None)
    if getattr(layer, "get_initial_state", None) is not None and state_size is None:
        raise ValueError(
            f"Layer lacks a `state_size` property.  Unable to extract state spec: {layer}"
        )
    if state_size is None:
        return ()
    return tf.nest.map_structure(lambda s: tf.TensorSpec(dtype=layer.dtype, shape=s), state_size)

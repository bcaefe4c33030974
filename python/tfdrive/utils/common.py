"""TensorFlow helpers shared by agents, policies and networks (TF-Agents' `utils.common`).

This module holds the small building blocks: `tf.function` wrappers, variable
creation and soft updates, periodic ops, spec scaling and clipping, the
Ornstein-Uhlenbeck process, action indexing and per-action log-probability and
entropy sums. Larger families live in their own modules and are re-exported
here under TF-Agents' names: discounted returns (`tfdrive.utils.returns`),
losses (`tfdrive.utils.losses`), summaries (`tfdrive.utils.summaries`),
checkpoints and saved specs (`tfdrive.utils.checkpointing`) and target-network
checks (`tfdrive.utils.target_networks`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
from typing import Any, Callable, Iterator, Sequence, overload

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.python.eager import monitoring

from tfdrive.utils import nest_utils
from tfdrive.utils.checkpointing import Checkpointer, load_spec, save_spec
from tfdrive.utils.losses import (
    AggregatedLosses,
    aggregate_losses,
    element_wise_huber_loss,
    element_wise_squared_loss,
)
from tfdrive.utils.members import assert_members_are_not_overridden
from tfdrive.utils.returns import (
    compute_returns,
    discounted_future_sum,
    discounted_future_sum_masked,
    get_contiguous_sub_episodes,
    get_episode_mask,
    shift_values,
)
from tfdrive.utils.summaries import (
    generate_tensor_summaries,
    summarize_scalar_dict,
    summarize_tensor_dict,
)
from tfdrive.utils.target_networks import (
    check_matching_networks,
    check_no_shared_variables,
    deduped_network_variables,
    extract_shared_variables,
    maybe_copy_target_network_with_checks,
)

__all__ = [
    "AggregatedLosses",
    "Checkpointer",
    "EagerPeriodically",
    "MISSING_RESOURCE_VARIABLES_ERROR",
    "OUProcess",
    "Periodically",
    "aggregate_losses",
    "assert_members_are_not_overridden",
    "check_matching_networks",
    "check_no_shared_variables",
    "check_tf1_allowed",
    "clip_to_spec",
    "compute_returns",
    "convert_q_logits_to_values",
    "create_variable",
    "deduped_network_variables",
    "discounted_future_sum",
    "discounted_future_sum_masked",
    "element_wise_huber_loss",
    "element_wise_squared_loss",
    "entropy",
    "extract_shared_variables",
    "function",
    "function_in_tf1",
    "generate_tensor_summaries",
    "get_contiguous_sub_episodes",
    "get_episode_mask",
    "has_eager_been_enabled",
    "in_legacy_tf1",
    "index_with_actions",
    "initialize_uninitialized_variables",
    "join_scope",
    "load_spec",
    "log_probability",
    "maybe_copy_target_network_with_checks",
    "ornstein_uhlenbeck_process",
    "periodically",
    "replicate",
    "resource_variables_enabled",
    "safe_has_state",
    "save_spec",
    "scale_to_spec",
    "set_default_tf_function_parameters",
    "shift_values",
    "soft_device_placement",
    "soft_variables_update",
    "spec_means_and_magnitudes",
    "summarize_scalar_dict",
    "summarize_tensor_dict",
    "tf_agents_gauge",
    "transpose_batch_time",
]

# Usage gauge that agents and policies mark (`tf_agents_gauge.get_cell(name).set(True)`);
# TensorFlow's in-process monitoring, under TF-Agents' metric name.
tf_agents_gauge = monitoring.BoolGauge("/tensorflow/agents/agents", "TF-Agents usage", "method")

MISSING_RESOURCE_VARIABLES_ERROR = """
Resource variables are not enabled.  Please enable them by adding the following
code to your main() method:
  tf.compat.v1.enable_resource_variables()
For unit tests, subclass `tf_agents.utils.test_utils.TestCase`.
"""

# As in TF-Agents, graph (TF1) mode is refused unless an opt-in module exists.
_TF1_MODE_ALLOWED = importlib.util.find_spec("tfdrive.utils.allow_tf1") is not None


def _tf_version() -> tuple[int, int]:
    major, minor = tf.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


# TensorFlow releases before 1.15 (never the case on the TF 2.x stacks tfdrive supports).
_IN_LEGACY_TF1 = tf.__git_version__ != "unknown" and _tf_version() < (1, 15)


def check_tf1_allowed() -> None:
    """Raises `RuntimeError` when TF2 behaviour is disabled (TF1 mode) and not opted into."""
    if _TF1_MODE_ALLOWED or tf.__internal__.tf2.enabled():
        return
    raise RuntimeError(
        "You are using TF1 or running TF with eager mode disabled.  TF-Agents (and "
        "tfdrive) no longer support TF1 mode.  Please use TF2."
    )


def resource_variables_enabled() -> bool:
    """Whether `tf.compat.v1` variables are resource variables (always true in TF2)."""
    return tf.compat.v1.resource_variables_enabled()


def in_legacy_tf1() -> bool:
    """True on TensorFlow releases older than 1.15."""
    return _IN_LEGACY_TF1


def has_eager_been_enabled() -> bool:
    """True when the outermost context executes eagerly (TF2, even inside a `tf.function`)."""
    with tf.init_scope():
        return tf.executing_eagerly()


def function(*args: Any, **kwargs: Any) -> Any:
    """`tf.function` with TF-Agents' defaults: ``autograph=False``, ``reduce_retracing=True``.

    Use it as `tf.function`: ``common.function(fn)``, ``@common.function`` or
    ``@common.function(input_signature=...)``; explicit keyword arguments win.
    """
    kwargs.setdefault("autograph", False)
    kwargs.setdefault("reduce_retracing", True)
    return tf.function(*args, **kwargs)  # allow-tf-function


def _lazily_compiled(fn: Callable, args: tuple, kwargs: dict) -> Callable[..., Any]:
    """Returns a caller that compiles ``function(fn, *args, **kwargs)`` on first graph use."""
    compiled: list[Callable] = []

    def call(*fn_args: Any, **fn_kwargs: Any) -> Any:
        if not compiled:
            compiled.append(function(fn, *args, **kwargs))
        return compiled[0](*fn_args, **fn_kwargs)

    return call


def set_default_tf_function_parameters(*args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
    """A decorator making `fn` run as ``common.function(fn, *args, **kwargs)`` inside graphs.

    Eagerly the function runs as plain Python; when called while a graph is
    being built (e.g. inside an enclosing `common.function`), it is compiled
    once with these `tf.function` arguments (``autograph=True``, say).
    """

    def decorate(fn: Callable) -> Callable:
        compiled = _lazily_compiled(fn, args, kwargs)

        @functools.wraps(fn)
        def run(*fn_args: Any, **fn_kwargs: Any) -> Any:
            if tf.executing_eagerly():
                return fn(*fn_args, **fn_kwargs)
            return compiled(*fn_args, **fn_kwargs)

        return run

    return decorate


def function_in_tf1(*args: Any, **kwargs: Any) -> Callable[[Callable], Callable]:
    """A decorator wrapping `fn` in ``common.function(fn, *args, **kwargs)`` in TF1 mode only.

    With eager execution (TF2) `fn` runs unchanged, eagerly or inside the
    caller's `tf.function`; in a TF1 graph it is compiled once so that it gets
    automatic control dependencies, and resource variables are required.

    Raises (when called):
      RuntimeError: TF1 mode without opt-in, or resource variables disabled.
    """

    def decorate(fn: Callable) -> Callable:
        compiled = _lazily_compiled(fn, args, kwargs)

        @functools.wraps(fn)
        def run(*fn_args: Any, **fn_kwargs: Any) -> Any:
            check_tf1_allowed()
            if has_eager_been_enabled():
                return fn(*fn_args, **fn_kwargs)
            if not resource_variables_enabled():
                raise RuntimeError(MISSING_RESOURCE_VARIABLES_ERROR)
            return compiled(*fn_args, **fn_kwargs)

        return run

    return decorate


def create_variable(
    name: str,
    initial_value: Any = 0,
    shape: Any = (),
    dtype: tf.DType = tf.int64,
    use_local_variable: bool = False,
    trainable: bool = False,
    initializer: Any = None,
    unique_name: bool = True,
) -> tf.Variable:
    """Creates a (by default non-trainable int64 scalar) variable, e.g. a counter.

    Args:
      name: The variable's name.
      initial_value: Its value, broadcast to `shape` (ignored with `initializer`).
      shape: The variable's shape; ``None`` takes `initial_value`'s shape.
      dtype: The variable's dtype.
      use_local_variable: In graph mode, put it in the LOCAL_VARIABLES collection
        instead of GLOBAL_VARIABLES.
      trainable: Whether optimizers may train it.
      initializer: A ``(shape, dtype)`` callable or an initial tensor, used
        instead of `initial_value`.
      unique_name: In graph mode, make the name unique in the graph.

    Returns:
      A resource `tf.Variable`.
    """
    check_tf1_allowed()
    if has_eager_been_enabled():
        if initializer is None:
            if shape:
                value = tf.constant(initial_value, shape=shape, dtype=dtype)
            else:
                value = tf.convert_to_tensor(initial_value, dtype=dtype)
        elif callable(initializer):
            value = functools.partial(initializer, shape, dtype)
        else:
            value = initializer
        return tf.Variable(value, trainable=trainable, dtype=dtype, name=name)

    keys = tf.compat.v1.GraphKeys
    collection = keys.LOCAL_VARIABLES if use_local_variable else keys.GLOBAL_VARIABLES
    if initializer is None:
        initializer = tf.compat.v1.initializers.constant(initial_value, dtype=dtype)
        if shape is None:
            shape = tf.convert_to_tensor(initial_value).shape
    if unique_name:
        name = tf.compat.v1.get_default_graph().unique_name(name)
    return tf.compat.v1.get_variable(
        name=name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        collections=[collection],
        use_resource=True,
        trainable=trainable,
    )


def soft_variables_update(
    source_variables: Sequence[tf.Variable],
    target_variables: Sequence[tf.Variable],
    tau: float = 1.0,
    tau_non_trainable: float | None = None,
    sort_variables_by_name: bool = False,
) -> Any:
    """Moves each target variable towards its source: ``t = (1 - tau) t + tau s``.

    ``tau=1`` copies (hard update); non-trainable targets (e.g. batch-norm
    statistics) use `tau_non_trainable` (default: `tau`). Under a
    `tf.distribute` strategy, trainable targets are updated through
    ``strategy.extended.update``, which needs a cross-replica context (use
    `Periodically`, which provides one).

    Returns:
      An op grouping the updates (a no-op for ``tau == 0`` or empty lists).

    Raises:
      ValueError: `tau` or `tau_non_trainable` outside ``[0, 1]``, lists of
        different lengths, or a pair of variables with incompatible shapes.
    """
    if tau < 0 or tau > 1:
        raise ValueError("Input `tau` should be in [0, 1].")
    if tau_non_trainable is None:
        tau_non_trainable = tau
    if tau_non_trainable < 0 or tau_non_trainable > 1:
        raise ValueError("Input `tau_non_trainable` should be in [0, 1].")
    op_name = "soft_variables_update"
    if tau == 0.0 or not source_variables or not target_variables:
        return tf.no_op(name=op_name)
    if len(source_variables) != len(target_variables):
        raise ValueError(
            "Source and target variable lists have different lengths: "
            f"{len(source_variables)} vs. {len(target_variables)}"
        )
    if sort_variables_by_name:
        source_variables = sorted(source_variables, key=lambda v: v.name)
        target_variables = sorted(target_variables, key=lambda v: v.name)

    def move(target: tf.Variable, source: tf.Variable) -> Any:
        rate = tau if target.trainable else tau_non_trainable
        if rate == 1.0:
            return target.assign(source)
        return target.assign((1 - rate) * target + rate * source)

    strategy = tf.distribute.get_strategy()
    updates = []
    for source, target in zip(source_variables, target_variables):
        if not target.shape.is_compatible_with(source.shape):
            raise ValueError(
                f"Variable {target.name} has shape {target.shape}, incompatible with "
                f"source {source.name} of shape {source.shape}."
            )
        # Mirrored (trainable) variables update per replica; others (sync-on-read,
        # e.g. batch-norm statistics) take a plain assign, synced from replica 0.
        if tf.distribute.has_strategy() and target.trainable:
            updates.append(strategy.extended.update(target, move, args=(source,)))
        else:
            updates.append(move(target, source))
    return tf.group(*updates, name=op_name)


@overload
def join_scope(parent_scope: str | None, child_scope: str) -> str: ...
@overload
def join_scope(parent_scope: str | None, child_scope: str | None) -> str | None: ...
def join_scope(parent_scope: str | None, child_scope: str | None) -> str | None:
    """``parent/child``; an empty (or None) side yields the other one unchanged."""
    if not parent_scope:
        return child_scope
    if not child_scope:
        return parent_scope
    return f"{parent_scope}/{child_scope}"


def index_with_actions(
    q_values: tf.Tensor, actions: tf.Tensor, multi_dim_actions: bool = False
) -> tf.Tensor:
    """Picks ``q_values[..., action]`` for each element of the outer (batch, time...) dims.

    Args:
      q_values: float ``[outer_1, ..., outer_K, action_dim_1, ..., action_dim_J]``.
      actions: int ``[outer_1, ..., outer_K]`` (J == 1) or, with
        `multi_dim_actions`, ``[outer_1, ..., outer_K, J]``: one index per
        action dimension.
      multi_dim_actions: Whether the last dimension of `actions` indexes the J
        action dimensions.

    Returns:
      ``[outer_1, ..., outer_K]`` q-values of the chosen actions.

    Raises:
      ValueError: `actions` has unknown rank.
    """
    if actions.shape.rank is None:
        raise ValueError("actions should have known rank.")
    num_outer = actions.shape.rank - 1 if multi_dim_actions else actions.shape.rank
    actions = tf.cast(actions, tf.int32)
    if not multi_dim_actions:
        actions = actions[..., tf.newaxis]
    outer_shape = tf.shape(actions)[:num_outer]
    # One ``[outer..., 1]`` coordinate grid per outer dimension, then the action indices.
    grids = tf.meshgrid(*[tf.range(outer_shape[i]) for i in range(num_outer)], indexing="ij")
    coordinates = [grid[..., tf.newaxis] for grid in grids] + [actions]
    return tf.gather_nd(q_values, tf.concat(coordinates, axis=-1))


def periodically(body: Callable[[], Any], period: Any, name: str = "periodically") -> Any:
    """Runs `body` on every `period`-th call.

    Eagerly this returns a callable: an `EagerPeriodically` (Python counter)
    for a Python `period`, a `Periodically` for a `tf.Variable` one. In a graph
    it returns the op of one call of a new `Periodically`.

    Raises:
      TypeError: `body` is not callable.
    """
    if tf.executing_eagerly():
        if isinstance(period, tf.Variable):
            return Periodically(body, period, name)
        return EagerPeriodically(body, period)
    return Periodically(body, period, name)()


class Periodically(tf.Module):
    """Calling it runs `body` when its call count is a positive multiple of `period`.

    ``period=None`` never runs `body` (returns a no-op); ``period == 1`` runs
    it on every call without counting. `period` may be a Python number, a
    tensor or a `tf.Variable` (changeable between calls). The count is an int64
    variable, so the object works in graphs and `tf.function`s, and under a
    `tf.distribute` strategy (`body` then runs in cross-replica context).

    Args:
      body: Callable returning an op without outputs (e.g. a `tf.group`).
      period: The number of calls between two runs of `body`.
      name: The module's name.

    Raises:
      TypeError: `body` is not callable.
    """

    def __init__(self, body: Callable[[], Any], period: Any, name: str = "periodically"):
        super().__init__(name=name)
        if not callable(body):
            raise TypeError("body must be callable.")
        self._body = body
        self._period = period
        self._counter = create_variable(self.name + "/counter", 0)

    def _count_and_maybe_run(self) -> Any:
        period = tf.cast(self._period, self._counter.dtype)
        due = tf.equal(tf.math.mod(self._counter.assign_add(1), period), 0)
        return tf.cond(due, self._body, tf.no_op)

    def _call(self, strategy: Any = None) -> Any:
        del strategy  # merge_call passes it; nothing here depends on it.
        period = self._period
        if period is None:
            return tf.no_op()
        if tf.is_tensor(period) and not tf.executing_eagerly():
            # A tensor period is only known when the graph runs.
            return tf.cond(tf.equal(period, 1), self._body, self._count_and_maybe_run)
        if bool(period == 1):
            return self._body()
        return self._count_and_maybe_run()

    def __call__(self) -> Any:
        context = tf.distribute.get_replica_context()
        if context is not None:
            return context.merge_call(self._call)
        return self._call()


class EagerPeriodically:
    """Eager-only `Periodically` with a Python counter and a Python `period`.

    Calling it runs `body` when the call count is a positive multiple of
    `period` (then returns None), returns ``body()`` on every call when
    ``period == 1``, and a no-op when `period` is None.

    Raises:
      TypeError: `body` is not callable.
    """

    def __init__(self, body: Callable[[], Any], period: int | None):
        if not callable(body):
            raise TypeError("body must be callable.")
        self._body = body
        self._period = period
        self._counter = 0

    def __call__(self) -> Any:
        if self._period is None:
            return tf.no_op()
        if self._period == 1:
            return self._body()
        self._counter += 1
        if self._counter % self._period == 0:
            self._body()
        return None


def clip_to_spec(value: tf.Tensor, spec: Any) -> tf.Tensor:
    """Clips `value` elementwise to ``[spec.minimum, spec.maximum]``.

    Args:
      value: A tensor.
      spec: A `BoundedTensorSpec` (or `BoundedArraySpec`); its bounds broadcast
        against `value`'s trailing dimensions.
    """
    return tf.clip_by_value(value, spec.minimum, spec.maximum)


def spec_means_and_magnitudes(action_spec: Any) -> tuple[np.ndarray, np.ndarray]:
    """``((max + min) / 2, (max - min) / 2)`` of a (nest of) bounded spec(s).

    Returns:
      Two float32 numpy arrays, each built from the nest of per-spec values
      (so a nest of specs must have equal shapes).
    """
    means = tf.nest.map_structure(lambda s: (s.maximum + s.minimum) / 2.0, action_spec)
    magnitudes = tf.nest.map_structure(lambda s: (s.maximum - s.minimum) / 2.0, action_spec)
    return np.array(means, dtype=np.float32), np.array(magnitudes, dtype=np.float32)


def scale_to_spec(tensor: tf.Tensor, spec: Any) -> tf.Tensor:
    """Maps values in ``[-1, 1]`` onto the spec's bounds.

    Args:
      tensor: ``[batch, n]`` (any shape with ``batch * prod(spec.shape)`` elements).
      spec: A `BoundedTensorSpec`.

    Returns:
      ``[batch] + spec.shape`` values ``mean + magnitude * tensor``, cast to
      ``spec.dtype``.
    """
    tensor = tf.reshape(tensor, [-1] + spec.shape.as_list())
    means, magnitudes = spec_means_and_magnitudes(spec)
    return tf.cast(means + magnitudes * tensor, spec.dtype)


def ornstein_uhlenbeck_process(
    initial_value: Any,
    damping: float = 0.15,
    stddev: float = 0.2,
    seed: int | None = None,
    scope: str = "ornstein_uhlenbeck_noise",
) -> Any:
    """Zero-mean Ornstein-Uhlenbeck noise (see `OUProcess`).

    Returns:
      Eagerly, the `OUProcess` (call it for each sample); in a graph, the op
      producing the next sample.
    """
    process = OUProcess(initial_value, damping, stddev, seed, scope)
    return process if tf.executing_eagerly() else process()


class OUProcess(tf.Module):
    """Zero-mean Ornstein-Uhlenbeck noise: ``x <- (1 - damping) * x + N(0, stddev^2)``.

    Temporally correlated noise (a damped random walk), useful for
    exploration in continuous-control environments with momentum. Each call
    advances the process and returns the new value, shaped and typed like
    `initial_value`.

    Args:
      initial_value: The process's starting value (a tensor or array).
      damping: In ``[0, 1]``: 0 is an undamped random walk, 1 uncorrelated
        Gaussian noise.
      stddev: Standard deviation of the Gaussian increments.
      seed: Op seed of the increments.
      scope: Name scope of the state variable.
    """

    def __init__(
        self,
        initial_value: Any,
        damping: float = 0.15,
        stddev: float = 0.2,
        seed: int | None = None,
        scope: str = "ornstein_uhlenbeck_noise",
    ):
        super().__init__()
        self._damping = damping
        self._stddev = stddev
        self._seed = seed
        with tf.name_scope(scope):
            self._x = tf.Variable(initial_value=initial_value, trainable=False)

    def __call__(self) -> tf.Tensor:
        noise = tf.random.normal(
            shape=self._x.shape, stddev=self._stddev, dtype=self._x.dtype, seed=self._seed
        )
        return self._x.assign((1.0 - self._damping) * self._x + noise)


def _sum_inner_dims(values: tf.Tensor, outer_rank: int) -> tf.Tensor:
    """Sums `values` over every dimension after the first `outer_rank`."""
    return tf.reduce_sum(values, axis=list(range(outer_rank, values.shape.rank)))


def log_probability(distributions: Any, actions: Any, action_spec: Any) -> tf.Tensor:
    """Joint log-probability of a nest of actions under a matching nest of distributions.

    Actions are taken as independent: log-probabilities are summed over each
    action's inner (spec) dimensions and across the nest.

    Args:
      distributions: A nest of distributions, possibly batched.
      actions: The matching nest of actions, with the same outer dims.
      action_spec: The nest of action specs (gives the outer rank).

    Returns:
      A tensor of the actions' outer shape.
    """
    outer_rank = nest_utils.get_outer_rank(actions, action_spec)
    nest_utils.assert_same_structure(distributions, actions)
    log_probs = [
        _sum_inner_dims(distribution.log_prob(action), outer_rank)
        for distribution, action in zip(tf.nest.flatten(distributions), tf.nest.flatten(actions))
    ]
    return tf.add_n(log_probs)


def entropy(distributions: Any, action_spec: Any, outer_rank: int | None = None) -> Any:
    """Joint entropy of a nest of independent distributions.

    Args:
      distributions: A nest of distributions, possibly batched.
      action_spec: The nest of action specs.
      outer_rank: The distributions' number of outer (batch) dims; by default
        found by comparing their modes with `action_spec`.

    Returns:
      A tensor of the outer shape: entropies summed over inner dims and the
      nest, skipping distributions whose entropy is not implemented; None if
      none has one.
    """
    if outer_rank is None:
        modes = tf.nest.map_structure(lambda d: d.mode(), distributions)
        outer_rank = nest_utils.get_outer_rank(modes, action_spec)
    entropies = []
    for distribution in tf.nest.flatten(distributions):
        try:
            entropies.append(_sum_inner_dims(distribution.entropy(), outer_rank))
        except NotImplementedError:
            continue
    return tf.add_n(entropies) if entropies else None


def convert_q_logits_to_values(logits: tf.Tensor, support: tf.Tensor) -> tf.Tensor:
    """Expected Q-values of categorical (distributional) Q logits.

    Args:
      logits: ``[..., num_atoms]`` logits.
      support: ``[num_atoms]`` values of the atoms.

    Returns:
      ``[...]``: ``sum(softmax(logits) * support, -1)``.
    """
    return tf.reduce_sum(support * tf.nn.softmax(logits), axis=-1)


def initialize_uninitialized_variables(session: Any, var_list: Any = None) -> None:
    """TF1: runs the initializers of those variables (default: all global and local) not yet set.

    Args:
      session: A `tf.compat.v1.Session`.
      var_list: The variables to check.
    """
    if var_list is None:
        var_list = tf.compat.v1.global_variables() + tf.compat.v1.local_variables()
    flags = session.run([tf.compat.v1.is_variable_initialized(v) for v in var_list])
    pending = [v for v, initialized in zip(var_list, flags) if not initialized]
    if pending:
        logging.info("uninitialized_vars: %s", ", ".join(str(v) for v in pending))
        session.run(tf.compat.v1.variables_initializer(pending))


def replicate(tensor: tf.Tensor, outer_shape: Any) -> tf.Tensor:
    """Stacks copies of `tensor` into shape ``outer_shape + tensor.shape``.

    Args:
      tensor: The tensor to copy.
      outer_shape: A 1-D list, array or tensor of ints.

    Returns:
      The replicated tensor (`tensor` itself for an empty `outer_shape`).

    Raises:
      ValueError: `outer_shape` is not 1-D.
    """
    outer_shape = tf.convert_to_tensor(outer_shape)
    if outer_shape.shape.rank != 1:
        raise ValueError("The outer shape must be a 1D tensor")
    if int(outer_shape.shape[0]) == 0:
        return tensor
    target_shape = tf.concat([outer_shape, tf.shape(tensor)], axis=0)
    copies = tf.repeat(tensor[tf.newaxis], tf.reduce_prod(outer_shape), axis=0)
    return tf.reshape(copies, target_shape)


def transpose_batch_time(x: tf.Tensor) -> tf.Tensor:
    """Swaps the first two dimensions of `x` (tensors of rank < 2 are returned as they are).

    Keeps as much of the static shape as is known.
    """
    static_shape = x.shape
    if static_shape.rank is not None and static_shape.rank < 2:
        return x
    perm = tf.concat([[1, 0], tf.range(2, tf.rank(x))], axis=0)
    transposed = tf.transpose(x, perm=perm)
    if static_shape.rank is not None:
        transposed.set_shape([static_shape[1], static_shape[0]] + static_shape[2:].as_list())
    else:
        transposed.set_shape(tf.TensorShape([None, None]).concatenate(static_shape[2:]))
    return transposed


@contextlib.contextmanager
def soft_device_placement() -> Iterator[None]:
    """Turns on soft device placement inside the block (so summaries may fall back to CPU)."""
    previous = tf.config.get_soft_device_placement()
    try:
        tf.config.set_soft_device_placement(True)
        yield
    finally:
        tf.config.set_soft_device_placement(previous)


def safe_has_state(state: Any) -> bool:
    """True unless `state` is None, ``()`` or ``[]`` (identity checks, graph safe)."""
    if state is None:
        return False
    if isinstance(state, (tuple, list)) and len(state) == 0 and not hasattr(state, "_fields"):
        return False
    return True

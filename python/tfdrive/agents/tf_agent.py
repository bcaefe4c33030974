"""The TensorFlow agent base class (TF-Agents' `agents.tf_agent`).

An agent owns two policies (`policy` to exploit, `collect_policy` to explore)
and trains on batches of experience: `Trajectory` nests shaped `[B, T, ...]`
(or `[B, ...]` when `num_outer_dims == 1`) matching `training_data_spec`.
Subclasses implement `_train` (and optionally `_loss`, `_initialize`,
`_preprocess_sequence`); the public methods wrap them in `tf.function`.
"""

from __future__ import annotations

import abc
import collections
import sys
from typing import Any

import tensorflow as tf

from tfdrive._interop import ensure_registered, register_with_tf_agents
from tfdrive.agents import data_converter
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common, eager_utils

__all__ = ["LossInfo", "TFAgent"]

# `loss`: the scalar total loss; `extra`: an agent-specific nest of diagnostics.
LossInfo = collections.namedtuple("LossInfo", ("loss", "extra"))


def _checked_loss_info(value: Any) -> Any:
    """`value` as a `LossInfo`: TF-Agents' own when its `tf_agent` module is loaded.

    TF-Agents' helpers check `isinstance(x, LossInfo)` against their class;
    TF-Agents is never imported here.

    Raises:
      TypeError: `value` is not a `LossInfo` (of either library).
    """
    if not isinstance(value, tuple) or getattr(value, "_fields", None) != LossInfo._fields:
        raise TypeError(f"loss_info is not a subclass of LossInfo: {value}")
    tfa_tf_agent = sys.modules.get("tf_agents.agents.tf_agent")
    loss_info_type = tfa_tf_agent.LossInfo if tfa_tf_agent is not None else LossInfo
    return value if isinstance(value, loss_info_type) else loss_info_type(*value)


def _spec_field(spec: Any, name: str, default: Any) -> Any:
    return getattr(spec, name, default)


class TFAgent(tf.Module, metaclass=abc.ABCMeta):
    """Base class of TensorFlow agents.

    Args:
      time_step_spec: a `TimeStep` of specs (array specs are converted).
      action_spec: nest of `BoundedTensorSpec`s of the actions.
      policy: the `TFPolicy` that exploits what was learned.
      collect_policy: the `TFPolicy` that collects experience; its `info_spec`
        is the experience's `policy_info` spec.
      train_sequence_length: the `T` that `train` requires, or None for any.
      num_outer_dims: 2 (`[B, T, ...]` experience) or 1 (`[B, ...]`).
      training_data_spec: the spec `train` expects when it differs from the
        collected data (e.g. after `preprocess_sequence`); its fields default
        to the collected data's.
      debug_summaries: subclasses gather debug summaries.
      summarize_grads_and_vars: subclasses summarize gradients and variables.
      enable_summaries: False turns every summary off.
      train_step_counter: the int64 variable `train` increments; defaults to
        the global step.

    Raises:
      TypeError: `time_step_spec` is not a `TimeStep`.
      ValueError: `num_outer_dims` is not 1 or 2.
    """

    _enable_functions = True

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        policy: Any,
        collect_policy: Any,
        train_sequence_length: int | None,
        num_outer_dims: int = 2,
        training_data_spec: Any = None,
        debug_summaries: bool = False,
        summarize_grads_and_vars: bool = False,
        enable_summaries: bool = True,
        train_step_counter: tf.Variable | None = None,
    ):
        ensure_registered()
        common.check_tf1_allowed()
        common.tf_agents_gauge.get_cell("TFAgent").set(True)
        common.tf_agents_gauge.get_cell(str(type(self))).set(True)
        if getattr(time_step_spec, "_fields", None) != ts.TimeStep._fields:
            raise TypeError(
                "The `time_step_spec` must be an instance of `TimeStep`, but is "
                f"`{type(time_step_spec)}`."
            )
        if num_outer_dims not in (1, 2):
            raise ValueError("num_outer_dims must be in [1, 2].")

        time_step_spec = tensor_spec.from_spec(ts.TimeStep(*time_step_spec))
        action_spec = tensor_spec.from_spec(action_spec)
        # Plain attributes: tf.Module tracking would wrap the nests in its own
        # containers, which tfdrive's nest utilities do not unpack.
        object.__setattr__(self, "_time_step_spec", time_step_spec)
        object.__setattr__(self, "_action_spec", action_spec)
        object.__setattr__(self, "_training_data_spec", training_data_spec)
        self._policy = policy
        self._collect_policy = collect_policy
        self._train_sequence_length = train_sequence_length
        self._num_outer_dims = num_outer_dims
        self._debug_summaries = debug_summaries
        self._summarize_grads_and_vars = summarize_grads_and_vars
        self._enable_summaries = enable_summaries
        self._collect_data_context = data_converter.DataContext(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            info_spec=collect_policy.info_spec,
        )
        if training_data_spec is None:
            self._data_context = self._collect_data_context
        else:
            # Fields the training spec lacks fall back to the collected data's.
            spec = tensor_spec.from_spec(training_data_spec)
            self._data_context = data_converter.DataContext(
                time_step_spec=ts.TimeStep(
                    step_type=_spec_field(spec, "step_type", time_step_spec.step_type),
                    reward=_spec_field(spec, "reward", time_step_spec.reward),
                    discount=_spec_field(spec, "discount", time_step_spec.discount),
                    observation=_spec_field(spec, "observation", time_step_spec.observation),
                ),
                action_spec=_spec_field(spec, "action", action_spec),
                info_spec=_spec_field(spec, "policy_info", collect_policy.info_spec),
            )
        if train_step_counter is None:
            train_step_counter = tf.compat.v1.train.get_or_create_global_step()
        self._train_step_counter = train_step_counter
        self._train_fn = common.function_in_tf1()(self._train)
        self._initialize_fn = common.function_in_tf1()(self._initialize)
        self._preprocess_sequence_fn = common.function_in_tf1()(self._preprocess_sequence)
        self._loss_fn = common.function_in_tf1()(self._loss)

    def _checked_fn(self, attribute: str) -> Any:
        fn = getattr(self, attribute, None)
        if self._enable_functions and fn is None:
            raise RuntimeError(
                f"Cannot find {attribute}.  Did {type(self).__name__}.__init__ call super?"
            )
        return fn

    def initialize(self) -> tf.Operation | None:
        """Initializes the agent (e.g. copies weights into target networks).

        Returns:
          In graph mode, the op that initializes; otherwise None.

        Raises:
          RuntimeError: `TFAgent.__init__` was not called.
        """
        fn = self._checked_fn("_initialize_fn")
        if not self._enable_functions:
            return self._initialize()
        fn()
        if not tf.executing_eagerly():
            return tf.compat.v1.get_default_graph().get_operations()[-1]
        return None

    def preprocess_sequence(self, experience: Any) -> Any:
        """Turns collected experience (`collect_data_spec`) into training data.

        Args:
          experience: a `Trajectory` shaped `[B, T, ...]` or `[T, ...]`.

        Returns:
          The experience as `train` expects it (identity unless overridden).
        """
        if self._enable_functions:
            return self._preprocess_sequence_fn(experience)
        return self._preprocess_sequence(experience)

    def train(self, experience: Any, weights: Any = None, **kwargs: Any) -> LossInfo:
        """Runs one training step.

        Args:
          experience: a nest matching `training_data_spec`, every tensor shaped
            `[B, T, ...]` with `T == train_sequence_length` when that is set.
          weights: optional scalar or `[B]` weights of the per-example losses.
          **kwargs: passed on to `_train`.

        Returns:
          The `LossInfo` computed before the update (TF-Agents' `LossInfo`
          type when TF-Agents is loaded).

        Raises:
          RuntimeError: `TFAgent.__init__` was not called.
          TypeError: `_train` did not return a `LossInfo`.
        """
        fn = self._checked_fn("_train_fn")
        if not self._enable_functions:
            fn = self._train
        loss_info = fn(experience=experience, weights=weights, **kwargs)
        return _checked_loss_info(loss_info)

    def loss(
        self, experience: Any, weights: Any = None, training: bool = False, **kwargs: Any
    ) -> LossInfo:
        """Computes the loss without updating anything.

        Args:
          experience: as for `train`.
          weights: as for `train`.
          training: passed to the networks (dropout, batch normalization).
          **kwargs: passed on to `_loss`.

        Returns:
          A `LossInfo`.

        Raises:
          RuntimeError: `TFAgent.__init__` was not called.
          TypeError: `_loss` did not return a `LossInfo`.
        """
        fn = self._checked_fn("_loss_fn")
        if not self._enable_functions:
            fn = self._loss
        loss_info = fn(experience=experience, weights=weights, training=training, **kwargs)
        return _checked_loss_info(loss_info)

    def _apply_loss(self, aggregated_losses, variables_to_train, tape, optimizer) -> None:
        """Applies the gradients of `aggregated_losses.total_loss` with `optimizer`.

        Subclasses calling this set `self._gradient_clipping` (None: no clipping).
        """
        total_loss = aggregated_losses.total_loss
        tf.debugging.check_numerics(total_loss, "Loss is inf or nan")
        assert list(variables_to_train), "No variables in the agent's network."
        grads = tape.gradient(total_loss, variables_to_train)
        grads_and_vars = list(zip(grads, variables_to_train, strict=True))
        if self._gradient_clipping is not None:
            grads_and_vars = eager_utils.clip_gradient_norms(
                grads_and_vars, self._gradient_clipping
            )
        if self.summarize_grads_and_vars:
            eager_utils.add_variables_summaries(grads_and_vars, self.train_step_counter)
        optimizer.apply_gradients(grads_and_vars)
        if self.summaries_enabled and eager_utils.summaries_recorded():
            common.summarize_scalar_dict(
                {
                    "loss": aggregated_losses.weighted,
                    "reg_loss": aggregated_losses.regularization,
                    "total_loss": total_loss,
                },
                step=self.train_step_counter,
                name_scope="Losses/",
            )

    def post_process_policy(self) -> Any:
        """The policy after any post-training processing (here: `policy`)."""
        return self.policy

    @property
    def time_step_spec(self) -> Any:
        """The `TimeStep` of `TensorSpec`s the agent's policies take."""
        return self._time_step_spec

    @property
    def action_spec(self) -> Any:
        """The nest of `BoundedTensorSpec`s of the agent's actions."""
        return self._action_spec

    @property
    def data_context(self) -> data_converter.DataContext:
        """The `DataContext` of the training data."""
        return self._data_context

    @property
    def collect_data_context(self) -> data_converter.DataContext:
        """The `DataContext` of the collected data."""
        return self._collect_data_context

    @property
    def policy(self) -> Any:
        return self._policy

    @property
    def collect_policy(self) -> Any:
        return self._collect_policy

    @property
    def collect_data_spec(self) -> Any:
        """The `Trajectory` spec of the data `collect_policy` produces."""
        return self.collect_data_context.trajectory_spec

    @property
    def training_data_spec(self) -> Any:
        """The spec `train` expects (`collect_data_spec` unless given)."""
        if self._training_data_spec is not None:
            return self._training_data_spec
        return self.collect_data_spec

    @property
    def train_sequence_length(self) -> int | None:
        """The `T` of the `[B, T, ...]` experience `train` needs; None for any."""
        return self._train_sequence_length

    @property
    def summaries_enabled(self) -> bool:
        return self._enable_summaries

    @property
    def debug_summaries(self) -> bool:
        return self._debug_summaries and self.summaries_enabled

    @property
    def summarize_grads_and_vars(self) -> bool:
        return self._summarize_grads_and_vars and self.summaries_enabled

    @property
    def train_step_counter(self) -> tf.Variable:
        return self._train_step_counter

    def _initialize(self) -> tf.Operation | None:
        """Subclass hook of `initialize`; does nothing by default."""
        return None

    def _preprocess_sequence(self, experience: Any) -> Any:
        """Subclass hook of `preprocess_sequence`; the identity by default."""
        return experience

    def _loss(self, experience: Any, weights: Any, training: bool, **kwargs: Any) -> LossInfo:
        """Subclass hook of `loss`; must not update variables or the step counter."""
        raise NotImplementedError("Loss not implemented.")

    @abc.abstractmethod
    def _train(self, experience: Any, weights: Any) -> LossInfo:
        """Subclass hook of `train`: one update; increments `train_step_counter` once."""


# TF-Agents' `TFAgent` is an ABC: tfdrive's agents pass its `isinstance` checks.
register_with_tf_agents(TFAgent, "tf_agents.agents.tf_agent", "TFAgent")

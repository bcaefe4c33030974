"""`TFPolicy`: the TensorFlow policy base class.

A `TFPolicy` maps a batched `TimeStep` of tensors (and the policy state) to a
`PolicyStep` of tensors. Subclasses implement `_distribution` (and inherit
sampling) or `_action` directly. `action` and `distribution` wrap them with
input validation, automatic state reset on FIRST steps, clipping and
log-probability emission, so every subclass behaves alike.

Time steps, specs and policy steps are recognised by structure (namedtuple
fields), so TF-Agents' `TimeStep` and `PolicyStep` work as well as tfdrive's.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._interop import ensure_registered, register_with_tf_agents
from tfdrive.policies.py_policy import assert_members_are_not_overridden
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common, nest_utils

__all__ = ["TFPolicy", "is_time_step"]

_TIME_STEP_FIELDS = ("step_type", "reward", "discount", "observation")


def is_time_step(value: Any) -> bool:
    """True for any `TimeStep`-shaped namedtuple (tfdrive's, TF-Agents', ...)."""
    # `__class__` rather than `type()`: tracked attributes may be proxies.
    return isinstance(value, tuple) and (
        tuple(getattr(value.__class__, "_fields", ())) == _TIME_STEP_FIELDS
    )


def _prune_time_step(spec: Any, time_step: Any) -> Any:
    """Drops observation dict keys `spec` does not name.

    `nest_utils.prune_extra_keys` keeps a nest whole when its class differs
    from the spec's; a TF-Agents `TimeStep` against a tfdrive spec (or the
    reverse) is pruned field by field instead, keeping the caller's class.
    """
    if (
        type(time_step) is not type(spec)
        and is_time_step(time_step)
        and is_time_step(spec)
        and not hasattr(time_step, "__wrapped__")
    ):
        return type(time_step)(
            *(nest_utils.prune_extra_keys(s, t) for s, t in zip(spec, time_step))
        )
    return nest_utils.prune_extra_keys(spec, time_step)


def _reset_where(condition: tf.Tensor, initial: Any, current: Any) -> Any:
    """Picks `initial` where `condition` (bool ``[B]``) holds, else `current`.

    Leaves are ``[B, ...]``; the condition is reshaped to broadcast over their
    inner dimensions (statically when the rank is known).
    """

    def pick(init: Any, cur: Any) -> tf.Tensor:
        cur = tf.convert_to_tensor(cur)
        init = tf.cast(init, cur.dtype)
        rank = cur.shape.rank
        if rank is not None:
            cond = tf.reshape(condition, [-1] + [1] * (rank - 1))
        else:
            cond = tf.reshape(
                condition, tf.concat([[-1], tf.ones([tf.rank(cur) - 1], tf.int32)], axis=0)
            )
        return tf.where(cond, init, cur)

    return tf.nest.map_structure(pick, initial, current)


def _sample(distribution: Any, seed: Any) -> Any:
    """One sample; Gumbel-softmax style distributions give one-hot samples."""
    sample = distribution.sample(seed=seed)
    to_one_hot = getattr(distribution, "convert_to_one_hot", None)
    return to_one_hot(sample) if to_one_hot is not None else sample


class TFPolicy(tf.Module, metaclass=abc.ABCMeta):
    """Base class of TensorFlow policies (a `tf.Module`).

    Args:
      time_step_spec: A `TimeStep` of `TensorSpec`s (array specs are
        converted) describing one unbatched time step; tfdrive's or
        TF-Agents' `TimeStep`.
      action_spec: A nest of `BoundedTensorSpec`s describing one action.
      policy_state_spec: A nest of `TensorSpec`s for the state, `()` if none.
      info_spec: A nest of `TensorSpec`s for the info, `()` if none.
      clip: Whether `action` clips actions of bounded specs to their bounds.
      emit_log_probability: Whether `action` puts ``log_prob(action)``
        (float32, one per action leaf and batch entry) in
        ``info.log_probability``; `info_spec` then gains a
        ``log_probability`` entry (`BoundedTensorSpec([], float32, -inf, 0)`
        per action leaf): a `PolicyInfo` when `info_spec` is `()`, a new key
        of a dict, or the field of a namedtuple.
      automatic_state_reset: Whether `action` / `distribution` replace the
        state of batch entries whose step is FIRST by the initial state.
      observation_and_action_constraint_splitter: Optional callable mapping an
        observation to ``(network_input, mask)``, used by subclasses that
        support action constraints.
      validate_args: Whether `action` / `distribution` prune observation
        dict keys the spec does not name and check input / output
        structures and action dtypes.
      name: The `tf.Module` name (default: the class name).

    Subclasses implement `_distribution` and/or `_action` (and may override
    `_get_initial_state` and `_variables`); redefining a public member such
    as `action` raises `ValueError` at construction, as in TF-Agents.

    Raises:
      ValueError: If `time_step_spec` is not a `TimeStep`, or the subclass
        overrides a public member.
    """

    # Whether `action` calls `_action` through `_action_fn` (set up by
    # `__init__`); subclasses may switch it off to call `_action` directly.
    _enable_functions = True

    def __init__(
        self,
        time_step_spec: ts.TimeStep,
        action_spec: Any,
        policy_state_spec: Any = (),
        info_spec: Any = (),
        clip: bool = True,
        emit_log_probability: bool = False,
        automatic_state_reset: bool = True,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
        validate_args: bool = True,
        name: str | None = None,
    ):
        super().__init__(name=name)
        ensure_registered()
        assert_members_are_not_overridden(TFPolicy, self)
        if not is_time_step(time_step_spec):
            raise ValueError(
                "The `time_step_spec` must be an instance of `TimeStep`, but is "
                f"`{type(time_step_spec)}`."
            )
        self._time_step_spec = tensor_spec.from_spec(time_step_spec)
        self._action_spec = tensor_spec.from_spec(action_spec)
        self._policy_state_spec = tensor_spec.from_spec(policy_state_spec)
        self._emit_log_probability = emit_log_probability
        self._validate_args = validate_args
        if emit_log_probability:
            log_probability_spec = tensor_spec.BoundedTensorSpec(
                shape=(),
                dtype=tf.float32,
                maximum=0,
                minimum=-float("inf"),
                name="log_probability",
            )
            log_probability_spec = tf.nest.map_structure(
                lambda _: log_probability_spec, action_spec
            )
            info_spec = policy_step.set_log_probability(info_spec, log_probability_spec)
        self._info_spec = tensor_spec.from_spec(info_spec)
        self._setup_specs()
        self._clip = clip
        # TF-Agents wraps `_action` in a graph function only under TF1; under
        # TF2 the bound method itself is called.
        self._action_fn = self._action
        self._automatic_state_reset = automatic_state_reset
        self._observation_and_action_constraint_splitter = (
            observation_and_action_constraint_splitter
        )

    def __setattr__(self, name: str, value: Any) -> None:
        # Specs are plain nests: keep them out of tf.Module's dependency
        # tracking, which would wrap tuples and dicts in proxy objects.
        if name in _UNTRACKED:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _setup_specs(self) -> None:
        self._policy_step_spec = policy_step.PolicyStep(
            action=self._action_spec, state=self._policy_state_spec, info=self._info_spec
        )
        self._trajectory_spec = trajectory.from_transition(
            self._time_step_spec, self._policy_step_spec, self._time_step_spec
        )

    def variables(self) -> Sequence[tf.Variable]:
        """All variables of the policy (its networks, normalizers, ...).

        Those of every `tf.Module` / Keras layer reachable from its attributes.
        """
        return super().variables

    @property
    def observation_and_action_constraint_splitter(self) -> Callable[[Any], Any] | None:
        """The callable splitting an observation into ``(network_input, mask)``, or None."""
        return self._observation_and_action_constraint_splitter

    @property
    def validate_args(self) -> bool:
        """Whether `action` and `distribution` validate their inputs and outputs."""
        return self._validate_args

    def get_initial_state(self, batch_size: Any | None) -> Any:
        """Returns zeros per `policy_state_spec`, shaped ``[batch_size] + spec.shape``.

        Args:
          batch_size: An int or scalar int tensor; None gives unbatched zeros.

        Returns:
          A nest of tensors like `policy_state_spec` (`()` when stateless).
        """
        return self._get_initial_state(batch_size)

    def _maybe_reset_state(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        """Replaces the state of batch entries whose (first) step is FIRST.

        Time steps shaped ``[B, T]`` reset on the first time index.
        """
        if type(policy_state) is tuple and not policy_state:
            return policy_state
        discount = tf.convert_to_tensor(time_step.discount)
        batch_size = tf.compat.dimension_value(discount.shape[0])
        if batch_size is None:
            batch_size = tf.shape(discount)[0]
        initial_state = self.get_initial_state(batch_size=batch_size)
        condition = tf.equal(tf.convert_to_tensor(time_step.step_type), ts.StepType.FIRST)
        if condition.shape.rank is not None and condition.shape.rank > 1:
            condition = condition[:, 0, ...]
        return _reset_where(condition, initial_state, policy_state)

    def _validate_inputs(self, time_step: Any, policy_state: Any, check_empty_state: bool):
        """Prunes extra dict keys, then checks structures against the specs."""
        time_step = _prune_time_step(self._time_step_spec, time_step)
        policy_state = nest_utils.prune_extra_keys(self._policy_state_spec, policy_state)
        nest_utils.assert_same_structure(
            time_step,
            self._time_step_spec,
            message="time_step and time_step_spec structures do not match",
        )
        if check_empty_state or common.safe_has_state(policy_state):
            nest_utils.assert_same_structure(
                policy_state,
                self._policy_state_spec,
                message="policy_state and policy_state_spec structures do not match",
            )
        return time_step, policy_state

    def action(self, time_step: ts.TimeStep, policy_state: Any = (), seed: Any = None) -> Any:
        """Generates actions for a batch of time steps.

        Args:
          time_step: A `TimeStep` of tensors shaped ``[B] + spec.shape`` (or
            ``[B, T] + spec.shape``).
          policy_state: A nest like `policy_state_spec` with outer dim ``[B]``;
            `()` for stateless policies.
          seed: Optional seed for sampling (an int, or a stateless seed).

        Returns:
          `PolicyStep(action, state, info)`: actions shaped
          ``[B] + action_spec.shape`` with the spec's dtypes (clipped to the
          bounds of bounded specs when `clip`), the next state and the info.

        Raises:
          RuntimeError: If the subclass' ``__init__`` did not call
            ``TFPolicy.__init__``.
          ValueError / TypeError: Mismatched structures (with `validate_args`).
          TypeError: An action dtype differs from `action_spec` (with
            `validate_args`).
        """
        if self._enable_functions:
            action_fn = getattr(self, "_action_fn", None)
            if action_fn is None:
                raise RuntimeError(
                    f"Cannot find _action_fn.  Did {type(self).__name__}.__init__ call super?"
                )
        else:
            action_fn = self._action

        if self._validate_args:
            time_step, policy_state = self._validate_inputs(time_step, policy_state, False)
        if self._automatic_state_reset:
            policy_state = self._maybe_reset_state(time_step, policy_state)
        step = action_fn(time_step=time_step, policy_state=policy_state, seed=seed)

        if self._validate_args:
            nest_utils.assert_same_structure(
                step.action,
                self._action_spec,
                message="action and action_spec structures do not match",
            )
        if self._clip:

            def clip_action(action: Any, spec: Any) -> Any:
                if isinstance(spec, tensor_spec.BoundedTensorSpec):
                    return common.clip_to_spec(action, spec)
                return action

            step = step._replace(
                action=tf.nest.map_structure(clip_action, step.action, self._action_spec)
            )
        if self._validate_args:
            nest_utils.assert_same_structure(
                step,
                self._policy_step_spec,
                message="action output and policy_step_spec structures do not match",
            )
            self._check_action_dtypes(step.action)
        return step

    def _check_action_dtypes(self, action: Any) -> None:
        """Raises `TypeError` unless every action leaf has its spec's dtype."""
        action_spec = self.action_spec
        for value, spec in zip(tf.nest.flatten(action), tf.nest.flatten(action_spec)):
            if not tf.as_dtype(value.dtype).is_compatible_with(spec.dtype):
                action_dtypes = tf.nest.map_structure(lambda x: x.dtype, action)
                spec_dtypes = tf.nest.map_structure(lambda x: x.dtype, action_spec)
                raise TypeError(
                    "Policy produced an action with a dtype that doesn't match its "
                    f"action_spec. Got action:\n  {action_dtypes}\n with action_spec:\n"
                    f"  {spec_dtypes}\n action_spec: {action_spec}"
                )

    def distribution(self, time_step: ts.TimeStep, policy_state: Any = ()) -> Any:
        """Returns the action distribution for a batch of time steps.

        Args:
          time_step: As in `action`.
          policy_state: As in `action`.

        Returns:
          `PolicyStep(action, state, info)` whose action is a nest of
          `tfp.distributions.Distribution`s over the actions. With
          `emit_log_probability`, ``info.log_probability`` holds float32
          scalar zeros (placeholders, as in TF-Agents).

        Raises:
          ValueError / TypeError: Mismatched structures (with `validate_args`).
        """
        if self._validate_args:
            time_step, policy_state = self._validate_inputs(time_step, policy_state, True)
        if self._automatic_state_reset:
            policy_state = self._maybe_reset_state(time_step, policy_state)
        step = self._distribution(time_step=time_step, policy_state=policy_state)
        if self._emit_log_probability:
            info = policy_step.set_log_probability(
                step.info,
                tf.nest.map_structure(
                    lambda _: tf.constant(0.0, dtype=tf.float32),
                    policy_step.get_log_probability(self._info_spec),
                ),
            )
            step = step._replace(info=info)
        if self._validate_args:
            nest_utils.assert_same_structure(
                step,
                self._policy_step_spec,
                message="distribution output and policy_step_spec structures do not match",
            )
        return step

    def update(
        self,
        policy: Any,
        tau: float = 1.0,
        tau_non_trainable: float | None = None,
        sort_variables_by_name: bool = False,
    ) -> tf.Operation:
        """Moves this policy's variables towards `policy`'s.

        ``v = (1 - tau) * v + tau * v_source`` for trainable variables,
        `tau_non_trainable` (default `tau`) for the others; ``tau=1`` copies.
        Variables pair up in `variables()` order, or by name when
        `sort_variables_by_name`.

        Args:
          policy: Any policy with a `variables()` method (tfdrive's or
            TF-Agents').
          tau: Float in ``[0, 1]`` for trainable variables.
          tau_non_trainable: Float in ``[0, 1]`` for the others (None: `tau`).
          sort_variables_by_name: Pair variables by sorted name.

        Returns:
          The update op (a no-op when this policy has no variables).

        Raises:
          ValueError: `tau` or `tau_non_trainable` outside ``[0, 1]``, or
            variable lists that do not pair up.
        """
        if self.variables():
            return common.soft_variables_update(
                policy.variables(),
                self.variables(),
                tau=tau,
                tau_non_trainable=tau_non_trainable,
                sort_variables_by_name=sort_variables_by_name,
            )
        return tf.no_op()

    @property
    def emit_log_probability(self) -> bool:
        """Whether `action` emits log-probabilities in its info."""
        return self._emit_log_probability

    @property
    def time_step_spec(self) -> ts.TimeStep:
        """The `TimeStep` of `TensorSpec`s `action` expects (without batch dim)."""
        return self._time_step_spec

    @property
    def action_spec(self) -> Any:
        """The nest of `BoundedTensorSpec`s of the actions."""
        return self._action_spec

    @property
    def policy_state_spec(self) -> Any:
        """The nest of `TensorSpec`s of the policy state (`()` if stateless)."""
        return self._policy_state_spec

    @property
    def info_spec(self) -> Any:
        """The nest of `TensorSpec`s of the info."""
        return self._info_spec

    @property
    def policy_step_spec(self) -> policy_step.PolicyStep:
        """`PolicyStep(action_spec, policy_state_spec, info_spec)`."""
        return self._policy_step_spec

    @property
    def trajectory_spec(self) -> trajectory.Trajectory:
        """The `Trajectory` spec of data collected with this policy."""
        return self._trajectory_spec

    @property
    def collect_data_spec(self) -> trajectory.Trajectory:
        """The spec of the data an agent trains on (the trajectory spec)."""
        return self._trajectory_spec

    def _action(self, time_step: ts.TimeStep, policy_state: Any, seed: Any = None) -> Any:
        """Samples from `_distribution`; adds log-probabilities when asked.

        Each action leaf gets its own seed derived from `seed` (None: unseeded).

        Raises:
          TypeError: With `emit_log_probability`, when a distribution cannot
            compute ``log_prob`` of its sample.
        """
        seed_stream = tfp.util.SeedStream(seed=seed, salt="tf_agents_tf_policy")
        distribution_step = self._distribution(time_step, policy_state)
        actions = tf.nest.map_structure(
            lambda d: _sample(d, seed_stream()), distribution_step.action
        )
        info = distribution_step.info
        if self._emit_log_probability:
            try:
                log_probability = tf.nest.map_structure(
                    lambda a, d: d.log_prob(a), actions, distribution_step.action
                )
                info = policy_step.set_log_probability(info, log_probability)
            except Exception as e:
                raise TypeError(
                    f"{type(self).__name__} does not support emitting log-probabilities."
                ) from e
        return distribution_step._replace(action=actions, info=info)

    def _distribution(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        """Returns a `PolicyStep` whose action is a nest of distributions.

        Subclasses that sample (through the inherited `_action`) or support
        `distribution` implement it.
        """
        raise NotImplementedError()

    def _get_initial_state(self, batch_size: Any | None) -> Any:
        """Zeros per `policy_state_spec` with outer dims ``[batch_size]`` (none if None)."""
        return tensor_spec.zero_spec_nest(
            self._policy_state_spec, outer_dims=None if batch_size is None else [batch_size]
        )


# TF-Agents' PolicySaver and PyTFPolicy accept policies by isinstance.
register_with_tf_agents(TFPolicy, "tf_agents.policies.tf_policy", "TFPolicy")


_UNTRACKED = frozenset(
    {
        "_time_step_spec",
        "_action_spec",
        "_policy_state_spec",
        "_info_spec",
        "_policy_step_spec",
        "_trajectory_spec",
        "_action_fn",
    }
)

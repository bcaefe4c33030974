"""`TFPolicy`: the TensorFlow policy base class.

A `TFPolicy` maps a batched `TimeStep` of tensors (and the policy state) to a
`PolicyStep` of tensors. Subclasses implement `_distribution` (and inherit
sampling) or `_action` directly. `action` and `distribution` wrap them with
input validation, automatic state reset on FIRST steps, clipping and
log-probability emission, so every subclass behaves alike.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf

from tfdrive.policies.py_policy import assert_members_are_not_overridden
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common, nest_utils

__all__ = ["TFPolicy"]


def _reset_where(condition: tf.Tensor, initial: Any, current: Any) -> Any:
    """Picks `initial` where `condition` (shape ``[B]``) is True, else `current`."""

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


_UNTRACKED = frozenset(
    {
        "_time_step_spec",
        "_action_spec",
        "_policy_state_spec",
        "_info_spec",
        "_policy_step_spec",
        "_trajectory_spec",
    }
)


class TFPolicy(tf.Module):
    """Base class of TensorFlow policies (a `tf.Module`).

    Args:
      time_step_spec: A `TimeStep` of `TensorSpec`s (array specs are
        converted) describing one unbatched time step.
      action_spec: A nest of `BoundedTensorSpec`s describing one action.
      policy_state_spec: A nest of `TensorSpec`s for the state, `()` if none.
      info_spec: A nest of `TensorSpec`s for the info, `()` if none.
      clip: Whether `action` clips actions of bounded specs to their bounds.
      emit_log_probability: Whether `action` puts ``log_prob(action)``
        (float32, one per action leaf and batch entry) in
        ``info.log_probability``; `info_spec` then gains a
        ``log_probability`` entry (`BoundedTensorSpec([], float32, -inf, 0)`
        per action leaf).
      automatic_state_reset: Whether `action` / `distribution` replace the
        state of batch entries whose step is FIRST by the initial state.
      observation_and_action_constraint_splitter: Optional callable mapping an
        observation to ``(network_input, mask)``, used by subclasses that
        support action constraints.
      validate_args: Whether `action` / `distribution` prune observation
        dict keys the spec does not name and check input / output
        structures and action dtypes.
      name: The `tf.Module` name.

    Subclasses implement `_distribution` and/or `_action` (and may override
    `_get_initial_state`); redefining a public member such as `action`
    raises `ValueError` at construction, as in TF-Agents.

    Raises:
      ValueError: If `time_step_spec` is not a `TimeStep`, or the subclass
        overrides a public member.
    """

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
        assert_members_are_not_overridden(TFPolicy, self)
        if not isinstance(time_step_spec, ts.TimeStep):
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
        """All variables of the policy (its networks, normalizers, ...)."""
        return super().variables

    @property
    def observation_and_action_constraint_splitter(self) -> Callable[[Any], Any] | None:
        return self._observation_and_action_constraint_splitter

    @property
    def validate_args(self) -> bool:
        """Whether inputs and outputs are validated."""
        return self._validate_args

    def get_initial_state(self, batch_size: Any | None) -> Any:
        """Returns zeros per `policy_state_spec`, shaped ``[batch_size] + spec.shape``.

        Args:
          batch_size: An int or scalar int tensor; None gives unbatched zeros.
        """
        return self._get_initial_state(batch_size)

    def _maybe_reset_state(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        if not common.safe_has_state(policy_state):
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
        time_step = nest_utils.prune_extra_keys(self._time_step_spec, time_step)
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
          seed: Optional seed for sampling.

        Returns:
          `PolicyStep(action, state, info)`: actions shaped
          ``[B] + action_spec.shape`` with the spec's dtypes (clipped when
          `clip`), the next state and the info.

        Raises:
          ValueError / TypeError: Mismatched structures (with `validate_args`).
          TypeError: An action dtype differs from `action_spec`.
        """
        if self._validate_args:
            time_step, policy_state = self._validate_inputs(time_step, policy_state, False)
        if self._automatic_state_reset:
            policy_state = self._maybe_reset_state(time_step, policy_state)
        step = self._action(time_step=time_step, policy_state=policy_state, seed=seed)

        if self._validate_args:
            nest_utils.assert_same_structure(
                step.action,
                self._action_spec,
                message="action and action_spec structures do not match",
            )
            flat_actions = tf.nest.flatten(step.action)
            flat_specs = tf.nest.flatten(self._action_spec)
            if not all(
                tf.as_dtype(a.dtype).is_compatible_with(s.dtype)
                for a, s in zip(flat_actions, flat_specs)
            ):
                action_dtypes = tf.nest.map_structure(lambda x: x.dtype, step.action)
                spec_dtypes = tf.nest.map_structure(lambda x: x.dtype, self._action_spec)
                raise TypeError(
                    "Policy produced an action with a dtype that doesn't match its "
                    f"action_spec. Got action:\n  {action_dtypes}\n with action_spec:\n"
                    f"  {spec_dtypes}\n action_spec: {self._action_spec}"
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
        return step

    def distribution(self, time_step: ts.TimeStep, policy_state: Any = ()) -> Any:
        """Returns the action distribution for a batch of time steps.

        Args:
          time_step: As in `action`.
          policy_state: As in `action`.

        Returns:
          `PolicyStep(action, state, info)` whose action is a nest of
          `tfp.distributions.Distribution`s over the actions. With
          `emit_log_probability`, ``info.log_probability`` holds float32
          zeros (placeholders, as TF-Agents does).
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
        policy: TFPolicy,
        tau: float = 1.0,
        tau_non_trainable: float | None = None,
        sort_variables_by_name: bool = False,
    ) -> tf.Operation:
        """Moves this policy's variables towards `policy`'s.

        ``v = (1 - tau) * v + tau * v_source`` for trainable variables,
        `tau_non_trainable` (default `tau`) for the others; ``tau=1`` copies.
        Variables pair up in `variables()` order, or by name when
        `sort_variables_by_name`.
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
        """Samples from `_distribution`; adds log-probabilities when asked."""
        seeds = _SeedStream(seed)
        distribution_step = self._distribution(time_step, policy_state)
        actions = tf.nest.map_structure(lambda d: d.sample(seed=seeds()), distribution_step.action)
        info = distribution_step.info
        if self._emit_log_probability:
            try:
                log_probability = tf.nest.map_structure(
                    lambda a, d: d.log_prob(a), actions, distribution_step.action
                )
            except Exception as e:
                raise TypeError(
                    f"{type(self).__name__} does not support emitting log-probabilities."
                ) from e
            info = policy_step.set_log_probability(info, log_probability)
        return distribution_step._replace(action=actions, info=info)

    def _distribution(self, time_step: ts.TimeStep, policy_state: Any) -> Any:
        """Returns a `PolicyStep` whose action is a nest of distributions."""
        raise NotImplementedError()

    def _get_initial_state(self, batch_size: Any | None) -> Any:
        return tensor_spec.zero_spec_nest(
            self._policy_state_spec, outer_dims=None if batch_size is None else [batch_size]
        )


class _SeedStream:
    """Derives one seed per sampled action leaf; None stays None (unseeded)."""

    def __init__(self, seed: Any):
        self._seed = seed
        self._count = 0
        if seed is not None:
            import tensorflow_probability as tfp

            self._stream = tfp.util.SeedStream(seed=seed, salt="tf_agents_tf_policy")

    def __call__(self) -> Any:
        if self._seed is None:
            return None
        return self._stream()

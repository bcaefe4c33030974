"""The PPO agent (TF-Agents' `agents.ppo.ppo_agent`).

Proximal Policy Optimization (Schulman et al., 2017,
https://arxiv.org/abs/1707.06347) keeps each policy update close to the policy
that collected the data, so one batch of on-policy experience can be trained
on for several epochs. `PPOAgent` supports both ways the paper constrains the
update, alone or together:

* importance-ratio clipping (eq. 7), on when `importance_ratio_clipping > 0`;
* a KL penalty (eq. 8): an adaptive `beta * KL` term (on when
  `initial_adaptive_kl_beta > 0`) plus a squared penalty on the mean KL above
  `kl_cutoff_factor * adaptive_kl_target` (on when `kl_cutoff_factor > 0`).

`PPOClipAgent` and `PPOKLPenaltyAgent` configure one of the two.

Training data: `[B, T, ...]` trajectories from the collect policy, whose
`policy_info['dist_params']` holds the parameters of the action distributions
at collection time (to compute importance ratios and KL divergences). Returns
are discounted (bootstrapped with the value of the last step); advantages are
`returns - values` or, with `use_gae`, generalized advantage estimates
(https://arxiv.org/abs/1506.02438). Values and advantages are computed either
inside `train` (`compute_value_and_advantage_in_train=True`) or beforehand by
`preprocess_sequence`, which stores `'return'` and `'advantage'` in the
policy info (the way minibatch training works).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any, Sequence

import tensorflow as tf
from absl import logging

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.agents import data_converter, tf_agent
from tfdrive.agents.ppo import ppo_policy, ppo_utils
from tfdrive.policies import actor_policy, greedy_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import (
    common,
    eager_utils,
    nest_utils,
    summaries,
    tensor_normalizer,
    value_ops,
)

__all__ = ["PPOAgent", "PPOLossInfo"]

# The `extra` of the `LossInfo` that `train` returns; scalars of the last epoch.
PPOLossInfo = collections.namedtuple(
    "PPOLossInfo",
    (
        "policy_gradient_loss",
        "value_estimation_loss",
        "l2_regularization_loss",
        "entropy_regularization_loss",
        "kl_penalty_loss",
        "clip_fraction",
    ),
)

# The loss terms `train` summarizes as means over its epochs.
_SUMMARIZED_LOSS_TERMS = PPOLossInfo._fields[:5]


def _loss_terms(extra: PPOLossInfo) -> dict[str, tf.Tensor]:
    """The summarized loss terms of one epoch's `PPOLossInfo`, as float32 scalars by name."""
    return {
        name: tf.convert_to_tensor(getattr(extra, name), tf.float32)
        for name in _SUMMARIZED_LOSS_TERMS
    }


# The adaptive KL coefficient is multiplied (or divided) by this factor when the
# mean KL leaves the tolerance band around the target, and kept within bounds.
_KL_BETA_FACTOR = 1.5
_KL_BETA_MIN = 10e-16
_KL_BETA_MAX = 10e16


def _plain_python(function: Any) -> Any:
    """Keeps autograph out of a helper without tensor-dependent control flow
    (converting it would only slow down tracing a `tf.function(agent.train)`)."""
    return tf.autograph.experimental.do_not_convert(function)


def _normalize_advantages(
    advantages: tf.Tensor, axes: Sequence[int] = (0, 1), variance_epsilon: float = 1e-8
) -> tf.Tensor:
    """`(advantages - mean) / sqrt(var + variance_epsilon)`, moments over `axes`."""
    mean, variance = tf.nn.moments(advantages, axes=list(axes), keepdims=True)
    return tf.nn.batch_normalization(
        advantages, mean, variance, offset=None, scale=None, variance_epsilon=variance_epsilon
    )


def _discount_of(experience: Any) -> tf.Tensor:
    """The discount of a `Trajectory`, or of a `Transition`'s time step."""
    if hasattr(experience, "time_step") and hasattr(experience, "next_time_step"):
        return experience.time_step.discount
    return experience.discount


def _is_trajectory(value: Any) -> bool:
    return hasattr(value, "_fields") and "next_step_type" in value._fields


def _leaf_spec(spec: Any) -> bool:
    return hasattr(spec, "dtype") and hasattr(spec, "shape")


@_plain_python
def _check_against_spec(
    value: Any, spec: Any, allowed_outer_ranks: Sequence[int], name: str = "experience"
) -> None:
    """Checks the structure, dtypes and shapes of `value` against `spec`.

    Every leaf must have the spec's dtype and be shaped `outer_dims +
    spec.shape`, with the same `outer_dims` (of a rank in `allowed_outer_ranks`)
    for all leaves. Mappings may carry keys the spec does not name (they are
    dropped later).

    Raises:
      ValueError: a field is missing, the structure differs, or a shape does
        not match; the message names the field (e.g.
        `experience.policy_info.dist_params.loc`).
      TypeError: a field has another dtype than its spec.
    """
    outer_shapes: list[tuple[str, tf.TensorShape]] = []

    def visit(value: Any, spec: Any, path: str) -> None:
        if isinstance(spec, Mapping):
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"`{path}` must be a mapping with keys {sorted(spec)}, got {type(value)}."
                )
            for key in spec:
                if key not in value:
                    raise ValueError(
                        f"`{path}` lacks the key {key!r} (expected keys {sorted(spec)}, "
                        f"got {sorted(value)})."
                    )
                visit(value[key], spec[key], f"{path}.{key}")
        elif hasattr(spec, "_fields"):
            if getattr(value, "_fields", None) != spec._fields:
                raise ValueError(
                    f"`{path}` must be a {type(spec).__name__} with fields {spec._fields}, "
                    f"got {type(value)}."
                )
            for field in spec._fields:
                visit(getattr(value, field), getattr(spec, field), f"{path}.{field}")
        elif isinstance(spec, (list, tuple)):
            if not isinstance(value, (list, tuple)) or len(value) != len(spec):
                raise ValueError(
                    f"`{path}` must be a sequence of {len(spec)} items matching {spec}, "
                    f"got {value!r}."
                )
            for index, (item, item_spec) in enumerate(zip(value, spec, strict=True)):
                visit(item, item_spec, f"{path}[{index}]")
        elif _leaf_spec(spec):
            if not (hasattr(value, "dtype") and hasattr(value, "shape")):
                raise ValueError(f"`{path}` must be a tensor matching {spec}, got {value!r}.")
            if tf.as_dtype(value.dtype) != spec.dtype:
                raise TypeError(
                    f"`{path}` has dtype {tf.as_dtype(value.dtype).name} but its spec "
                    f"requires {spec.dtype.name} (spec: {spec})."
                )
            shape = tf.TensorShape(value.shape)
            inner = tf.TensorShape(spec.shape)
            if shape.rank is None:
                return
            outer_rank = shape.rank - inner.rank
            if outer_rank not in allowed_outer_ranks or not shape[outer_rank:].is_compatible_with(
                inner
            ):
                dims = " or ".join(str(r) for r in allowed_outer_ranks)
                raise ValueError(
                    f"`{path}` must be shaped [outer dims] + {inner.as_list()} with {dims} "
                    f"outer dims (e.g. [B, T]), got shape {shape.as_list()}."
                )
            outer_shapes.append((path, shape[:outer_rank]))

    visit(value, spec, name)
    if not outer_shapes:
        return
    first_path, first_outer = outer_shapes[0]
    for path, outer in outer_shapes[1:]:
        if not outer.is_compatible_with(first_outer):
            raise ValueError(
                f"`{path}` has outer dims {outer.as_list()} but `{first_path}` has "
                f"{first_outer.as_list()}: all fields must share the same outer dims."
            )


@_plain_python
def _trajectory_fields(transition: Any) -> dict:
    """The `Trajectory` fields of a `Transition` (the check's view of it)."""
    time_step, action_step, next_time_step = transition
    return {
        "step_type": time_step.step_type,
        "observation": time_step.observation,
        "action": action_step.action,
        "policy_info": action_step.info,
        "next_step_type": next_time_step.step_type,
        "reward": next_time_step.reward,
        "discount": next_time_step.discount,
    }


def _weights_times(weights: Any, valid_mask: tf.Tensor) -> tf.Tensor:
    """`weights * valid_mask` for scalar, per-sequence `[B]` or per-step `[B, T]` weights.

    `[B]` weights apply to every step of their sequence (never broadcast along
    the time axis).

    Raises:
      ValueError: the weights have another shape (the message names `weights`).
    """
    weights = tf.cast(weights, tf.float32)
    shape, mask_shape = weights.shape, valid_mask.shape
    if shape.rank == 1 and shape.is_compatible_with(mask_shape[:1]):
        return weights[:, tf.newaxis] * valid_mask
    if shape.rank == 0 or (shape.rank == 2 and shape.is_compatible_with(mask_shape)):
        return weights * valid_mask
    raise ValueError(
        f"`weights` must be a scalar, shaped [B] or shaped [B, T] = {mask_shape.as_list()} "
        f"like the experience, got shape {shape.as_list()}."
    )


# What `_training_batch` prepares from the experience: every tensor `[B, T]`
# (plus inner dims), the same for every epoch.
_TrainingBatch = collections.namedtuple(
    "_TrainingBatch",
    (
        "time_steps",
        "actions",
        "old_act_log_probs",
        "returns",
        "normalized_advantages",
        "old_action_distribution_parameters",
        "weights",
        "old_value_predictions",
        "rewards",
    ),
)


@configurable
class PPOAgent(tf_agent.TFAgent):
    """A PPO agent with importance-ratio clipping and/or a KL penalty.

    Args:
      time_step_spec: the `TimeStep` spec of the environment.
      action_spec: nest of `BoundedTensorSpec`s of the actions.
      optimizer: the optimizer of both networks (`train` raises without one).
      actor_net: a network from observations to a nest of action
        distributions (a legacy `DistributionNetwork` or e.g. a `Sequential`
        emitting distributions).
      value_net: a network from observations to values shaped `[B]`
        (`[B, T]` over sequences).
      greedy_eval: `policy` takes the distributions' modes; otherwise it
        samples like the collect policy.
      importance_ratio_clipping: the epsilon of the clipped surrogate
        objective; 0 disables clipping.
      lambda_value: lambda of GAE.
      discount_factor: the discount of returns (times the steps' discounts).
      entropy_regularization: coefficient of the entropy bonus.
      policy_l2_reg: L2 coefficient of the actor's own kernels.
      value_function_l2_reg: L2 coefficient of the value network's own kernels.
      shared_vars_l2_reg: L2 coefficient of kernels both networks share.
      value_pred_loss_coef: weight of the value loss in the total loss.
      num_epochs: gradient steps per `train` call, all on the same batch.
      use_gae: advantages by GAE; otherwise `returns - values`.
      use_td_lambda_return: (with `use_gae`) the value target is
        `advantages + values` instead of the discounted return.
      normalize_rewards: scale rewards by a streaming estimate of their
        standard deviation (not centred).
      reward_norm_clipping: clip normalized rewards to +/- this (0: no clip).
      normalize_observations: normalize observations by streaming mean and
        variance (networks must then take float32 observations).
      log_prob_clipping: clip the current log-probabilities to +/- this
        (0: no clip).
      kl_cutoff_factor: the KL cutoff is `kl_cutoff_factor *
        adaptive_kl_target`; 0 (or None) disables the cutoff penalty.
      kl_cutoff_coef: coefficient of the squared mean KL above the cutoff.
      initial_adaptive_kl_beta: initial coefficient of the adaptive KL
        penalty; 0 disables it.
      adaptive_kl_target: the mean KL the adaptive penalty aims at.
      adaptive_kl_tolerance: beta is multiplied by 1.5 above `(1 + tol) *
        target` and divided by 1.5 below `(1 - tol) * target`.
      gradient_clipping: clip gradients to this global norm (None: no clip).
      value_clipping: clip the change of value predictions from the
        collected ones to +/- this in the value loss (None: no clip).
      check_numerics: raise `InvalidArgumentError` at the first NaN or inf
        in the losses and ratios (for debugging).
      compute_value_and_advantage_in_train: compute values, returns and
        advantages inside `train`; if False, `preprocess_sequence` must
        compute them first (the collect policy then records value
        predictions) and `training_data_spec` includes them.
      update_normalizers_in_train: update the observation and reward
        normalizers at the end of `train` (False when `train` sees the same
        data several times, e.g. minibatches; call
        `update_observation_normalizer` / `update_reward_normalizer` then).
      aggregate_losses_across_replicas: average per-example losses with
        `common.aggregate_losses` (over the global batch of all replicas);
        otherwise a plain mean of `loss * weights`.
      debug_summaries: write debug summaries (first and last epochs).
      summarize_grads_and_vars: write gradient and variable summaries.
      train_step_counter: the int64 counter incremented once per epoch
        (default: the global step).
      name: the module name (default: the class name).

    Raises:
      TypeError: `actor_net` or `value_net` is not a network.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        optimizer: Any = None,
        actor_net: Any = None,
        value_net: Any = None,
        greedy_eval: bool = True,
        importance_ratio_clipping: float = 0.0,
        lambda_value: float = 0.95,
        discount_factor: float = 0.99,
        entropy_regularization: float = 0.0,
        policy_l2_reg: float = 0.0,
        value_function_l2_reg: float = 0.0,
        shared_vars_l2_reg: float = 0.0,
        value_pred_loss_coef: float = 0.5,
        num_epochs: int = 25,
        use_gae: bool = False,
        use_td_lambda_return: bool = False,
        normalize_rewards: bool = True,
        reward_norm_clipping: float = 10.0,
        normalize_observations: bool = True,
        log_prob_clipping: float = 0.0,
        kl_cutoff_factor: float | None = 2.0,
        kl_cutoff_coef: float = 1000.0,
        initial_adaptive_kl_beta: float = 1.0,
        adaptive_kl_target: float = 0.01,
        adaptive_kl_tolerance: float = 0.3,
        gradient_clipping: float | None = None,
        value_clipping: float | None = None,
        check_numerics: bool = False,
        compute_value_and_advantage_in_train: bool = True,
        update_normalizers_in_train: bool = True,
        aggregate_losses_across_replicas: bool = True,
        debug_summaries: bool = False,
        summarize_grads_and_vars: bool = False,
        train_step_counter: tf.Variable | None = None,
        name: str | None = None,
    ):
        if not actor_policy.is_network(actor_net):
            raise TypeError("actor_net must be an instance of a network.Network.")
        if not actor_policy.is_network(value_net):
            raise TypeError("value_net must be an instance of a network.Network.")
        # Spec compatibility is checked by PPOPolicy below.
        actor_net.create_variables(time_step_spec.observation)
        value_net.create_variables(time_step_spec.observation)

        tf.Module.__init__(self, name=name)

        self._clip_fraction: Any = 0.0
        self._grad_norm: Any = 0.0
        self._optimizer = optimizer
        self._actor_net = actor_net
        self._value_net = value_net
        self._importance_ratio_clipping = importance_ratio_clipping
        self._lambda = lambda_value
        self._discount_factor = discount_factor
        self._entropy_regularization = entropy_regularization
        self._policy_l2_reg = policy_l2_reg
        self._value_function_l2_reg = value_function_l2_reg
        self._shared_vars_l2_reg = shared_vars_l2_reg
        self._value_pred_loss_coef = value_pred_loss_coef
        self._num_epochs = num_epochs
        self._use_gae = use_gae
        self._use_td_lambda_return = use_td_lambda_return
        self._reward_norm_clipping = reward_norm_clipping
        self._log_prob_clipping = log_prob_clipping
        # None (PPOKLPenaltyAgent's default) disables the cutoff like 0 does.
        self._kl_cutoff_factor = kl_cutoff_factor or 0.0
        self._kl_cutoff_coef = kl_cutoff_coef
        self._adaptive_kl_target = adaptive_kl_target
        self._adaptive_kl_tolerance = adaptive_kl_tolerance
        self._gradient_clipping = gradient_clipping or 0.0
        self._value_clipping = value_clipping or 0.0
        self._check_numerics = check_numerics
        self._compute_value_and_advantage_in_train = compute_value_and_advantage_in_train
        self._aggregate_losses_across_replicas = aggregate_losses_across_replicas
        self.update_normalizers_in_train = update_normalizers_in_train
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            logging.warning(
                "Only tf.keras.optimizers.Optimiers are well supported, got a "
                "non-TF2 optimizer: %s",
                optimizer,
            )

        self._initial_adaptive_kl_beta = initial_adaptive_kl_beta
        self._adaptive_kl_beta = None
        if initial_adaptive_kl_beta > 0.0:
            self._adaptive_kl_beta = common.create_variable(
                "adaptive_kl_beta", initial_adaptive_kl_beta, dtype=tf.float32
            )

        self._reward_normalizer = None
        if normalize_rewards:
            self._reward_normalizer = tensor_normalizer.StreamingTensorNormalizer(
                tensor_spec.TensorSpec([], tf.float32), scope="normalize_reward"
            )
        self._observation_normalizer = None
        if normalize_observations:
            self._observation_normalizer = tensor_normalizer.StreamingTensorNormalizer(
                time_step_spec.observation, scope="normalize_observations"
            )

        policy = ppo_policy.PPOPolicy(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            actor_network=actor_net,
            value_network=value_net,
            observation_normalizer=self._observation_normalizer,
            clip=False,
            collect=False,
        )
        if greedy_eval:
            policy = greedy_policy.GreedyPolicy(policy)
        collect_policy = ppo_policy.PPOPolicy(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            actor_network=actor_net,
            value_network=value_net,
            observation_normalizer=self._observation_normalizer,
            clip=False,
            collect=True,
            compute_value_and_advantage_in_train=compute_value_and_advantage_in_train,
        )

        self._legacy_distribution_network = actor_policy.is_distribution_network(actor_net)
        if self._legacy_distribution_network:
            self._action_distribution_spec = actor_net.output_spec
        else:
            self._action_distribution_spec = actor_net.create_variables(time_step_spec.observation)

        # Trained on preprocessed data, the policy info gains the return and
        # the advantage that `preprocess_sequence` stores.
        training_data_spec = None
        if not compute_value_and_advantage_in_train:
            collected = collect_policy.trajectory_spec
            training_policy_info = dict(collected.policy_info)
            training_policy_info["return"] = tensor_spec.TensorSpec(shape=[], dtype=tf.float32)
            training_policy_info["advantage"] = tensor_spec.TensorSpec(shape=[], dtype=tf.float32)
            training_data_spec = collected._replace(policy_info=training_policy_info)

        super().__init__(
            time_step_spec,
            action_spec,
            policy,
            collect_policy,
            train_sequence_length=None,
            training_data_spec=training_data_spec,
            debug_summaries=debug_summaries,
            summarize_grads_and_vars=summarize_grads_and_vars,
            train_step_counter=train_step_counter,
        )
        # Built after the base class set the data contexts up.
        self._collected_as_transition = data_converter.AsTransition(
            self.collect_data_context, squeeze_time_dim=False
        )
        self._as_trajectory = data_converter.AsTrajectory(self.data_context, sequence_length=None)

    @property
    def actor_net(self) -> Any:
        """The actor network."""
        return self._actor_net

    def _initialize(self) -> None:
        return None

    # Returns and advantages.

    def compute_advantages(
        self, rewards: tf.Tensor, returns: tf.Tensor, discounts: tf.Tensor, value_preds: tf.Tensor
    ) -> tf.Tensor:
        """Advantages of `T` steps: GAE or `returns - values`.

        Args:
          rewards: float32 `[B, T]` rewards.
          returns: float32 `[B, T]` discounted returns.
          discounts: float32 `[B, T]` discounts (0 ends an episode).
          value_preds: float32 `[B, T + 1]` values; the last one only
            bootstraps.

        Returns:
          float32 `[B, T]` advantages.
        """
        value_preds = value_preds[:, :-1]
        if self._use_gae:
            # The final value of GAE is the value of step T - 1 (as in
            # TF-Agents): after the last step the data holds no value.
            return value_ops.generalized_advantage_estimation(
                values=value_preds,
                final_value=value_preds[:, -1],
                rewards=rewards,
                discounts=discounts,
                td_lambda=self._lambda,
                time_major=False,
            )
        with tf.name_scope("empirical_advantage"):
            return returns - value_preds

    def compute_return_and_advantage(
        self, next_time_steps: Any, value_preds: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Discounted returns and advantages of `T` transitions.

        Rewards are normalized first (when `normalize_rewards`); discounts are
        `discount_factor * next_time_steps.discount`, zeroed at LAST steps so
        that returns restart at episode ends. The last value bootstraps the
        return of an unfinished episode.

        Args:
          next_time_steps: the `[B, T]` time steps after each action.
          value_preds: float32 `[B, T + 1]` value predictions.

        Returns:
          `(returns, advantages)`, float32 `[B, T]` each.
        """
        discounts = next_time_steps.discount * tf.constant(self._discount_factor, tf.float32)
        rewards = next_time_steps.reward
        if self._debug_summaries:
            summaries.histogram("rewards", rewards, self.train_step_counter)
            summaries.scalar("rewards_mean", tf.reduce_mean(rewards), self.train_step_counter)
        if self._reward_normalizer:
            rewards = self._reward_normalizer.normalize(
                rewards, center_mean=False, clip_value=self._reward_norm_clipping
            )
            if self._debug_summaries:
                summaries.histogram("rewards_normalized", rewards, self.train_step_counter)
                summaries.scalar(
                    "rewards_normalized_mean", tf.reduce_mean(rewards), self.train_step_counter
                )

        discounts *= common.get_episode_mask(next_time_steps)
        returns = value_ops.discounted_return(
            rewards, discounts, time_major=False, final_value=value_preds[:, -1]
        )
        if self._debug_summaries:
            summaries.histogram("returns", returns, self.train_step_counter)

        advantages = self.compute_advantages(rewards, returns, discounts, value_preds)
        if self._debug_summaries:
            summaries.histogram("advantages", advantages, self.train_step_counter)

        if self._use_td_lambda_return:
            if not self._use_gae:
                logging.warning(
                    "use_td_lambda_return was True, but use_gae was False. Using Monte Carlo "
                    "return."
                )
            else:
                returns = tf.add(advantages, value_preds[:, :-1], name="td_lambda_returns")
        return returns, advantages

    def _preprocess(self, experience: Any) -> Any:
        """Fills `policy_info` with values, returns and advantages.

        Args:
          experience: a `Trajectory` matching `collect_data_spec`, shaped
            `[B, T + 1, ...]` or `[T + 1, ...]`: the last step only provides
            the value that bootstraps the returns.

        Returns:
          `experience` whose `policy_info` is `{'dist_params',
          'value_prediction', 'return', 'advantage'}`; return and advantage
          of the last step are 0 (which masks it out of training).

        Raises:
          ValueError: fewer than 2 steps, or experience not matching
            `collect_data_spec` (the message names the field).
          TypeError: a field's dtype differs from its spec.
        """
        if _is_trajectory(experience):
            _check_against_spec(experience, self.collect_data_spec, allowed_outer_ranks=(1, 2))
        outer_rank = nest_utils.get_outer_rank(
            _discount_of(experience), self.collect_data_spec.discount
        )
        batched = nest_utils.batch_nested_tensors(experience) if outer_rank == 1 else experience
        num_steps = _discount_of(batched).shape[1]
        if num_steps and num_steps <= 1:
            raise ValueError("Experience used for advantage calculation must have >1 num_steps.")

        _, _, next_time_steps = self._collected_as_transition(batched)
        batch_size = nest_utils.get_outer_shape(batched.discount, self.collect_data_spec.discount)[
            0
        ]
        if self._compute_value_and_advantage_in_train:
            value_preds, _ = self._collect_policy.apply_value_network(
                batched.observation,
                batched.step_type,
                value_state=self._collect_policy.get_initial_value_state(batch_size),
                training=False,
            )
            value_preds = tf.stop_gradient(value_preds)
        else:
            value_preds = batched.policy_info["value_prediction"]

        returns, advantages = self.compute_return_and_advantage(next_time_steps, value_preds)
        # The last step has no return or advantage: padded with zeros so that
        # the time dims stay aligned (to_transition drops it at train time).
        padding = tf.zeros((batch_size, 1), dtype=tf.float32)
        policy_info = {
            "dist_params": batched.policy_info["dist_params"],
            "value_prediction": value_preds,
            "return": tf.concat([returns, padding], axis=1),
            "advantage": tf.concat([advantages, padding], axis=1),
        }
        if outer_rank == 1:
            policy_info = nest_utils.unbatch_nested_tensors(policy_info)
        return experience._replace(policy_info=policy_info)

    def _preprocess_sequence(self, experience: Any) -> Any:
        """`_preprocess` unless values and advantages are computed in `train`."""
        if self._compute_value_and_advantage_in_train:
            return experience
        return self._preprocess(experience)

    # Training.

    def _checked_trajectory(self, experience: Any) -> Any:
        """`experience` (a `Trajectory` or `Transition`) as a validated `[B, T]` `Trajectory`.

        Raises:
          ValueError, TypeError: as `_check_against_spec`, naming the field.
        """
        fields: Any = experience
        spec: Any = self.data_context.trajectory_spec
        if not _is_trajectory(experience) and hasattr(experience, "action_step"):
            fields = _trajectory_fields(experience)
            spec = dict(spec._asdict())
        _check_against_spec(fields, spec, allowed_outer_ranks=(2,))
        return self._as_trajectory(experience)

    def _training_batch(self, experience: Any, weights: Any) -> _TrainingBatch:
        """Everything the epochs train on, computed once from the experience."""
        experience = self._checked_trajectory(experience)
        if self._compute_value_and_advantage_in_train:
            experience = self._preprocess(experience)

        valid_mask = ppo_utils.make_trajectory_mask(experience)
        masked_weights = valid_mask if weights is None else _weights_times(weights, valid_mask)

        old_params = experience.policy_info["dist_params"]
        old_distributions = ppo_utils.distribution_from_spec(
            self._action_distribution_spec,
            old_params,
            legacy_distribution_network=self._legacy_distribution_network,
        )
        old_act_log_probs = common.log_probability(
            old_distributions, experience.action, self._action_spec
        )
        if self._debug_summaries:
            actions = tf.nest.flatten(experience.action)
            for index, action in enumerate(actions):
                name = f"actions_{index}" if len(actions) != 1 else "actions"
                summaries.histogram(name, action, self.train_step_counter)

        time_steps = ts.TimeStep(
            step_type=experience.step_type,
            reward=experience.reward,
            discount=experience.discount,
            observation=experience.observation,
        )
        normalized_advantages = _normalize_advantages(experience.policy_info["advantage"])
        if self._debug_summaries:
            summaries.histogram(
                "advantages_normalized", normalized_advantages, self.train_step_counter
            )
        return _TrainingBatch(
            time_steps=time_steps,
            actions=experience.action,
            old_act_log_probs=old_act_log_probs,
            returns=experience.policy_info["return"],
            normalized_advantages=normalized_advantages,
            old_action_distribution_parameters=old_params,
            weights=masked_weights,
            old_value_predictions=experience.policy_info["value_prediction"],
            rewards=experience.reward,
        )

    def _variables_to_train(self) -> list:
        """The trainable variables of both networks, each once, sorted by name.

        The fixed order keeps gradients aligned across replicas.
        """
        unique: dict[int, Any] = {}
        for variable in list(self._actor_net.trainable_weights) + list(
            self._value_net.trainable_weights
        ):
            unique.setdefault(id(variable), variable)
        return sorted(unique.values(), key=lambda v: v.name)

    def _epoch_loss(self, batch: _TrainingBatch, debug_summaries: bool, training: bool) -> Any:
        return self.get_loss(
            batch.time_steps,
            batch.actions,
            batch.old_act_log_probs,
            batch.returns,
            batch.normalized_advantages,
            batch.old_action_distribution_parameters,
            batch.weights,
            self.train_step_counter,
            debug_summaries,
            old_value_predictions=batch.old_value_predictions,
            training=training,
        )

    def _train(self, experience: Any, weights: Any) -> tf_agent.LossInfo:
        """`num_epochs` gradient steps on one batch; then the KL beta and normalizers.

        Inside a `tf.function` the middle epochs run in one `tf.while_loop`,
        so the trace holds two or three epochs however large `num_epochs`
        is (tracing ten unrolled epochs took most of a short run's training
        time). The maths and the order of the updates are those of a Python
        loop over the epochs; the first epoch stays unrolled, so the
        optimizer can create its slots outside the loop, and so does the
        last one when it writes debug summaries.

        Raises:
          ValueError: no optimizer, or experience not matching
            `training_data_spec` (the message names the field).
          TypeError: a field's dtype differs from its spec.
        """
        if self._optimizer is None:
            raise ValueError("Optimizer is undefined.")
        batch = self._training_batch(experience, weights)
        variables_to_train = self._variables_to_train()
        last_epoch = self._num_epochs - 1

        def train_epoch(epoch: int) -> tf_agent.LossInfo:
            with tf.name_scope(f"epoch_{epoch}"):
                # Debug summaries of the first and last epochs only.
                debug_summaries = self._debug_summaries and epoch in (0, last_epoch)
                return self._train_epoch(batch, variables_to_train, debug_summaries)

        loss_info = None
        loss_sums = None
        if self._num_epochs > 0:
            loss_info = train_epoch(0)
            loss_sums = _loss_terms(loss_info.extra)
        # Epochs [1, loop_end) go in the graph loop; the rest unrolled.
        loop_end = last_epoch if self._debug_summaries else self._num_epochs
        if (
            loss_info is not None
            and loss_sums is not None
            and loop_end - 1 >= 2
            and self._epochs_in_graph_loop()
        ):
            loss_info, loss_sums = self._train_epochs_in_loop(
                batch, variables_to_train, loss_info, loss_sums, loop_end - 1
            )
            epochs_left = range(loop_end, self._num_epochs)
        else:
            epochs_left = range(1, self._num_epochs)
        for epoch in epochs_left:
            loss_info = train_epoch(epoch)
            loss_sums = tf.nest.map_structure(tf.add, loss_sums, _loss_terms(loss_info.extra))

        if self._initial_adaptive_kl_beta > 0:
            # The KL of the updated policy from the collecting one sets beta.
            policy_state = self._collect_policy.get_initial_state(
                nest_utils.get_outer_shape(batch.time_steps, self._time_step_spec)[0]
            )
            kl_divergence = self._kl_divergence(
                batch.time_steps,
                batch.old_action_distribution_parameters,
                self._collect_policy.distribution(batch.time_steps, policy_state).action,
            )
            self.update_adaptive_kl_beta(kl_divergence * batch.weights)

        if self.update_normalizers_in_train:
            self.update_observation_normalizer(batch.time_steps.observation)
            self.update_reward_normalizer(batch.rewards)

        loss_info = tf.nest.map_structure(tf.identity, loss_info)
        self._summarize_epochs(loss_sums, self._num_epochs)
        return loss_info

    def _epochs_in_graph_loop(self) -> bool:
        """Whether `_train` may run epochs in a `tf.while_loop`.

        Only while tracing a graph (eagerly a Python loop costs nothing
        extra) and outside distribution strategies, whose cross-replica
        gradient reduction does not belong inside a while loop body.
        """
        return not tf.executing_eagerly() and not tf.distribute.has_strategy()

    def _train_epochs_in_loop(
        self,
        batch: _TrainingBatch,
        variables_to_train: list,
        loss_info: tf_agent.LossInfo,
        loss_sums: dict[str, tf.Tensor],
        num_epochs: int,
    ) -> tuple[tf_agent.LossInfo, dict[str, tf.Tensor]]:
        """`num_epochs` more epochs in one `tf.while_loop`, without debug summaries.

        Returns:
          The `LossInfo` of the last of them and `loss_sums` plus their loss
          terms (float32 scalars).
        """
        loss_info = tf.nest.map_structure(tf.convert_to_tensor, loss_info)

        def body(epoch, _, sums):
            epoch_loss_info = tf.nest.map_structure(
                tf.convert_to_tensor,
                self._train_epoch(batch, variables_to_train, debug_summaries=False),
            )
            sums = tf.nest.map_structure(tf.add, sums, _loss_terms(epoch_loss_info.extra))
            return epoch + 1, epoch_loss_info, sums

        with tf.name_scope("epochs"):
            _, loss_info, loss_sums = tf.while_loop(
                lambda epoch, *_: epoch < num_epochs,
                body,
                (tf.constant(0), loss_info, loss_sums),
                maximum_iterations=num_epochs,
            )
        return loss_info, loss_sums

    def _train_epoch(
        self, batch: _TrainingBatch, variables_to_train: list, debug_summaries: bool
    ) -> tf_agent.LossInfo:
        """One gradient step on the whole batch; its `LossInfo`."""
        with tf.GradientTape() as tape:
            loss_info = self._epoch_loss(batch, debug_summaries, training=True)
        grads = tape.gradient(loss_info.loss, variables_to_train)
        if self._gradient_clipping > 0:
            grads, _ = tf.clip_by_global_norm(grads, self._gradient_clipping)
        self._grad_norm = tf.linalg.global_norm(grads)
        grads_and_vars = tuple(zip(grads, variables_to_train, strict=True))
        if self._summarize_grads_and_vars and debug_summaries:
            for grad, variable in grads_and_vars:
                if grad is None:
                    continue
                if isinstance(grad, tf.IndexedSlices):
                    grad = grad.values
                name = variable.name.replace(":", "_")
                summaries.histogram(f"{name}_gradient", grad, self.train_step_counter)
                summaries.scalar(
                    f"{name}_gradient_norm",
                    tf.linalg.global_norm([grad]),
                    self.train_step_counter,
                )
                summaries.histogram(f"{name}_value", variable, self.train_step_counter)
        self._optimizer.apply_gradients(grads_and_vars)
        self.train_step_counter.assign_add(1)
        return loss_info

    def _summarize_epochs(self, loss_sums: dict[str, tf.Tensor] | None, num_epochs: int) -> None:
        """Loss summaries averaged over the epochs, the learning rate, the variables."""
        step = self.train_step_counter
        if eager_utils.summaries_recorded() and loss_sums is not None and num_epochs:
            with tf.name_scope("Losses/"):
                means = {name: total / num_epochs for name, total in loss_sums.items()}
                for name, mean in means.items():
                    summaries.scalar(name, mean, step)
                summaries.scalar(
                    "total_abs_loss", tf.add_n([tf.abs(m) for m in means.values()]), step
                )
            with tf.name_scope("LearningRate/"):
                summaries.scalar(
                    "learning_rate", ppo_utils.get_learning_rate(self._optimizer), step
                )
            if self._summarize_grads_and_vars:
                with tf.name_scope("Variables/"):
                    for variable in list(self._actor_net.trainable_weights) + list(
                        self._value_net.trainable_weights
                    ):
                        summaries.histogram(variable.name.replace(":", "_"), variable, step)

    def _loss(
        self, experience: Any, weights: Any, training: bool = False, **kwargs: Any
    ) -> tf_agent.LossInfo:
        """The loss of one epoch on `experience`, updating nothing.

        An addition to TF-Agents' PPO agent, which has no `loss`: the same
        `LossInfo` the first epoch of `train` computes.
        """
        del kwargs
        return self._epoch_loss(
            self._training_batch(experience, weights), debug_summaries=False, training=training
        )

    def update_observation_normalizer(self, batched_observations: Any) -> None:
        """Updates the observation normalizer with `[B, T, ...]` observations."""
        if self._observation_normalizer:
            self._observation_normalizer.update(batched_observations, outer_dims=[0, 1])

    def update_reward_normalizer(self, batched_rewards: tf.Tensor) -> None:
        """Updates the reward normalizer with `[B, T]` rewards."""
        if self._reward_normalizer:
            self._reward_normalizer.update(batched_rewards, outer_dims=[0, 1])

    # Losses.

    def get_loss(
        self,
        time_steps: Any,
        actions: Any,
        act_log_probs: tf.Tensor,
        returns: tf.Tensor,
        normalized_advantages: tf.Tensor,
        action_distribution_parameters: Any,
        weights: tf.Tensor,
        train_step: tf.Variable,
        debug_summaries: bool,
        old_value_predictions: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf_agent.LossInfo:
        """The total loss of one epoch and its terms.

        Args:
          time_steps: `TimeStep` of `[B, T]` (or `[B]`) tensors.
          actions: the actions taken, same outer dims.
          act_log_probs: their log-probabilities under the collect policy.
          returns: float32 targets of the value network.
          normalized_advantages: float32 advantages.
          action_distribution_parameters: the collect policy's distribution
            parameters (for the KL penalty).
          weights: float32 per-step weights, 0 for steps to ignore.
          train_step: unused (the agent's `train_step_counter` is used).
          debug_summaries: write debug summaries.
          old_value_predictions: the collected values (for value clipping).
          training: passed to the networks.

        Returns:
          `LossInfo(total_loss, PPOLossInfo(...))` of scalars.
        """
        del train_step
        batch_size = nest_utils.get_outer_shape(time_steps, self._time_step_spec)[0]
        policy_state = self._collect_policy.get_initial_state(batch_size)
        # `_distribution` passes `training` on to the networks.
        current_policy_distribution = self._collect_policy._distribution(
            time_steps, policy_state, training=training
        ).action

        value_estimation_loss = self.value_estimation_loss(
            time_steps=time_steps,
            returns=returns,
            old_value_predictions=old_value_predictions,
            weights=weights,
            debug_summaries=debug_summaries,
            training=training,
        )
        policy_gradient_loss = self.policy_gradient_loss(
            time_steps,
            actions,
            tf.stop_gradient(act_log_probs),
            tf.stop_gradient(normalized_advantages),
            current_policy_distribution,
            weights,
            debug_summaries=debug_summaries,
        )
        if (
            self._policy_l2_reg > 0
            or self._value_function_l2_reg > 0
            or self._shared_vars_l2_reg > 0
        ):
            l2_regularization_loss = self.l2_regularization_loss(debug_summaries)
        else:
            l2_regularization_loss = tf.zeros_like(policy_gradient_loss)

        with tf.name_scope("entropy_regularization"):
            outer_rank = nest_utils.get_outer_rank(time_steps, self.time_step_spec)
            entropy = common.entropy(current_policy_distribution, self.action_spec, outer_rank)
            if entropy is None:
                entropy = tf.zeros_like(weights, tf.float32)
            else:
                entropy = tf.cast(entropy, tf.float32)
        if self._entropy_regularization > 0:
            entropy_regularization_loss = self.entropy_regularization_loss(
                time_steps, entropy, weights, debug_summaries
            )
        else:
            entropy_regularization_loss = tf.zeros_like(policy_gradient_loss)
        with tf.name_scope("Losses/"):
            summaries.scalar("entropy", tf.reduce_mean(entropy * weights), self.train_step_counter)

        if self._initial_adaptive_kl_beta == 0 and self._kl_cutoff_factor == 0:
            kl_penalty_loss = tf.zeros_like(policy_gradient_loss)
        else:
            kl_penalty_loss = self.kl_penalty_loss(
                time_steps,
                action_distribution_parameters,
                current_policy_distribution,
                weights,
                debug_summaries,
            )

        total_loss = (
            policy_gradient_loss
            + value_estimation_loss
            + l2_regularization_loss
            + entropy_regularization_loss
            + kl_penalty_loss
        )
        return tf_agent.LossInfo(
            total_loss,
            PPOLossInfo(
                policy_gradient_loss=policy_gradient_loss,
                value_estimation_loss=value_estimation_loss,
                l2_regularization_loss=l2_regularization_loss,
                entropy_regularization_loss=entropy_regularization_loss,
                kl_penalty_loss=kl_penalty_loss,
                clip_fraction=self._clip_fraction,
            ),
        )

    def _weighted_mean(self, per_step_loss: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """Mean of `per_step_loss * weights` (over the global batch across replicas)."""
        if self._aggregate_losses_across_replicas:
            return common.aggregate_losses(
                per_example_loss=per_step_loss, sample_weight=weights
            ).total_loss
        return tf.math.reduce_mean(per_step_loss * weights)

    def l2_regularization_loss(self, debug_summaries: bool = False) -> tf.Tensor:
        """L2 penalty of the networks' kernels: own actor, own value, shared.

        Returns:
          A float32 scalar (0 when every coefficient is 0).
        """
        if not (
            self._policy_l2_reg > 0
            or self._value_function_l2_reg > 0
            or self._shared_vars_l2_reg > 0
        ):
            return tf.constant(0.0, dtype=tf.float32, name="zero_l2_loss")
        with tf.name_scope("l2_regularization"):
            actor_kernels = [v for v in self._actor_net.trainable_weights if "kernel" in v.name]
            value_kernels = [v for v in self._value_net.trainable_weights if "kernel" in v.name]
            actor_only, value_only, shared = common.extract_shared_variables(
                actor_kernels, value_kernels
            )
            l2_losses = [
                common.aggregate_losses(regularization_loss=tf.square(v)).regularization
                * coefficient
                for variables, coefficient in (
                    (actor_only, self._policy_l2_reg),
                    (value_only, self._value_function_l2_reg),
                    (shared, self._shared_vars_l2_reg),
                )
                for v in variables
            ]
            total_l2_loss = tf.add_n(l2_losses, name="l2_loss")
            if self._check_numerics:
                total_l2_loss = tf.debugging.check_numerics(total_l2_loss, "total_l2_loss")
            if debug_summaries:
                summaries.histogram("l2_loss", total_l2_loss, self.train_step_counter)
        return total_l2_loss

    def entropy_regularization_loss(
        self, time_steps: Any, entropy: tf.Tensor, weights: tf.Tensor, debug_summaries: bool = False
    ) -> tf.Tensor:
        """`-entropy_regularization * mean(entropy * weights)`; a float32 scalar."""
        if self._entropy_regularization <= 0:
            return tf.constant(0.0, dtype=tf.float32, name="zero_entropy_reg_loss")
        nest_utils.assert_same_structure(time_steps, self.time_step_spec)
        with tf.name_scope("entropy_regularization"):
            entropy_reg_loss = self._weighted_mean(-entropy, weights) * self._entropy_regularization
            if self._check_numerics:
                entropy_reg_loss = tf.debugging.check_numerics(entropy_reg_loss, "entropy_reg_loss")
            if debug_summaries:
                summaries.histogram("entropy_reg_loss", entropy_reg_loss, self.train_step_counter)
        return entropy_reg_loss

    def value_estimation_loss(
        self,
        time_steps: Any,
        returns: tf.Tensor,
        weights: tf.Tensor,
        old_value_predictions: tf.Tensor | None = None,
        debug_summaries: bool = False,
        training: bool = False,
    ) -> tf.Tensor:
        """`value_pred_loss_coef * mean((returns - values)^2 * weights)`.

        With value clipping the squared error is the larger of the plain one
        and the one of `old + clip(values - old, -c, c)`.

        Args:
          time_steps: `TimeStep` of `[B, T]` (or `[B]`) tensors.
          returns: float32 targets shaped like the outer dims.
          weights: float32 per-step weights.
          old_value_predictions: the collected values; required with value
            clipping.
          debug_summaries: write debug summaries.
          training: passed to the value network.

        Returns:
          A float32 scalar.

        Raises:
          ValueError: value clipping without `old_value_predictions`.
        """
        step = self.train_step_counter
        if debug_summaries:
            observations = tf.nest.flatten(time_steps.observation)
            for index, observation in enumerate(observations):
                name = f"observations_{index}" if len(observations) != 1 else "observations"
                summaries.histogram(name, observation, step)

        batch_size = nest_utils.get_outer_shape(time_steps, self._time_step_spec)[0]
        value_preds, _ = self._collect_policy.apply_value_network(
            time_steps.observation,
            time_steps.step_type,
            value_state=self._collect_policy.get_initial_value_state(batch_size),
            training=training,
        )
        value_estimation_error = tf.math.squared_difference(returns, value_preds)
        if self._value_clipping > 0:
            if old_value_predictions is None:
                raise ValueError("old_value_predictions is None but needed for value clipping.")
            clipped_value_preds = old_value_predictions + tf.clip_by_value(
                value_preds - old_value_predictions, -self._value_clipping, self._value_clipping
            )
            value_estimation_error = tf.maximum(
                value_estimation_error, tf.math.squared_difference(returns, clipped_value_preds)
            )
        value_estimation_loss = (
            self._weighted_mean(value_estimation_error, weights) * self._value_pred_loss_coef
        )
        if debug_summaries:
            summaries.scalar("value_pred_avg", tf.reduce_mean(value_preds), step)
            summaries.scalar("value_actual_avg", tf.reduce_mean(returns), step)
            summaries.scalar("value_estimation_loss", value_estimation_loss, step)
            summaries.histogram("value_preds", value_preds, step)
            summaries.histogram("value_estimation_error", value_estimation_error, step)
        if self._check_numerics:
            value_estimation_loss = tf.debugging.check_numerics(
                value_estimation_loss, "value_estimation_loss"
            )
        return value_estimation_loss

    def policy_gradient_loss(
        self,
        time_steps: Any,
        actions: Any,
        sample_action_log_probs: tf.Tensor,
        advantages: tf.Tensor,
        current_policy_distribution: Any,
        weights: tf.Tensor,
        debug_summaries: bool = False,
    ) -> tf.Tensor:
        """The (clipped) surrogate objective, negated: a float32 scalar.

        With `r = exp(log_prob - sample_log_prob)`, the per-step loss is
        `-min(r * A, clip(r, 1 - eps, 1 + eps) * A)` when clipping, else
        `-r * A`. Also sets the clip fraction (share of steps with
        `|r - 1| > eps`) that `get_loss` reports.

        Args:
          time_steps: `TimeStep` of the steps.
          actions: the actions taken.
          sample_action_log_probs: float32 log-probabilities at collection.
          advantages: float32 advantages.
          current_policy_distribution: the current action distributions.
          weights: float32 per-step weights.
          debug_summaries: write debug summaries.
        """
        nest_utils.assert_same_structure(time_steps, self.time_step_spec)
        step = self.train_step_counter
        action_log_prob = tf.cast(
            common.log_probability(current_policy_distribution, actions, self._action_spec),
            tf.float32,
        )
        if self._log_prob_clipping > 0.0:
            action_log_prob = tf.clip_by_value(
                action_log_prob, -self._log_prob_clipping, self._log_prob_clipping
            )
        if self._check_numerics:
            action_log_prob = tf.debugging.check_numerics(action_log_prob, "action_log_prob")

        importance_ratio = tf.exp(action_log_prob - sample_action_log_probs)
        importance_ratio_clipped = tf.clip_by_value(
            importance_ratio,
            1 - self._importance_ratio_clipping,
            1 + self._importance_ratio_clipping,
        )
        if self._check_numerics:
            importance_ratio = tf.debugging.check_numerics(importance_ratio, "importance_ratio")
            if self._importance_ratio_clipping > 0.0:
                importance_ratio_clipped = tf.debugging.check_numerics(
                    importance_ratio_clipped, "importance_ratio_clipped"
                )

        per_timestep_objective = importance_ratio * advantages
        per_timestep_objective_clipped = importance_ratio_clipped * advantages
        # Pessimistic: the smaller of the clipped and unclipped objectives.
        per_timestep_objective_min = tf.minimum(
            per_timestep_objective, per_timestep_objective_clipped
        )
        if self._importance_ratio_clipping > 0.0:
            per_step_loss = -per_timestep_objective_min
        else:
            per_step_loss = -per_timestep_objective
        policy_gradient_loss = self._weighted_mean(per_step_loss, weights)

        if self._importance_ratio_clipping > 0.0:
            self._clip_fraction = tf.reduce_mean(
                tf.cast(
                    tf.greater(tf.abs(importance_ratio - 1.0), self._importance_ratio_clipping),
                    tf.float32,
                )
            )

        if debug_summaries:
            if self._importance_ratio_clipping > 0.0:
                summaries.scalar("clip_fraction", self._clip_fraction, step)
            summaries.scalar("importance_ratio_mean", tf.reduce_mean(importance_ratio), step)
            entropy = common.entropy(current_policy_distribution, self.action_spec)
            if entropy is not None:
                summaries.scalar("policy_entropy_mean", tf.reduce_mean(entropy), step)
                summaries.histogram("policy_entropy", entropy, step)
            for name, data in (
                ("action_log_prob", action_log_prob),
                ("action_log_prob_sample", sample_action_log_probs),
                ("importance_ratio", importance_ratio),
                ("importance_ratio_clipped", importance_ratio_clipped),
                ("per_timestep_objective", per_timestep_objective),
                ("per_timestep_objective_clipped", per_timestep_objective_clipped),
                ("per_timestep_objective_min", per_timestep_objective_min),
            ):
                summaries.histogram(name, data, step)
            for index, (spec, distribution) in enumerate(
                zip(
                    tf.nest.flatten(self.action_spec),
                    tf.nest.flatten(current_policy_distribution),
                    strict=True,
                )
            ):
                # Categorical distributions (discrete actions) have no mean.
                if tensor_spec.is_discrete(spec):
                    continue
                suffix = f"_{index}" if index > 0 else ""
                summaries.histogram(f"actions_distribution_mean{suffix}", distribution.mean(), step)
                summaries.histogram(
                    f"actions_distribution_stddev{suffix}", distribution.stddev(), step
                )
            summaries.histogram("policy_gradient_loss", policy_gradient_loss, step)

        if self._check_numerics:
            policy_gradient_loss = tf.debugging.check_numerics(
                policy_gradient_loss, "policy_gradient_loss"
            )
        return policy_gradient_loss

    def kl_cutoff_loss(self, kl_divergence: tf.Tensor, debug_summaries: bool = False) -> tf.Tensor:
        """`kl_cutoff_coef * max(mean(kl) - cutoff, 0)^2`; a float32 scalar."""
        if self._kl_cutoff_factor <= 0.0:
            return tf.constant(0.0, dtype=tf.float32, name="zero_kl_cutoff_loss")
        kl_cutoff = self._kl_cutoff_factor * self._adaptive_kl_target
        mean_kl = tf.reduce_mean(kl_divergence)
        kl_cutoff_loss = self._kl_cutoff_coef * tf.square(tf.maximum(mean_kl - kl_cutoff, 0.0))
        if debug_summaries:
            step = self.train_step_counter
            summaries.scalar(
                "kl_cutoff_count", tf.reduce_sum(tf.cast(kl_divergence > kl_cutoff, tf.int64)), step
            )
            summaries.scalar("kl_cutoff_loss", kl_cutoff_loss, step)
        return tf.identity(kl_cutoff_loss, name="kl_cutoff_loss")

    def adaptive_kl_loss(
        self, kl_divergence: tf.Tensor, debug_summaries: bool = False
    ) -> tf.Tensor:
        """`beta * mean(kl)` with the current adaptive beta; 0 when disabled."""
        if self._adaptive_kl_beta is None:
            return tf.constant(0.0, dtype=tf.float32, name="zero_adaptive_kl_loss")
        adaptive_kl_loss = self._adaptive_kl_beta * tf.reduce_mean(kl_divergence)
        if debug_summaries:
            summaries.scalar("adaptive_kl_loss", adaptive_kl_loss, self.train_step_counter)
        return adaptive_kl_loss

    def _kl_divergence(
        self, time_steps: Any, action_distribution_parameters: Any, current_policy_distribution: Any
    ) -> tf.Tensor:
        """KL(collect-time distributions || current ones), shaped like the outer dims."""
        outer_dims = list(range(nest_utils.get_outer_rank(time_steps, self.time_step_spec)))
        old_actions_distribution = ppo_utils.distribution_from_spec(
            self._action_distribution_spec,
            action_distribution_parameters,
            legacy_distribution_network=self._legacy_distribution_network,
        )
        return ppo_utils.nested_kl_divergence(
            old_actions_distribution, current_policy_distribution, outer_dims=outer_dims
        )

    def kl_penalty_loss(
        self,
        time_steps: Any,
        action_distribution_parameters: Any,
        current_policy_distribution: Any,
        weights: tf.Tensor,
        debug_summaries: bool = False,
    ) -> tf.Tensor:
        """The KL cutoff loss plus the adaptive KL loss of the weighted KL.

        Args:
          time_steps: `TimeStep` of the steps (gives the outer dims).
          action_distribution_parameters: the collect policy's distribution
            parameters.
          current_policy_distribution: the current action distributions.
          weights: float32 per-step weights.
          debug_summaries: write debug summaries.

        Returns:
          A float32 scalar.
        """
        kl_divergence = self._kl_divergence(
            time_steps, action_distribution_parameters, current_policy_distribution
        )
        kl_divergence *= weights
        if debug_summaries:
            summaries.histogram("kl_divergence", kl_divergence, self.train_step_counter)
        kl_cutoff_loss = self.kl_cutoff_loss(kl_divergence, debug_summaries)
        adaptive_kl_loss = self.adaptive_kl_loss(kl_divergence, debug_summaries)
        return tf.add(kl_cutoff_loss, adaptive_kl_loss, name="kl_penalty_loss")

    def update_adaptive_kl_beta(self, kl_divergence: tf.Tensor) -> Any:
        """Adapts beta to the mean KL: times 1.5 above the tolerance band, / 1.5 below.

        Args:
          kl_divergence: float32 per-step KL divergences.

        Returns:
          The beta variable (a no-op when the adaptive penalty is off).
        """
        if self._adaptive_kl_beta is None:
            return tf.no_op()
        mean_kl = tf.reduce_mean(kl_divergence)
        below = mean_kl < self._adaptive_kl_target * (1.0 - self._adaptive_kl_tolerance)
        above = mean_kl > self._adaptive_kl_target * (1.0 + self._adaptive_kl_tolerance)
        factor = tf.where(
            below,
            tf.constant(1.0 / _KL_BETA_FACTOR, tf.float32),
            tf.where(above, tf.constant(_KL_BETA_FACTOR, tf.float32), tf.constant(1.0, tf.float32)),
        )
        self._adaptive_kl_beta.assign(
            tf.clip_by_value(self._adaptive_kl_beta * factor, _KL_BETA_MIN, _KL_BETA_MAX)
        )
        if self._debug_summaries:
            step = self.train_step_counter
            summaries.scalar("adaptive_kl_update_factor", factor, step)
            summaries.scalar("mean_kl_divergence", mean_kl, step)
            summaries.scalar("adaptive_kl_beta", self._adaptive_kl_beta, step)
        return self._adaptive_kl_beta

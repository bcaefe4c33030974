"""PPO with a KL penalty (TF-Agents' `agents.ppo.ppo_kl_penalty_agent`).

The penalized objective of eq. 8 of https://arxiv.org/abs/1707.06347: the loss
adds `beta * mean(KL(collect policy || current policy))`, with `beta`
adapted after every `train` call towards `adaptive_kl_target`, and optionally
a squared penalty on the mean KL above `kl_cutoff_factor *
adaptive_kl_target`. Importance ratios are not clipped.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.agents.ppo import ppo_agent

__all__ = ["PPOKLPenaltyAgent"]


@configurable
class PPOKLPenaltyAgent(ppo_agent.PPOAgent):
    """A PPO agent with an adaptive KL penalty and no ratio clipping.

    Takes `PPOAgent`'s arguments except `importance_ratio_clipping` (0 here)
    and `greedy_eval` (True); `actor_net`, `value_net`, `num_epochs` and the
    adaptive KL parameters are required. Defaults differ from `PPOAgent`'s:
    GAE and TD-lambda returns on, observation normalization off, no reward
    clipping, no KL cutoff (`kl_cutoff_coef=0`).

    Raises:
      ValueError: `kl_cutoff_coef > 0` without a `kl_cutoff_factor`.
      TypeError: `actor_net` or `value_net` is not a network.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        actor_net: Any,
        value_net: Any,
        num_epochs: int,
        initial_adaptive_kl_beta: float,
        adaptive_kl_target: float,
        adaptive_kl_tolerance: float,
        optimizer: Any = None,
        use_gae: bool = True,
        use_td_lambda_return: bool = True,
        lambda_value: float = 0.95,
        discount_factor: float = 0.99,
        value_pred_loss_coef: float = 0.5,
        entropy_regularization: float = 0.0,
        policy_l2_reg: float = 0.0,
        value_function_l2_reg: float = 0.0,
        shared_vars_l2_reg: float = 0.0,
        normalize_observations: bool = False,
        normalize_rewards: bool = True,
        reward_norm_clipping: float = 0.0,
        log_prob_clipping: float = 0.0,
        gradient_clipping: float | None = None,
        value_clipping: float | None = None,
        kl_cutoff_coef: float = 0.0,
        kl_cutoff_factor: float | None = None,
        check_numerics: bool = False,
        debug_summaries: bool = False,
        compute_value_and_advantage_in_train: bool = True,
        update_normalizers_in_train: bool = True,
        aggregate_losses_across_replicas: bool = True,
        summarize_grads_and_vars: bool = False,
        train_step_counter: tf.Variable | None = None,
        name: str | None = None,
    ):
        if kl_cutoff_coef > 0.0 and kl_cutoff_factor is None:
            raise ValueError("kl_cutoff_factor needs to be set if kl_cutoff_coef is non-zero.")
        super().__init__(
            time_step_spec,
            action_spec,
            optimizer=optimizer,
            actor_net=actor_net,
            value_net=value_net,
            importance_ratio_clipping=0.0,
            lambda_value=lambda_value,
            discount_factor=discount_factor,
            entropy_regularization=entropy_regularization,
            policy_l2_reg=policy_l2_reg,
            value_function_l2_reg=value_function_l2_reg,
            shared_vars_l2_reg=shared_vars_l2_reg,
            value_pred_loss_coef=value_pred_loss_coef,
            num_epochs=num_epochs,
            use_gae=use_gae,
            use_td_lambda_return=use_td_lambda_return,
            normalize_rewards=normalize_rewards,
            reward_norm_clipping=reward_norm_clipping,
            normalize_observations=normalize_observations,
            log_prob_clipping=log_prob_clipping,
            kl_cutoff_factor=kl_cutoff_factor,
            kl_cutoff_coef=kl_cutoff_coef,
            initial_adaptive_kl_beta=initial_adaptive_kl_beta,
            adaptive_kl_target=adaptive_kl_target,
            adaptive_kl_tolerance=adaptive_kl_tolerance,
            gradient_clipping=gradient_clipping,
            value_clipping=value_clipping,
            check_numerics=check_numerics,
            compute_value_and_advantage_in_train=compute_value_and_advantage_in_train,
            update_normalizers_in_train=update_normalizers_in_train,
            aggregate_losses_across_replicas=aggregate_losses_across_replicas,
            debug_summaries=debug_summaries,
            summarize_grads_and_vars=summarize_grads_and_vars,
            train_step_counter=train_step_counter,
            name=name,
        )

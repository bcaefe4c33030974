"""PPO with clipped importance ratios (TF-Agents' `agents.ppo.ppo_clip_agent`).

The surrogate objective of eq. 7 of https://arxiv.org/abs/1707.06347: the
per-step objective is the smaller of `r * A` and `clip(r, 1 - eps, 1 + eps) *
A`, so the optimizer gains nothing from moving the importance ratio `r`
beyond the clipping range. The KL penalty of `PPOAgent` is off.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.agents.ppo import ppo_agent

__all__ = ["PPOClipAgent"]


@configurable
class PPOClipAgent(ppo_agent.PPOAgent):
    """A PPO agent with importance-ratio clipping and no KL penalty.

    Takes `PPOAgent`'s arguments except the KL penalty's
    (`kl_cutoff_factor`, `kl_cutoff_coef`, `initial_adaptive_kl_beta`,
    `adaptive_kl_target`, `adaptive_kl_tolerance`: all 0 here). As in
    TF-Agents, `log_prob_clipping` is accepted but not applied (0).
    `importance_ratio_clipping` is the epsilon of the clipped objective
    (0 disables clipping, the default, as in TF-Agents).

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
        gradient_clipping: float | None = None,
        value_clipping: float | None = None,
        check_numerics: bool = False,
        compute_value_and_advantage_in_train: bool = True,
        update_normalizers_in_train: bool = True,
        aggregate_losses_across_replicas: bool = True,
        debug_summaries: bool = False,
        summarize_grads_and_vars: bool = False,
        train_step_counter: tf.Variable | None = None,
        name: str | None = "PPOClipAgent",
    ):
        del log_prob_clipping  # Not applied by the clipped variant (as in TF-Agents).
        super().__init__(
            time_step_spec,
            action_spec,
            optimizer=optimizer,
            actor_net=actor_net,
            value_net=value_net,
            greedy_eval=greedy_eval,
            importance_ratio_clipping=importance_ratio_clipping,
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
            log_prob_clipping=0.0,
            kl_cutoff_factor=0.0,
            kl_cutoff_coef=0.0,
            initial_adaptive_kl_beta=0.0,
            adaptive_kl_target=0.0,
            adaptive_kl_tolerance=0.0,
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

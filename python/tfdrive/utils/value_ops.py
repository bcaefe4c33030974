"""Discounted returns and generalized advantage estimates (TF-Agents' `utils.value_ops`).

Inputs are `[T, B]` (time major) or `[B, T]` tensors; results are computed
backwards in time with `tf.scan` / `tf.foldr` and carry no gradient.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

__all__ = ["discounted_return", "generalized_advantage_estimation"]


def _accumulate(accumulated: tf.Tensor, reward_and_discount: tuple) -> tf.Tensor:
    """One step back in time: `G_t = r_t + d_t * G_{t+1}`."""
    reward, discount = reward_and_discount
    return accumulated * discount + reward


def discounted_return(
    rewards: Any,
    discounts: Any,
    final_value: Any = None,
    time_major: bool = True,
    provide_all_returns: bool = True,
) -> tf.Tensor:
    """Discounted returns `G_t = r_t + d_t * G_{t+1}`, bootstrapped by `final_value`.

    Args:
      rewards: float `[T, B]` (or `[B, T]` with `time_major=False`).
      discounts: float, shaped like `rewards`; `d_t` multiplies `G_{t+1}`.
      final_value: `[B]` value after the last step; zeros if None.
      time_major: whether inputs (and outputs) are `[T, B]`.
      provide_all_returns: return every `G_t` (shaped like `rewards`);
        otherwise only `G_0`, shaped `[B]`.

    Returns:
      The returns, with gradients stopped.
    """
    if not time_major:
        with tf.name_scope("to_time_major_tensors"):
            discounts = tf.transpose(discounts)
            rewards = tf.transpose(rewards)
    if final_value is None:
        final_value = tf.zeros_like(rewards[-1])
    if not provide_all_returns:
        first_return = tf.foldr(
            fn=_accumulate, elems=(rewards, discounts), initializer=final_value, back_prop=False
        )
        return tf.stop_gradient(first_return)
    returns = tf.scan(
        fn=_accumulate, elems=(rewards, discounts), reverse=True, initializer=final_value
    )
    if not time_major:
        with tf.name_scope("to_batch_major_tensors"):
            returns = tf.transpose(returns)
    return tf.stop_gradient(returns)


def generalized_advantage_estimation(
    values: Any,
    final_value: Any,
    discounts: Any,
    rewards: Any,
    td_lambda: Any = 1.0,
    time_major: bool = True,
) -> tf.Tensor:
    """GAE (Schulman et al., 2015): `A_t = delta_t + lambda * d_t * A_{t+1}`.

    `delta_t = r_t + d_t * V_{t+1} - V_t`, with `V_T = final_value`.

    Args:
      values: float `[T, B]` value estimates `V_t` (or `[B, T]`).
      final_value: `[B]` value estimate after the last step.
      discounts: float, shaped like `values`.
      rewards: float, shaped like `values`.
      td_lambda: the GAE lambda in `[0, 1]` (1: discounted returns minus values).
      time_major: whether inputs (and the output) are `[T, B]`.

    Returns:
      The advantages, shaped like `values`, with gradients stopped.
    """
    if not time_major:
        with tf.name_scope("to_time_major_tensors"):
            discounts = tf.transpose(discounts)
            rewards = tf.transpose(rewards)
            values = tf.transpose(values)
    with tf.name_scope("gae"):
        next_values = tf.concat([values[1:], tf.expand_dims(final_value, 0)], axis=0)
        deltas = rewards + discounts * next_values - values
        advantages = tf.scan(
            fn=_accumulate,
            elems=(deltas, discounts * td_lambda),
            initializer=tf.zeros_like(final_value),
            reverse=True,
        )
    if not time_major:
        with tf.name_scope("to_batch_major_tensors"):
            advantages = tf.transpose(advantages)
    return tf.stop_gradient(advantages)

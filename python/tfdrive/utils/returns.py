"""Discounted sums over time: n-step and full returns, value shifts and episode masks.

Batch-major helpers take ``[batch_size, total_steps]`` float32 tensors; they
are re-exported by `tfdrive.utils.common` under TF-Agents' names.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.trajectories import time_step as ts

__all__ = [
    "compute_returns",
    "discounted_future_sum",
    "discounted_future_sum_masked",
    "get_contiguous_sub_episodes",
    "get_episode_mask",
    "shift_values",
]


def _require_rank_2(values: tf.Tensor) -> None:
    rank = values.shape.rank
    if rank != 2:
        raise ValueError(f"Input must be rank 2 tensor.  Got {rank}.")


def discounted_future_sum(values: tf.Tensor, gamma: Any, num_steps: Any) -> tf.Tensor:
    """n-step discounted sums looking forward, with zeros past the last step.

    ``out[i, j] = sum_{k < num_steps} gamma^k * values[i, j + k]`` (terms past
    ``total_steps`` count as 0); e.g. ``[5, 6, 7]``, gamma 0.9, 3 steps gives
    ``[5 + 0.9*6 + 0.81*7, 6 + 0.9*7, 7]``.

    Args:
      values: float32 ``[batch_size, total_steps]``.
      gamma: The discount (float).
      num_steps: A positive number of steps to sum (int or int tensor).

    Returns:
      float32 ``[batch_size, total_steps]``.

    Raises:
      ValueError: `values` is not of rank 2.
    """
    _require_rank_2(values)
    total_steps = values.shape[1]
    if total_steps is None:
        total_steps = tf.shape(values)[1]
    num_steps = tf.minimum(num_steps, total_steps)
    weights = gamma ** tf.cast(tf.range(num_steps), tf.float32)
    # Zero-pad the future, then correlate each step with the next `num_steps` weights.
    padded = tf.pad(values, [[0, 0], [0, num_steps - 1]])
    summed = tf.nn.conv1d(
        padded[..., tf.newaxis], weights[:, tf.newaxis, tf.newaxis], stride=1, padding="VALID"
    )
    return summed[..., 0]


def discounted_future_sum_masked(
    values: tf.Tensor, gamma: Any, num_steps: Any, episode_lengths: Any
) -> tf.Tensor:
    """`discounted_future_sum` of `values` zeroed from each row's episode length on.

    Args:
      values: float32 ``[batch_size, total_steps]``; `total_steps` static.
      gamma: The discount (float).
      num_steps: A positive number of steps to sum.
      episode_lengths: int ``[batch_size]``: the number of valid steps per row.

    Returns:
      float32 ``[batch_size, total_steps]``.

    Raises:
      ValueError: `values` is not of rank 2, or its step dimension is unknown.
    """
    if values.shape.rank != 2:
        raise ValueError(f"Input must be a rank 2 tensor.  Got {values.shape}.")
    total_steps = values.shape[1]
    if total_steps is None:
        raise ValueError(
            "total_steps dimension in input values[batch_size, total_steps] must be fully defined."
        )
    mask = tf.cast(tf.sequence_mask(episode_lengths, total_steps), tf.float32)
    return discounted_future_sum(values * mask, gamma, num_steps)


def shift_values(
    values: tf.Tensor, gamma: Any, num_steps: Any, final_values: Any = None
) -> tf.Tensor:
    """Values `num_steps` ahead, discounted, bootstrapping from `final_values` past the end.

    ``out[i, j] = gamma^num_steps * values[i, j + num_steps]`` while
    ``j + num_steps < total_steps``, else ``gamma^(total_steps - j) * final_values[i]``.

    Args:
      values: float32 ``[batch_size, total_steps]``.
      gamma: The discount (float).
      num_steps: A nonnegative shift (int or int tensor).
      final_values: float32 ``[batch_size]``: the values after the last step
        (default zeros).

    Returns:
      float32 ``[batch_size, total_steps]``.

    Raises:
      ValueError: `values` is not of rank 2.
    """
    _require_rank_2(values)
    total_steps = values.shape[1]
    if total_steps is None:
        total_steps = tf.shape(values)[1]
    num_steps = tf.minimum(num_steps, total_steps)
    if final_values is None:
        final_values = tf.zeros_like(values[:, 0])
    # The last `num_steps` columns are `num_steps, ..., 1` steps from the end.
    steps_to_end = tf.cast(tf.range(num_steps, 0, -1), tf.float32)
    bootstrapped = final_values[:, tf.newaxis] * gamma ** steps_to_end[tf.newaxis, :]
    shifted = gamma ** tf.cast(num_steps, tf.float32) * values[:, num_steps:]
    return tf.concat([shifted, bootstrapped], axis=1)


def get_episode_mask(time_steps: Any) -> tf.Tensor:
    """float32 mask of `time_steps.step_type`: 0.0 at LAST steps, 1.0 elsewhere."""
    return tf.cast(tf.not_equal(time_steps.step_type, ts.StepType.LAST), tf.float32)


def get_contiguous_sub_episodes(next_time_steps_discount: tf.Tensor) -> tf.Tensor:
    """Masks each row after its first episode end (discount 0).

    Args:
      next_time_steps_discount: ``[batch_size, total_steps]`` discounts of the
        next time steps.

    Returns:
      float32 ``[batch_size, total_steps]`` rows ``[1.0] * a + [0.0] * b``
      (a >= 1): ones up to and including the first step with discount 0.
    """
    discount = next_time_steps_discount
    ended = tf.cast(tf.equal(discount, tf.constant(0, dtype=discount.dtype)), tf.float32)
    return tf.math.cumprod(1.0 - ended, axis=1, exclusive=True)


def compute_returns(rewards: Any, discounts: Any, time_major: bool = False) -> tf.Tensor:
    """Discounted return from every step: ``R_t = r_t + discount_t * R_{t+1}``.

    A discount of 0 ends an episode, so returns never cross episode ends.

    Args:
      rewards: ``[T]``, ``[B, T]`` or (with `time_major`) ``[T, B]`` rewards.
      discounts: Discounts shaped like `rewards`.
      time_major: Whether batched inputs are ``[T, B]`` rather than ``[B, T]``.

    Returns:
      Returns shaped like `rewards`.

    Raises:
      ValueError: `rewards` and `discounts` have incompatible static shapes.
    """
    rewards.shape.assert_is_compatible_with(discounts.shape)
    if not (rewards.shape.is_fully_defined() and discounts.shape.is_fully_defined()):
        tf.debugging.assert_equal(tf.shape(rewards), tf.shape(discounts))
    rank = rewards.shape.rank
    swap = rank > 1 and not time_major
    if swap:  # Scan over time: put it first.
        perm = [1, 0] + list(range(2, rank))
        rewards, discounts = tf.transpose(rewards, perm), tf.transpose(discounts, perm)
    returns = tf.scan(
        lambda following, step: step[0] + step[1] * following,
        (rewards, discounts),
        initializer=tf.zeros_like(rewards[0]),
        reverse=True,
    )
    return tf.transpose(returns, perm) if swap else returns

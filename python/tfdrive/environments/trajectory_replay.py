"""Replays a policy over recorded trajectories (``tf_agents.environments.trajectory_replay``).

:class:`TrajectoryReplay` feeds the time steps of a batch of trajectories to
a policy, in order, and collects the actions and policy infos it outputs:
useful to recompute what a (recurrent) policy would have done on logged
data, threading its state through time.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive import _gin
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common, nest_utils

__all__ = ["TrajectoryReplay"]


@_gin.configurable
class TrajectoryReplay:
    """Runs ``policy`` over trajectories (see the module docs).

    Args:
      policy: a TF policy whose ``trajectory_spec`` describes the
        trajectories given to ``run``.
      time_major: whether trajectories are ``[T, B, ...]`` (else ``[B, T, ...]``).
    """

    def __init__(self, policy: Any, time_major: bool = False):
        self._policy = policy
        self._time_major = time_major

    def run(self, trajectory: Any, policy_state: Any = None) -> tuple:
        """Replays ``trajectory`` through the policy.

        The time step at ``t`` has the trajectory's step type and observation
        at ``t`` and its reward and discount at ``t - 1`` (reward 0 and
        discount 1 at ``t == 0``).

        Args:
          trajectory: a ``Trajectory`` of tensors with two outer dimensions
            (batch and time, in the order ``time_major`` says).
          policy_state: the policy state at the first step (default:
            ``policy.get_initial_state(B)``); must match ``policy_state_spec``.

        Returns:
          ``(actions, policy_info, final_policy_state)``: the actions and
          infos per step, laid out like ``trajectory``, and the policy state
          after the last step.

        Raises:
          ValueError: if ``trajectory`` does not have exactly two outer
            dimensions per the policy's ``trajectory_spec``.
        """
        trajectory_spec = self._policy.trajectory_spec
        outer_shape = nest_utils.get_outer_shape(trajectory, trajectory_spec)
        num_outer_dims = tf.compat.dimension_value(outer_shape.shape[0])
        if num_outer_dims != 2:
            raise ValueError(
                f"Expected two outer dimensions, but saw '{num_outer_dims}' dimensions.\n"
                f"Trajectory:\n{trajectory}.\nTrajectory spec from policy:\n{trajectory_spec}."
            )
        if self._time_major:
            sequence_length, batch_size = outer_shape[0], outer_shape[1]
            static_batch_size = tf.compat.dimension_value(trajectory.discount.shape[1])
        else:
            batch_size, sequence_length = outer_shape[0], outer_shape[1]
            static_batch_size = tf.compat.dimension_value(trajectory.discount.shape[0])
            trajectory = tf.nest.map_structure(common.transpose_batch_time, trajectory)
        if policy_state is None:
            policy_state = self._policy.get_initial_state(batch_size)
        else:
            nest_utils.assert_same_structure(policy_state, self._policy.policy_state_spec)

        inputs = tf.nest.map_structure(
            lambda t: tf.TensorArray(t.dtype, size=sequence_length).unstack(t), trajectory
        )

        def output_array(spec: Any) -> tf.TensorArray:
            return tf.TensorArray(
                spec.dtype,
                size=sequence_length,
                element_shape=tf.TensorShape([static_batch_size]).concatenate(spec.shape),
            )

        actions = tf.nest.map_structure(output_array, trajectory_spec.action)
        infos = tf.nest.map_structure(output_array, trajectory_spec.policy_info)

        first_time_step = ts.TimeStep(
            step_type=inputs.step_type.read(0),
            reward=tf.nest.map_structure(lambda t: tf.zeros_like(t[0]), trajectory.reward),
            discount=tf.ones_like(trajectory.discount[0]),
            observation=tf.nest.map_structure(lambda a: a.read(0), inputs.observation),
        )

        def act(time, time_step, state, actions, infos):
            """Runs the policy on ``time_step``; writes its outputs at ``time - 1``."""
            action_step = self._policy.action(time_step, state)
            actions = tf.nest.map_structure(
                lambda a, t: a.write(time - 1, t), actions, action_step.action
            )
            infos = tf.nest.map_structure(
                lambda a, t: a.write(time - 1, t), infos, action_step.info
            )
            return action_step.state, actions, infos

        def body(time, time_step, state, actions, infos):
            state, actions, infos = act(time, time_step, state, actions, infos)
            next_time_step = ts.TimeStep(
                step_type=inputs.step_type.read(time),
                reward=tf.nest.map_structure(lambda a: a.read(time - 1), inputs.reward),
                discount=inputs.discount.read(time - 1),
                observation=tf.nest.map_structure(lambda a: a.read(time), inputs.observation),
            )
            return time + 1, next_time_step, state, actions, infos

        time, time_step, policy_state, actions, infos = tf.while_loop(
            cond=lambda time, *_: time < sequence_length,
            body=body,
            loop_vars=[tf.constant(1), first_time_step, policy_state, actions, infos],
            back_prop=False,
            name="trajectory_replay_loop",
        )
        final_state, actions, infos = act(time, time_step, policy_state, actions, infos)

        def stacked(array: tf.TensorArray) -> tf.Tensor:
            t = array.stack()
            return t if self._time_major else common.transpose_batch_time(t)

        return (
            tf.nest.map_structure(stacked, actions),
            tf.nest.map_structure(stacked, infos),
            final_state,
        )

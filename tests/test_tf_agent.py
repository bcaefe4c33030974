"""TFAgent, data converters, eager_utils and value_ops: exact values and errors."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfdrive.agents import data_converter, tf_agent  # noqa: E402
from tfdrive.policies import random_tf_policy  # noqa: E402
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.trajectories import trajectory  # noqa: E402
from tfdrive.utils import eager_utils, value_ops  # noqa: E402

OBSERVATION_SPEC = tf.TensorSpec([2], tf.float32)
ACTION_SPEC = tensor_spec.BoundedTensorSpec([], tf.int32, 0, 1)


class _EchoAgent(tf_agent.TFAgent):
    """Returns the converted experience as the loss's extra."""

    def __init__(self, **kwargs):
        time_step_spec = ts.time_step_spec(OBSERVATION_SPEC)
        policy = random_tf_policy.RandomTFPolicy(time_step_spec, ACTION_SPEC)
        super().__init__(time_step_spec, ACTION_SPEC, policy, policy, **kwargs)
        self._as_trajectory = data_converter.AsTrajectory(
            self.data_context, sequence_length=self.train_sequence_length
        )

    def _train(self, experience, weights=None):
        self.train_step_counter.assign_add(1)
        return tf_agent.LossInfo(tf.constant(0.0), self._as_trajectory(experience))


def _experience(batch, time):
    return tensor_spec.sample_spec_nest(
        _EchoAgent(train_sequence_length=None).collect_data_spec, outer_dims=(batch, time)
    )


def test_agent_specs_errors_and_train_step():
    agent = _EchoAgent(train_sequence_length=2, train_step_counter=tf.Variable(0, dtype=tf.int64))
    assert agent.collect_data_spec.action == ACTION_SPEC
    assert agent.training_data_spec == agent.collect_data_spec
    loss_info = agent.train(_experience(3, 2))
    assert loss_info.extra.observation.shape == (3, 2, 2)
    assert int(agent.train_step_counter) == 1
    with pytest.raises(ValueError, match="(?s)sequence_length` of '2'.*value.step_type"):
        agent.train(_experience(3, 5))
    with pytest.raises(ValueError, match="must have two outer dimensions"):
        agent.train(tf.nest.map_structure(lambda t: t[0], _experience(3, 2)))
    with pytest.raises(TypeError, match="Input type not supported"):
        agent._as_trajectory({"observation": tf.zeros([1, 1, 2])})
    with pytest.raises(ValueError, match="num_outer_dims must be in"):
        _EchoAgent(train_sequence_length=None, num_outer_dims=3)


def test_time_step_spec_must_be_a_time_step():
    policy = random_tf_policy.RandomTFPolicy(ts.time_step_spec(OBSERVATION_SPEC), ACTION_SPEC)
    with pytest.raises(TypeError, match="must be an instance of `TimeStep`"):
        _ = tf_agent.TFAgent.__init__(
            _EchoAgent(train_sequence_length=None),
            OBSERVATION_SPEC,
            ACTION_SPEC,
            policy,
            policy,
            None,
        )


def test_n_step_transition_discounts_rewards():
    time_step_spec = ts.time_step_spec(OBSERVATION_SPEC)
    context = data_converter.DataContext(time_step_spec, ACTION_SPEC, info_spec=())
    experience = trajectory.Trajectory(
        step_type=tf.constant([[0, 1, 1]]),
        observation=tf.zeros([1, 3, 2]),
        action=tf.constant([[1, 0, 0]]),
        policy_info=(),
        next_step_type=tf.constant([[1, 1, 1]]),
        reward=tf.constant([[1.0, 2.0, 4.0]]),
        discount=tf.constant([[1.0, 0.5, 1.0]]),
    )
    transition = data_converter.AsNStepTransition(context, gamma=0.9, n=2)(experience)
    # r0 + g d0 r1 = 1 + 0.9 * 2; final discount g^(n-1) d0 d1 = 0.9 * 0.5.
    np.testing.assert_allclose(transition.next_time_step.reward, [2.8])
    np.testing.assert_allclose(transition.next_time_step.discount, [0.45])
    assert transition.action_step.action.numpy().tolist() == [1]


def test_clip_gradient_norms_and_summaries_without_writer():
    var = tf.Variable([0.0, 0.0])
    sparse = tf.IndexedSlices(tf.constant([[3.0, 4.0]]), tf.constant([0]), tf.constant([1, 2]))
    clipped = eager_utils.clip_gradient_norms(
        [(tf.constant([3.0, 4.0]), var), (None, var), (sparse, var)], max_norm=1.0
    )
    np.testing.assert_allclose(clipped[0][0], [0.6, 0.8])
    assert clipped[1][0] is None
    np.testing.assert_allclose(clipped[2][0].values, [[0.6, 0.8]])
    # No default writer: nothing is recorded, and nothing raises (even without TensorBoard).
    assert not eager_utils.summaries_recorded()
    eager_utils.add_variables_summaries(clipped, step=tf.constant(0, tf.int64))
    eager_utils.add_gradients_summaries(clipped, step=tf.constant(0, tf.int64))


def test_value_ops_exact_values():
    rewards = tf.constant([[1.0, 2.0, 3.0]])  # [B, T]
    discounts = tf.constant([[0.5, 0.5, 0.5]])
    returns = value_ops.discounted_return(
        rewards, discounts, final_value=tf.constant([4.0]), time_major=False
    )
    # G2 = 3 + 0.5 * 4 = 5, G1 = 2 + 2.5 = 4.5, G0 = 1 + 2.25 = 3.25.
    np.testing.assert_allclose(returns, [[3.25, 4.5, 5.0]])
    first = value_ops.discounted_return(
        tf.transpose(rewards),
        tf.transpose(discounts),
        tf.constant([4.0]),
        provide_all_returns=False,
    )
    np.testing.assert_allclose(first, [3.25])
    values = tf.constant([[1.0, 1.0, 1.0]])
    advantages = value_ops.generalized_advantage_estimation(
        values, tf.constant([4.0]), discounts, rewards, td_lambda=1.0, time_major=False
    )
    # With lambda = 1 the advantages are the returns minus the values.
    np.testing.assert_allclose(advantages, [[2.25, 3.5, 4.0]])

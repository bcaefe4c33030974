"""EpsilonGreedyPolicy: epsilon forms, mixture log-probabilities, info handling, errors."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import epsilon_greedy_policy, tf_policy
from tfdrive.policies import utils as policy_utilities
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((2,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
NUM_ACTIONS = 4
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int32, 0, NUM_ACTIONS - 1)
GREEDY_ACTION = 2

Info = collections.namedtuple("Info", ("log_probability", "bandit_policy_type", "score"))
INFO_SPEC = Info(
    log_probability=tensor_spec.BoundedTensorSpec((), tf.float32, -float("inf"), 0.0),
    bandit_policy_type=policy_utilities.create_bandit_policy_type_tensor_spec(()),
    score=tensor_spec.TensorSpec((), tf.float32),
)


class PeakedPolicy(tf_policy.TFPolicy):
    """A categorical peaked on GREEDY_ACTION; optional info with a GREEDY type and score 7."""

    def __init__(self, with_info=False, **kwargs):
        super().__init__(TS_SPEC, DISCRETE, info_spec=INFO_SPEC if with_info else (), **kwargs)
        self._with_info = with_info

    def _distribution(self, time_step, policy_state):
        batch = tf.shape(time_step.discount)[0]
        logits = tf.tile(tf.one_hot([GREEDY_ACTION], NUM_ACTIONS) * 10.0, [batch, 1])
        info = ()
        if self._with_info:
            info = Info(
                log_probability=tf.zeros([batch]),
                bandit_policy_type=tf.fill([batch], policy_utilities.BanditPolicyType.GREEDY),
                score=tf.fill([batch], 7.0),
            )
        distribution = tfp.distributions.Categorical(logits=logits, dtype=tf.int32)
        return policy_step.PolicyStep(distribution, policy_state, info)


def _time_step(batch=500):
    return ts.restart(tf.zeros((batch, 2)), batch_size=batch)


@pytest.mark.parametrize("epsilon", [0.0, tf.constant(0.0), lambda: 0.0])
def test_zero_epsilon_is_greedy(epsilon):
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(PeakedPolicy(), epsilon=epsilon)
    actions = policy.action(_time_step(), seed=3).action.numpy()
    assert (actions == GREEDY_ACTION).all()


def test_epsilon_one_is_uniform_and_a_variable_is_read_at_each_call():
    epsilon = tf.Variable(1.0)
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(PeakedPolicy(), epsilon=epsilon)
    counts = np.bincount(policy.action(_time_step(4000)).action.numpy(), minlength=NUM_ACTIONS)
    assert (np.abs(counts - 1000) < 150).all()
    epsilon.assign(0.0)
    assert (policy.action(_time_step()).action.numpy() == GREEDY_ACTION).all()


def test_emitted_log_probability_includes_the_branch_probability():
    epsilon = 0.4
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(
        PeakedPolicy(emit_log_probability=True), epsilon=epsilon
    )
    step = policy.action(_time_step(2000), seed=5)
    probability = np.exp(step.info.log_probability.numpy())
    random_probability = epsilon / NUM_ACTIONS
    # Each entry is either the greedy branch (action GREEDY_ACTION, 1 - eps)
    # or the random branch (eps / NUM_ACTIONS), whatever the action.
    greedy = ~np.isclose(probability, random_probability)
    np.testing.assert_allclose(probability[greedy], 1.0 - epsilon, rtol=1e-6)
    assert (step.action.numpy()[greedy] == GREEDY_ACTION).all()
    assert 0.5 < greedy.mean() < 0.7


def test_bandit_policy_type_marks_random_actions_and_fields_inherit_from_greedy():
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(
        PeakedPolicy(with_info=True),
        epsilon=1.0,
        info_fields_to_inherit_from_greedy=["score"],
    )
    step = policy.action(_time_step(8), seed=1)
    uniform = policy_utilities.BanditPolicyType.UNIFORM
    np.testing.assert_array_equal(step.info.bandit_policy_type.numpy(), [uniform] * 8)
    np.testing.assert_array_equal(step.info.score.numpy(), [7.0] * 8)
    greedy = epsilon_greedy_policy.EpsilonGreedyPolicy(PeakedPolicy(with_info=True), epsilon=0.0)
    info = greedy.action(_time_step(3)).info
    np.testing.assert_array_equal(info.bandit_policy_type.numpy(), [1, 1, 1])


def test_time_steps_with_two_outer_dims_raise():
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(PeakedPolicy(), epsilon=0.1)
    time_step = tf.nest.map_structure(lambda t: tf.stack([t, t], axis=1), _time_step(3))
    with pytest.raises(ValueError, match="single batch dimension"):
        policy.action(time_step)


def test_distribution_is_not_supported_and_variables_are_the_wrapped_policys():
    wrapped = PeakedPolicy()
    wrapped.extra = tf.Variable(1.0)
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(wrapped, epsilon=0.1)
    assert policy.wrapped_policy is wrapped
    assert [v.ref() for v in policy.variables()] == [wrapped.extra.ref()]
    with pytest.raises(NotImplementedError):
        policy.distribution(_time_step(2))


def test_exploration_mask_limits_random_actions():
    policy = epsilon_greedy_policy.EpsilonGreedyPolicy(
        PeakedPolicy(emit_log_probability=True), epsilon=1.0, exploration_mask=[1, 0, 0, 1]
    )
    step = policy.action(_time_step(400), seed=7)
    assert set(step.action.numpy()) == {0, 3}
    # epsilon (1) times one of the two allowed actions.
    np.testing.assert_allclose(np.exp(step.info.log_probability.numpy()), 0.5, rtol=1e-6)

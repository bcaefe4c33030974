"""GreedyPolicy: modes of the wrapped distributions, state / info pass-through, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import greedy_policy, tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((2,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2)
STATE = tensor_spec.TensorSpec((), tf.float32)


def _time_step(batch=2):
    return ts.restart(tf.zeros((batch, 2)), batch_size=batch)


class LogitsPolicy(tf_policy.TFPolicy):
    """Categorical over DISCRETE with logits [0, 3, 1]; the state counts calls."""

    def __init__(self, distribution_fn=None, **kwargs):
        super().__init__(TS_SPEC, DISCRETE, policy_state_spec=STATE, **kwargs)
        self.logits = tf.Variable([0.0, 3.0, 1.0])
        self._distribution_fn = distribution_fn

    def _distribution(self, time_step, policy_state):
        batch = tf.shape(time_step.discount)[0]
        logits = tf.tile(self.logits[None], [batch, 1])
        if self._distribution_fn is not None:
            distribution = self._distribution_fn(logits)
        else:
            distribution = tfp.distributions.Categorical(logits=logits, dtype=tf.int32)
        return policy_step.PolicyStep(distribution, policy_state + 1.0)


def test_action_is_the_mode_and_state_passes_through():
    policy = greedy_policy.GreedyPolicy(LogitsPolicy())
    step = policy.action(_time_step(), tf.constant([4.0, 5.0]))
    np.testing.assert_array_equal(step.action.numpy(), [1, 1])
    # FIRST steps reset the state to zeros before the wrapped policy adds 1.
    np.testing.assert_array_equal(step.state.numpy(), [1.0, 1.0])
    assert policy.wrapped_policy is not None
    assert policy.variables() and policy.variables()[0] is policy.wrapped_policy.logits


def test_distribution_is_deterministic_at_the_mode():
    policy = greedy_policy.GreedyPolicy(LogitsPolicy())
    distribution = policy.distribution(_time_step(3), tf.zeros(3)).action
    assert isinstance(distribution, tfp.distributions.Deterministic)
    np.testing.assert_array_equal(distribution.loc.numpy(), [1, 1, 1])


def test_emitted_log_probability_of_the_greedy_action_is_zero():
    policy = greedy_policy.GreedyPolicy(LogitsPolicy(emit_log_probability=True))
    assert policy.emit_log_probability
    step = policy.action(_time_step(), tf.zeros(2))
    np.testing.assert_array_equal(step.info.log_probability.numpy(), [0.0, 0.0])


def test_distribution_without_mode_raises_value_error():
    class NoMode(tfp.distributions.Categorical):
        def _mode(self, **kwargs):
            raise NotImplementedError()

    policy = greedy_policy.GreedyPolicy(
        LogitsPolicy(distribution_fn=lambda logits: NoMode(logits=logits, dtype=tf.int32))
    )
    with pytest.raises(ValueError, match="does not implement mode"):
        policy.action(_time_step(), tf.zeros(2))


def test_deterministic_with_log_prob_is_float32_for_integer_points():
    distribution = greedy_policy.DeterministicWithLogProb(loc=tf.constant([2, 0]))
    log_prob = distribution.log_prob(tf.constant([2, 1]))
    assert log_prob.dtype == tf.float32
    np.testing.assert_array_equal(log_prob.numpy(), [0.0, -np.inf])
    np.testing.assert_array_equal(distribution.sample().numpy(), [2, 0])

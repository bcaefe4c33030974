"""BoltzmannPolicy: logits divided by the temperature (float, callable, None)."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import boltzmann_policy, tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

TS_SPEC = ts.time_step_spec(tensor_spec.TensorSpec((1,), tf.float32))
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2)


class LogitsPolicy(tf_policy.TFPolicy):
    def __init__(self):
        super().__init__(TS_SPEC, ACTIONS)
        self.logits = tf.Variable([1.0, 2.0, 4.0])

    def _distribution(self, time_step, policy_state):
        batch = tf.shape(time_step.discount)[0]
        logits = tf.tile(self.logits[None], [batch, 1])
        distribution = tfp.distributions.Categorical(logits=logits, dtype=tf.int32)
        return policy_step.PolicyStep(distribution, policy_state)


def _time_step(batch=1):
    return ts.restart(tf.zeros((batch, 1)), batch_size=batch)


def test_temperature_divides_logits():
    wrapped = LogitsPolicy()
    policy = boltzmann_policy.BoltzmannPolicy(wrapped, temperature=0.5)
    np.testing.assert_allclose(policy.distribution(_time_step()).action.logits, [[2, 4, 8]])
    assert [v.ref() for v in policy.variables()] == [wrapped.logits.ref()]


def test_callable_temperature_is_read_at_each_call_and_none_leaves_logits():
    temperature = tf.Variable(2.0)
    policy = boltzmann_policy.BoltzmannPolicy(LogitsPolicy(), temperature=lambda: temperature)
    np.testing.assert_allclose(policy.distribution(_time_step()).action.logits, [[0.5, 1, 2]])
    temperature.assign(4.0)
    np.testing.assert_allclose(policy.distribution(_time_step()).action.logits, [[0.25, 0.5, 1]])
    untouched = boltzmann_policy.BoltzmannPolicy(LogitsPolicy(), temperature=None)
    np.testing.assert_allclose(untouched.distribution(_time_step()).action.logits, [[1, 2, 4]])


def test_low_temperature_samples_the_argmax():
    policy = boltzmann_policy.BoltzmannPolicy(LogitsPolicy(), temperature=1e-3)
    assert (policy.action(_time_step(100), seed=4).action.numpy() == 2).all()

"""CategoricalQPolicy: expected Q-values as logits, masks, spec / network checks."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.policies import categorical_q_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

TS_SPEC = ts.time_step_spec(tensor_spec.TensorSpec((1,), tf.float32))
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 1)
NUM_ATOMS = 3


class FixedLogitsNet(tf.Module):
    """Per-action atom logits: action 0 leans to the low atom, action 1 to the high one."""

    num_atoms = NUM_ATOMS
    state_spec = ()

    def __init__(self, output_spec=None):
        super().__init__()
        self.logits = tf.Variable([[5.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
        self._output_spec = output_spec or tf.TensorSpec((2, NUM_ATOMS), tf.float32)

    def create_variables(self):
        return self._output_spec

    def __call__(self, observation, step_type=None, network_state=()):
        batch = tf.shape(observation)[0]
        return tf.tile(self.logits[None], [batch, 1, 1]), network_state


def _time_step(batch=2):
    return ts.restart(tf.zeros((batch, 1)), batch_size=batch)


def test_logits_are_expected_returns_over_the_support():
    policy = categorical_q_policy.CategoricalQPolicy(TS_SPEC, ACTIONS, FixedLogitsNet(), -10, 10)
    logits = policy.distribution(_time_step()).action.logits.numpy()
    p = np.exp([5.0, 0.0, 0.0]) / np.exp([5.0, 0.0, 0.0]).sum()
    expected = np.array([p @ [-10, 0, 10], p[::-1] @ [-10, 0, 10]])
    np.testing.assert_allclose(logits, [expected, expected], rtol=1e-5)
    assert len(policy.variables()) == 1


def test_masked_actions_get_minus_infinity():
    mask = tf.constant([[0, 1], [1, 0]])
    policy = categorical_q_policy.CategoricalQPolicy(
        TS_SPEC,
        ACTIONS,
        FixedLogitsNet(),
        -10,
        10,
        observation_and_action_constraint_splitter=lambda obs: (obs, mask),
    )
    logits = policy.distribution(_time_step()).action.logits.numpy()
    assert logits[0, 0] == -np.inf and logits[1, 1] == -np.inf
    np.testing.assert_array_equal(policy.action(_time_step()).action.numpy(), [1, 0])


def test_invalid_specs_and_networks_raise():
    with pytest.raises(TypeError, match="must be a BoundedTensorSpec"):
        categorical_q_policy.CategoricalQPolicy(TS_SPEC, [ACTIONS], FixedLogitsNet(), -1, 1)
    shifted = tensor_spec.BoundedTensorSpec((), tf.int32, 1, 2)
    with pytest.raises(ValueError, match="minimum of 0"):
        categorical_q_policy.CategoricalQPolicy(TS_SPEC, shifted, FixedLogitsNet(), -1, 1)
    wrong = FixedLogitsNet(output_spec=tf.TensorSpec((2, 4), tf.float32))
    with pytest.raises(ValueError, match="inner dims"):
        categorical_q_policy.CategoricalQPolicy(TS_SPEC, ACTIONS, wrong, -1, 1)

    class NoAtoms(FixedLogitsNet):
        num_atoms = property(lambda self: self.missing)

    with pytest.raises(ValueError, match="num_atoms"):
        categorical_q_policy.CategoricalQPolicy(TS_SPEC, ACTIONS, NoAtoms(), -1, 1)

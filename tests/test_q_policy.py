"""QPolicy: Q-values as logits, masks, shifted actions, spec / network checks."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.distributions import shifted_categorical
from tfdrive.policies import q_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((2,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2)


class LinearQNet(tf.Module):
    """A minimal Q-network: ``q = obs @ kernel``, kernel ``[2, num_actions]``.

    Only the network protocol QPolicy relies on: ``__call__``, `state_spec`,
    `create_variables` and `variables`.
    """

    def __init__(self, kernel, output_spec=None, action_spec=None):
        super().__init__()
        self.kernel = tf.Variable(kernel, dtype=tf.float32)
        num_actions = int(self.kernel.shape[1])
        self._output_spec = output_spec or tf.TensorSpec((num_actions,), tf.float32)
        if action_spec is not None:
            self.action_spec = action_spec
        self.state_spec = ()

    def create_variables(self):
        return self._output_spec

    def __call__(self, observation, network_state=(), step_type=None):
        return tf.matmul(observation, self.kernel), network_state


def _time_step(observation):
    observation = tf.constant(observation, tf.float32)
    return ts.restart(observation, batch_size=int(observation.shape[0]))


KERNEL = [[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]


def test_logits_are_the_q_values_and_the_mode_is_their_argmax():
    policy = q_policy.QPolicy(TS_SPEC, ACTIONS, LinearQNet(KERNEL))
    distribution = policy.distribution(_time_step([[1.0, 0.0], [0.0, 1.0]])).action
    assert isinstance(distribution, tfp.distributions.Categorical)
    assert distribution.dtype == tf.int32
    np.testing.assert_allclose(distribution.logits.numpy(), [[1, 2, 0], [0, 1, 3]])
    np.testing.assert_array_equal(distribution.mode().numpy(), [1, 2])
    assert len(policy.variables()) == 1


def test_mask_excludes_actions_from_samples_and_mode():
    mask = tf.constant([[1, 0, 1]] * 200)
    policy = q_policy.QPolicy(
        TS_SPEC,
        ACTIONS,
        LinearQNet(KERNEL),
        observation_and_action_constraint_splitter=lambda obs: (obs, mask),
    )
    time_step = _time_step([[1.0, 0.0]] * 200)
    actions = policy.action(time_step, seed=2).action.numpy()
    assert set(actions) <= {0, 2}
    logits = policy.distribution(time_step).action.logits.numpy()
    assert logits[0, 1] == np.finfo(np.float32).min


def test_nonzero_minimum_without_validation_shifts_actions():
    spec = tensor_spec.BoundedTensorSpec((), tf.int64, 5, 7)
    policy = q_policy.QPolicy(
        TS_SPEC, spec, LinearQNet(KERNEL), validate_action_spec_and_network=False
    )
    distribution = policy.distribution(_time_step([[1.0, 0.0]])).action
    assert isinstance(distribution, shifted_categorical.ShiftedCategorical)
    np.testing.assert_array_equal(distribution.mode().numpy(), [6])
    action = policy.action(_time_step([[1.0, 0.0]] * 50)).action
    assert action.dtype == tf.int64
    assert set(action.numpy()) <= {5, 6, 7}


def test_nested_single_spec_gives_nested_actions_and_emits_log_probability():
    policy = q_policy.QPolicy(TS_SPEC, [ACTIONS], LinearQNet(KERNEL), emit_log_probability=True)
    step = policy.action(_time_step([[1.0, 0.0]]))
    assert isinstance(step.action, list) and len(step.action) == 1
    assert step.info.log_probability[0].shape == (1,)


@pytest.mark.parametrize(
    "spec, network, message",
    [
        ([ACTIONS, ACTIONS], LinearQNet(KERNEL), "Only scalar actions"),
        (tensor_spec.BoundedTensorSpec((1,), tf.int32, 0, 2), LinearQNet(KERNEL), "scalar"),
        (tensor_spec.BoundedTensorSpec((), tf.int32, 1, 3), LinearQNet(KERNEL), "minimum of 0"),
        (ACTIONS, LinearQNet([[1.0, 2.0], [3.0, 4.0]]), r"inner dims \(3,\)"),
        (
            ACTIONS,
            LinearQNet(KERNEL, output_spec=tf.TensorSpec((3,), tf.int32)),
            "floating point",
        ),
        (
            ACTIONS,
            LinearQNet(KERNEL, action_spec=tensor_spec.BoundedTensorSpec((2,), tf.int32, 0, 2)),
            "compatible with q_network.action_spec",
        ),
    ],
)
def test_invalid_specs_and_networks_raise(spec, network, message):
    with pytest.raises(ValueError, match=message):
        q_policy.QPolicy(TS_SPEC, spec, network)

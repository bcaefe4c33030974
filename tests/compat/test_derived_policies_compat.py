"""Differential tests: tfdrive's Q, greedy, Boltzmann and epsilon-greedy policies against TF-Agents.

Both libraries' policies wrap the same TF-Agents network (setting a's
migration path), so distribution parameters, greedy actions and error
messages must agree exactly. Run in the compat environment (tf-agents 0.19).
"""

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
from tf_agents.distributions import masked as tfa_masked  # noqa: E402
from tf_agents.distributions import shifted_categorical as tfa_shifted  # noqa: E402
from tf_agents.networks import categorical_q_network as tfa_cqn  # noqa: E402
from tf_agents.networks import q_network as tfa_qn  # noqa: E402
from tf_agents.policies import boltzmann_policy as tfa_boltzmann  # noqa: E402
from tf_agents.policies import categorical_q_policy as tfa_cqp  # noqa: E402
from tf_agents.policies import epsilon_greedy_policy as tfa_eg  # noqa: E402
from tf_agents.policies import greedy_policy as tfa_greedy  # noqa: E402
from tf_agents.policies import q_policy as tfa_q_policy  # noqa: E402
from tf_agents.policies import utils as tfa_utils  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402

from tfdrive.distributions import masked, shifted_categorical  # noqa: E402
from tfdrive.policies import (  # noqa: E402
    boltzmann_policy,
    categorical_q_policy,
    epsilon_greedy_policy,
    greedy_policy,
    q_policy,
)
from tfdrive.policies import utils as policy_utils  # noqa: E402
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402

OBS = tensor_spec.TensorSpec((3,), tf.float32)
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 4)
MASK = tf.constant([[1, 0, 1, 1, 0]] * 6)


@pytest.fixture(scope="module")
def observations():
    return tf.constant(np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32))


def _q_policies(splitter=None):
    net = tfa_qn.QNetwork(OBS, ACTIONS, fc_layer_params=(8,))
    kwargs = dict(observation_and_action_constraint_splitter=splitter)
    ours = q_policy.QPolicy(ts.time_step_spec(OBS), ACTIONS, net, **kwargs)
    theirs = tfa_q_policy.QPolicy(tfa_ts.time_step_spec(OBS), ACTIONS, net, **kwargs)
    return ours, theirs


@pytest.mark.parametrize("splitter", [None, lambda obs: (obs, MASK)])
def test_q_greedy_and_boltzmann_distributions_agree(observations, splitter):
    ours, theirs = _q_policies(splitter)
    step, tfa_step = ts.restart(observations, 6), tfa_ts.restart(observations, 6)
    np.testing.assert_array_equal(
        ours.distribution(step).action.logits, theirs.distribution(tfa_step).action.logits
    )
    np.testing.assert_array_equal(
        greedy_policy.GreedyPolicy(ours).action(step).action,
        tfa_greedy.GreedyPolicy(theirs).action(tfa_step).action,
    )
    np.testing.assert_array_equal(
        boltzmann_policy.BoltzmannPolicy(ours, 0.3).distribution(step).action.logits,
        tfa_boltzmann.BoltzmannPolicy(theirs, 0.3).distribution(tfa_step).action.logits,
    )
    zero = epsilon_greedy_policy.EpsilonGreedyPolicy(ours, 0.0)
    tfa_zero = tfa_eg.EpsilonGreedyPolicy(theirs, 0.0)
    np.testing.assert_array_equal(zero.action(step).action, tfa_zero.action(tfa_step).action)


def test_categorical_q_logits_agree(observations):
    net = tfa_cqn.CategoricalQNetwork(OBS, ACTIONS, num_atoms=5, fc_layer_params=(8,))
    args = (ACTIONS, net, -3.0, 7.0)
    ours = categorical_q_policy.CategoricalQPolicy(ts.time_step_spec(OBS), *args)
    theirs = tfa_cqp.CategoricalQPolicy(tfa_ts.time_step_spec(OBS), *args)
    np.testing.assert_allclose(
        ours.distribution(ts.restart(observations, 6)).action.logits,
        theirs.distribution(tfa_ts.restart(observations, 6)).action.logits,
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "spec",
    [
        [ACTIONS, ACTIONS],
        tensor_spec.BoundedTensorSpec((2,), tf.int32, 0, 4),
        tensor_spec.BoundedTensorSpec((), tf.int32, 1, 5),
    ],
)
def test_q_policy_errors_agree(spec):
    net = tfa_qn.QNetwork(OBS, ACTIONS)
    with pytest.raises(ValueError) as theirs:
        tfa_q_policy.QPolicy(tfa_ts.time_step_spec(OBS), spec, net)
    with pytest.raises(ValueError) as ours:
        q_policy.QPolicy(ts.time_step_spec(OBS), spec, net)
    # gin appends "In call to configurable 'QPolicy'" to TF-Agents' message.
    assert str(theirs.value).startswith(str(ours.value) + "\n")


def test_utils_and_distributions_agree():
    values = tf.constant([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0], [1.0, 1.0, 1.0]])
    mask = tf.constant([[0, 1, 1], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(
        policy_utils.masked_argmax(values, mask), tfa_utils.masked_argmax(values, mask)
    )
    for spec in [ACTIONS, tensor_spec.BoundedTensorSpec((), tf.float32, 0, 4)]:
        try:
            want = tfa_utils.get_num_actions_from_tensor_spec(spec)
        except ValueError as e:
            with pytest.raises(ValueError, match=str(e)):
                policy_utils.get_num_actions_from_tensor_spec(spec)
        else:
            assert policy_utils.get_num_actions_from_tensor_spec(spec) == want

    logits, points = tf.constant([[0.5, 2.0, -1.0]]), tf.constant([[2], [3], [4]])
    ours = shifted_categorical.ShiftedCategorical(logits=logits, shift=2)
    theirs = tfa_shifted.ShiftedCategorical(logits=logits, shift=2)
    np.testing.assert_array_equal(ours.log_prob(points), theirs.log_prob(points))
    np.testing.assert_array_equal(ours.mode(), theirs.mode())
    ours = masked.MaskedCategorical(logits, [[1, 0, 1]])
    theirs = tfa_masked.MaskedCategorical(logits, [[1, 0, 1]])
    np.testing.assert_array_equal(ours.logits, theirs.logits)
    np.testing.assert_allclose(ours.entropy(), theirs.entropy(), rtol=1e-6)

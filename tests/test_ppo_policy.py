"""PPOPolicy: collect info, value network application, dict state."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._keras import keras
from tfdrive.agents.ppo import ppo_policy
from tfdrive.networks import (
    actor_distribution_network,
    actor_distribution_rnn_network,
    value_network,
    value_rnn_network,
)
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import tensor_normalizer

OBS = tensor_spec.TensorSpec((3,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0)


def ff_networks():
    """`(actor, value)`: one dense layer of 8 each, DISCRETE actions."""
    keras.utils.set_random_seed(0)
    actor = actor_distribution_network.ActorDistributionNetwork(OBS, DISCRETE, fc_layer_params=(8,))
    value = value_network.ValueNetwork(OBS, fc_layer_params=(8,))
    return actor, value


def rnn_networks(action_spec):
    """LSTM actor (dense 6 -> LSTM 4 -> dense 5) and value (dense 6 -> LSTM 3 -> dense 5)."""
    keras.utils.set_random_seed(2)
    actor = actor_distribution_rnn_network.ActorDistributionRnnNetwork(
        OBS, action_spec, input_fc_layer_params=(6,), lstm_size=(4,), output_fc_layer_params=(5,)
    )
    value = value_rnn_network.ValueRnnNetwork(
        OBS, input_fc_layer_params=(6,), lstm_size=(3,), output_fc_layer_params=(5,)
    )
    return actor, value


def apply(net, observation):
    """Runs a feed-forward network outside the policy: its output only."""
    return net(observation, step_type=None, network_state=())[0]


def _time_step(obs, step_type=ts.StepType.MID):
    obs = tf.convert_to_tensor(obs)
    batch = obs.shape[0]
    return ts.TimeStep(tf.fill([batch], step_type), tf.zeros(batch), tf.ones(batch), obs)


@pytest.fixture(scope="module")
def obs():
    return np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def nets():
    return ff_networks()


@pytest.fixture(scope="module")
def rnn_nets():
    return rnn_networks(CONTINUOUS)


@pytest.fixture(scope="module")
def policy(nets):
    return ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, nets[0], nets[1])


def test_collect_info_spec_and_values(policy, nets, obs):
    spec = policy.info_spec
    assert set(spec) == {"dist_params", "value_prediction"}
    assert spec["dist_params"]["logits"].shape == (3,)
    assert spec["value_prediction"] == tf.TensorSpec([], tf.float32, name="value_prediction")
    assert policy.policy_state_spec == ()
    step = policy.action(_time_step(obs))
    assert step.action.shape == (4,) and step.action.dtype == tf.int64
    assert step.state == ()
    expected_dist = apply(nets[0], obs)
    expected_value = apply(nets[1], obs)
    np.testing.assert_allclose(
        step.info["dist_params"]["logits"].numpy(), expected_dist.logits.numpy()
    )
    np.testing.assert_allclose(step.info["value_prediction"].numpy(), expected_value.numpy())
    assert step.info["value_prediction"].shape == (4,)
    assert step.info["value_prediction"].dtype == tf.float32


def test_log_probability_of_actions_against_tfp(policy, obs):
    step = policy.action(_time_step(obs))
    dist = policy.distribution(_time_step(obs)).action
    direct = tfp.distributions.Categorical(logits=step.info["dist_params"]["logits"]).log_prob(
        step.action
    )
    np.testing.assert_allclose(dist.log_prob(step.action).numpy(), direct.numpy(), rtol=1e-6)


def test_normal_dist_params(rnn_nets, obs):
    policy = ppo_policy.PPOPolicy(TS_SPEC, CONTINUOUS, rnn_nets[0], rnn_nets[1])
    assert set(policy.info_spec["dist_params"]) == {"loc", "scale"}
    time_step = _time_step(obs, ts.StepType.FIRST)
    step = policy.action(time_step, policy.get_initial_state(4))
    assert step.info["dist_params"]["loc"].shape == (4, 2)
    # The parameters of the distribution the actor emits for the same input.
    actor_state = policy.get_initial_state(4)["actor_network_state"]
    distribution, _ = rnn_nets[0](obs, step_type=time_step.step_type, network_state=actor_state)
    np.testing.assert_allclose(step.info["dist_params"]["loc"], distribution.loc, rtol=1e-6)
    np.testing.assert_allclose(step.info["dist_params"]["scale"], distribution.stddev(), rtol=1e-6)
    assert np.all(np.abs(step.action.numpy()) <= 1.0)


def test_compute_value_in_train_and_no_collect(nets, obs):
    in_train = ppo_policy.PPOPolicy(
        TS_SPEC, DISCRETE, nets[0], nets[1], compute_value_and_advantage_in_train=True
    )
    assert set(in_train.info_spec) == {"dist_params"}
    assert set(in_train.action(_time_step(obs)).info) == {"dist_params"}
    no_collect = ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, nets[0], nets[1], collect=False)
    assert no_collect.info_spec == ()
    assert no_collect.action(_time_step(obs)).info == ()


def test_apply_value_network_batch_and_time(policy, nets, obs):
    values, state = policy.apply_value_network(obs, tf.ones([4], tf.int32), value_state=())
    assert values.shape == (4,) and state == ()
    seq_values, _ = policy.apply_value_network(obs.reshape(2, 2, 3), tf.ones([2, 2], tf.int32))
    assert seq_values.shape == (2, 2)
    np.testing.assert_allclose(seq_values.numpy().reshape(4), values.numpy(), rtol=1e-6)


def test_normalizer_applies_to_both_networks(nets, obs):
    normalizer = tensor_normalizer.StreamingTensorNormalizer(OBS)
    normalizer.update(tf.constant(obs))
    policy = ppo_policy.PPOPolicy(
        TS_SPEC, DISCRETE, nets[0], nets[1], observation_normalizer=normalizer
    )
    normalized = normalizer.normalize(tf.constant(obs))
    step = policy.action(_time_step(obs))
    np.testing.assert_allclose(
        step.info["value_prediction"].numpy(), apply(nets[1], normalized).numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(
        step.info["dist_params"]["logits"].numpy(),
        apply(nets[0], normalized).logits.numpy(),
        rtol=1e-5,
    )
    assert len(policy.variables()) == len(nets[0].variables) + len(nets[1].variables) + 4


def test_dict_state_with_recurrent_networks(rnn_nets, obs):
    policy = ppo_policy.PPOPolicy(TS_SPEC, CONTINUOUS, rnn_nets[0], rnn_nets[1])
    assert set(policy.policy_state_spec) == {"actor_network_state", "value_network_state"}
    state = policy.get_initial_state(4)
    assert [s.shape for s in state["actor_network_state"]] == [(4, 4), (4, 4)]
    assert [s.shape for s in state["value_network_state"]] == [(4, 3), (4, 3)]
    value_state = policy.get_initial_value_state(4)
    assert [s.shape for s in value_state] == [(4, 3), (4, 3)]
    step = policy.action(_time_step(obs, ts.StepType.FIRST), state)
    assert set(step.state) == {"actor_network_state", "value_network_state"}
    assert not np.allclose(step.state["actor_network_state"][0].numpy(), 0.0)
    # Value state only when collecting values; actor state only when recurrent.
    in_train = ppo_policy.PPOPolicy(
        TS_SPEC, CONTINUOUS, rnn_nets[0], rnn_nets[1], compute_value_and_advantage_in_train=True
    )
    assert set(in_train.policy_state_spec) == {"actor_network_state"}
    ff_actor = actor_distribution_network.ActorDistributionNetwork(
        OBS, CONTINUOUS, fc_layer_params=(4,)
    )
    value_only = ppo_policy.PPOPolicy(TS_SPEC, CONTINUOUS, ff_actor, rnn_nets[1])
    assert set(value_only.policy_state_spec) == {"value_network_state"}
    step = value_only.action(_time_step(obs, ts.StepType.FIRST), value_only.get_initial_state(4))
    assert set(step.state) == {"value_network_state"}


def test_automatic_state_reset_on_first(rnn_nets, obs):
    policy = ppo_policy.PPOPolicy(TS_SPEC, CONTINUOUS, rnn_nets[0], rnn_nets[1])
    zero = policy.get_initial_state(4)
    junk = tf.nest.map_structure(lambda t: t + 7.0, zero)
    step_first = policy.distribution(_time_step(obs, ts.StepType.FIRST), junk)
    step_zero = policy.distribution(_time_step(obs, ts.StepType.FIRST), zero)
    np.testing.assert_allclose(
        step_first.info["value_prediction"], step_zero.info["value_prediction"]
    )
    np.testing.assert_allclose(
        step_first.info["dist_params"]["loc"], step_zero.info["dist_params"]["loc"], rtol=1e-6
    )
    step_mid = policy.distribution(_time_step(obs, ts.StepType.MID), junk)
    assert not np.allclose(step_mid.info["value_prediction"], step_zero.info["value_prediction"])


def test_type_errors_for_non_networks(nets):
    with pytest.raises(TypeError, match="actor_network is not of type network.Network"):
        ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, object(), nets[1])
    with pytest.raises(TypeError, match="value_network is not of type network.Network"):
        ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, nets[0], object())


def test_value_network_must_emit_one_value(nets):
    with pytest.raises(ValueError, match="value_network emits outputs that are not tensors"):
        ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, nets[0], nets[0])

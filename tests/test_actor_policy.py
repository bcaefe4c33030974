"""ActorPolicy: network outputs become actions, masks, normalizers, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._keras import keras
from tfdrive.networks import actor_distribution_network, network
from tfdrive.policies import actor_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import tensor_normalizer

OBS = tensor_spec.TensorSpec((3,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3)
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0)


def _time_step(obs):
    """A batch of MID steps around `obs` (a tensor, array or nest)."""
    obs = tf.nest.map_structure(tf.convert_to_tensor, obs)
    batch = tf.nest.flatten(obs)[0].shape[0]
    return ts.TimeStep(tf.ones([batch], tf.int32), tf.zeros(batch), tf.ones(batch), obs)


class DeterministicNet(network.Network):
    """Returns ``2 * observation[:, :2]`` as the action tensor."""

    def __init__(self):
        super().__init__(OBS, state_spec=(), name="DeterministicNet")
        self.scale = tf.Variable(2.0)
        self.last_training = None

    def call(self, observation, step_type=None, network_state=(), training=False):
        self.last_training = training
        return self.scale * observation[:, :2], network_state


@pytest.fixture(scope="module")
def categorical_net():
    keras.utils.set_random_seed(0)
    return actor_distribution_network.ActorDistributionNetwork(OBS, DISCRETE, fc_layer_params=(8,))


def apply(net, observation):
    """Runs a feed-forward network outside the policy: its output only."""
    return net(observation, step_type=None, network_state=())[0]


@pytest.fixture(scope="module")
def obs():
    return np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)


def test_action_samples_the_network_distribution(categorical_net, obs):
    policy = actor_policy.ActorPolicy(TS_SPEC, DISCRETE, categorical_net)
    dist = policy.distribution(_time_step(obs)).action
    logits = apply(categorical_net, obs)
    np.testing.assert_allclose(dist.logits.numpy(), logits.logits.numpy())
    step = policy.action(_time_step(obs))
    assert step.action.shape == (4,) and step.action.dtype == tf.int32
    assert step.state == () and step.info == ()
    assert policy.policy_state_spec == ()
    assert len(policy.variables()) == 4


def test_tensor_output_becomes_deterministic_and_is_clipped():
    net = DeterministicNet()
    policy = actor_policy.ActorPolicy(TS_SPEC, CONTINUOUS, net, training=True)
    obs = np.array([[0.25, -2.0, 9.0]], np.float32)
    dist = policy.distribution(_time_step(obs)).action
    assert isinstance(dist, tfp.distributions.Deterministic)
    np.testing.assert_allclose(dist.loc.numpy(), [[0.5, -4.0]])
    np.testing.assert_allclose(policy.action(_time_step(obs)).action.numpy(), [[0.5, -1.0]])
    assert net.last_training is True
    unclipped = actor_policy.ActorPolicy(TS_SPEC, CONTINUOUS, net, clip=False)
    np.testing.assert_allclose(unclipped.action(_time_step(obs)).action.numpy(), [[0.5, -4.0]])


def test_mask_is_never_violated_over_1000_samples(categorical_net):
    obs_spec = {"obs": OBS, "mask": tensor_spec.TensorSpec((4,), tf.int32)}
    policy = actor_policy.ActorPolicy(
        ts.time_step_spec(obs_spec),
        DISCRETE,
        categorical_net,
        observation_and_action_constraint_splitter=lambda o: (o["obs"], o["mask"]),
    )
    observation = {
        "obs": tf.random.stateless_normal([1000, 3], seed=[1, 2]),
        "mask": tf.tile([[0, 1, 0, 1]], [1000, 1]),
    }
    action = policy.action(_time_step(observation)).action.numpy()
    assert set(np.unique(action)) == {1, 3}


def test_observation_normalizer_is_applied(categorical_net, obs):
    normalizer = tensor_normalizer.StreamingTensorNormalizer(OBS)
    normalizer.update(tf.constant(obs))
    policy = actor_policy.ActorPolicy(
        TS_SPEC, DISCRETE, categorical_net, observation_normalizer=normalizer
    )
    assert policy.observation_normalizer is normalizer
    normalized = (obs - obs.mean(0)) / np.sqrt(obs.var(0) + 1e-3)
    expected = apply(categorical_net, np.clip(normalized, -5, 5).astype(np.float32))
    dist = policy.distribution(_time_step(obs)).action
    np.testing.assert_allclose(dist.logits.numpy(), expected.logits.numpy(), rtol=1e-4, atol=1e-5)


def test_not_a_network_raises_value_error():
    with pytest.raises(ValueError, match="actor_network must be a network.Network"):
        actor_policy.ActorPolicy(TS_SPEC, DISCRETE, lambda x: x)


def test_splitter_with_continuous_action_raises(categorical_net):
    net = DeterministicNet()
    with pytest.raises(NotImplementedError, match="single spec of discrete actions"):
        actor_policy.ActorPolicy(
            TS_SPEC, CONTINUOUS, net, observation_and_action_constraint_splitter=lambda o: (o, o)
        )


def test_action_spec_must_match_network(categorical_net):
    other = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 3)
    with pytest.raises(ValueError, match="actor_network output spec does not match action spec"):
        actor_policy.ActorPolicy(TS_SPEC, other, categorical_net)


def test_array_specs_accepted(categorical_net):
    policy = actor_policy.ActorPolicy(
        tensor_spec.to_array_spec(TS_SPEC), tensor_spec.to_array_spec(DISCRETE), categorical_net
    )
    assert isinstance(policy.action_spec, tensor_spec.BoundedTensorSpec)

"""tfdrive's actor and value networks: values against numpy, shapes, specs, recurrent state."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from ppo_nets import rnn_actor_network
from tfdrive._keras import keras
from tfdrive.networks import (
    actor_distribution_network,
    actor_distribution_rnn_network,
    categorical_projection_network,
    network,
    normal_projection_network,
    value_network,
    value_rnn_network,
)
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((3,), tf.float32)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3)
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, [-1.0, 0.0], [1.0, 4.0])


def _mlp(x, variables, n_layers):
    for i in range(n_layers):
        x = np.maximum(x @ variables[2 * i].numpy() + variables[2 * i + 1].numpy(), 0.0)
    return x


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope="module")
def obs_batch():
    return np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def categorical_net():
    return actor_distribution_network.ActorDistributionNetwork(
        OBS, DISCRETE, fc_layer_params=(8, 6)
    )


@pytest.fixture(scope="module")
def rnn_net():
    return rnn_actor_network(DISCRETE)


def test_protocol_helpers(categorical_net):
    assert network.is_network(categorical_net)
    assert network.is_distribution_network(categorical_net)
    assert not network.is_network(lambda x: x)
    assert categorical_net.state_spec == ()
    assert categorical_net.input_tensor_spec == OBS


def test_categorical_head_matches_numpy(categorical_net, obs_batch):
    dist, state = categorical_net(obs_batch, step_type=None, network_state=())
    assert state == ()
    assert isinstance(dist, tfp.distributions.Categorical)
    assert dist.dtype == tf.int32
    v = categorical_net.variables
    assert [tuple(x.shape) for x in v] == [(3, 8), (8,), (8, 6), (6,), (6, 4), (4,)]
    expected = _mlp(obs_batch, v, 2) @ v[4].numpy() + v[5].numpy()
    np.testing.assert_allclose(dist.logits.numpy(), expected, rtol=1e-5, atol=1e-6)
    spec = categorical_net.output_spec
    assert spec.sample_spec == DISCRETE
    assert spec.input_params_spec["logits"].shape == (4,)
    assert categorical_net.output_tensor_spec == DISCRETE


def test_seed_fixes_only_the_continuous_means_kernel():
    nets = [
        actor_distribution_network.ActorDistributionNetwork(
            OBS, CONTINUOUS, fc_layer_params=(4,), seed=7
        )
        for _ in range(2)
    ]
    for net in nets:
        net.create_variables()
    a, b = ([v.numpy() for v in net.variables] for net in nets)
    np.testing.assert_array_equal(a[2], b[2])  # means kernel [4, 2]
    assert not np.array_equal(a[0], b[0])  # the encoder's kernel is not seeded


def test_global_tf_seed_fixes_initial_values():
    def build(seed):
        tf.random.set_seed(seed)
        net = value_network.ValueNetwork(OBS, fc_layer_params=(4,))
        net.create_variables()
        return [v.numpy() for v in net.variables]

    first, again, other = build(123), build(123), build(124)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_batch_and_time_outer_dims(categorical_net, obs_batch):
    seq = obs_batch.reshape(1, 5, 3)
    dist_bt, _ = categorical_net(seq, None, ())
    dist_b, _ = categorical_net(obs_batch, None, ())
    assert dist_bt.logits.shape == (1, 5, 4)
    np.testing.assert_allclose(dist_bt.logits.numpy()[0], dist_b.logits.numpy(), rtol=1e-6)


def test_mask_sets_lowest_logit(categorical_net, obs_batch):
    mask = np.array([[1, 0, 1, 0]] * 5, np.int32)
    dist, _ = categorical_net(obs_batch, None, (), mask=mask)
    logits = dist.logits.numpy()
    assert np.all(logits[:, [1, 3]] == np.finfo(np.float32).min)
    samples = dist.sample(1000, seed=1).numpy()
    assert set(np.unique(samples)) <= {0, 2}


def test_normal_head_is_squashed_with_initial_std():
    net = actor_distribution_network.ActorDistributionNetwork(OBS, CONTINUOUS, fc_layer_params=(8,))
    obs = np.ones((2, 3), np.float32)
    dist, _ = net(obs, None, ())
    assert isinstance(dist, tfp.distributions.MultivariateNormalDiag)
    v = net.variables
    pre = _mlp(obs, v, 1) @ v[2].numpy() + v[3].numpy()
    expected_loc = np.array([0.0, 2.0]) + np.array([1.0, 2.0]) * np.tanh(pre)
    np.testing.assert_allclose(dist.mean().numpy(), expected_loc, rtol=1e-5)
    np.testing.assert_allclose(dist.stddev().numpy(), np.full((2, 2), 0.35), rtol=1e-5)
    assert set(net.output_spec.input_params_spec) == {"loc", "scale"}


def test_scalar_continuous_action_gives_normal():
    spec = tensor_spec.BoundedTensorSpec((), tf.float32, -2.0, 2.0)
    net = actor_distribution_network.ActorDistributionNetwork(OBS, spec, fc_layer_params=(4,))
    dist, _ = net(np.zeros((3, 3), np.float32), None, ())
    assert isinstance(dist, tfp.distributions.Normal)
    assert dist.loc.shape == (3,) and dist.scale.shape == (3,)


def test_nested_action_specs():
    spec = {"move": CONTINUOUS, "pick": DISCRETE}
    net = actor_distribution_network.ActorDistributionNetwork(OBS, spec, fc_layer_params=(4,))
    dists, _ = net(np.zeros((2, 3), np.float32), None, ())
    assert isinstance(dists["move"], tfp.distributions.MultivariateNormalDiag)
    assert isinstance(dists["pick"], tfp.distributions.Categorical)
    assert set(net.output_spec) == {"move", "pick"}
    assert len(net.variables) == 2 + 3 + 2


def test_nested_observation_needs_combiner():
    obs = {"a": OBS, "b": tensor_spec.TensorSpec((2, 2), tf.float32)}
    with pytest.raises(ValueError, match="preprocessing_combiner layer is required"):
        value_network.ValueNetwork(obs)
    net = value_network.ValueNetwork(
        obs,
        preprocessing_layers={"a": keras.layers.Lambda(lambda x: x), "b": keras.layers.Flatten()},
        preprocessing_combiner=keras.layers.Concatenate(axis=-1),
        fc_layer_params=(4,),
    )
    values, _ = net({"a": tf.ones((2, 3)), "b": tf.ones((2, 2, 2))})
    assert values.shape == (2,)
    assert net.variables[0].shape == (7, 4)


def test_conv_and_dropout_layers():
    obs = tensor_spec.TensorSpec((6, 6, 2), tf.float32)
    net = actor_distribution_network.ActorDistributionNetwork(
        obs,
        CONTINUOUS,
        conv_layer_params=[(4, 3, 1)],
        fc_layer_params=(5,),
        dropout_layer_params=[0.5],
    )
    x = np.ones((3, 6, 6, 2), np.float32)
    dist, _ = net(x, None, ())
    assert [tuple(v.shape) for v in net.variables] == [
        (3, 3, 2, 4), (4,), (64, 5), (5,), (5, 2), (2,), (2,)
    ]  # fmt: skip
    np.testing.assert_array_equal(dist.mean().numpy(), net(x, None, ())[0].mean().numpy())
    trained = [net(x, None, (), training=True)[0].mean().numpy() for _ in range(5)]
    assert any(not np.array_equal(trained[0], t) for t in trained[1:])


def test_custom_projection_networks():
    def discrete(spec):
        return categorical_projection_network.CategoricalProjectionNetwork(
            spec, logits_init_output_factor=1e-30
        )

    def continuous(spec):
        return normal_projection_network.NormalProjectionNetwork(
            spec, state_dependent_std=True, scale_distribution=True
        )

    net = actor_distribution_network.ActorDistributionNetwork(
        OBS,
        (DISCRETE, CONTINUOUS),
        fc_layer_params=(4,),
        discrete_projection_net=discrete,
        continuous_projection_net=continuous,
    )
    (categorical, squashed), _ = net(np.ones((2, 3), np.float32), None, ())
    np.testing.assert_allclose(categorical.logits.numpy(), np.zeros((2, 4)), atol=1e-12)
    assert isinstance(squashed, normal_projection_network.SquashToSpecNormal)
    assert len(net.variables) == 2 + 2 + 4


def test_input_validation(categorical_net):
    with pytest.raises(ValueError):
        categorical_net(np.zeros((2, 4), np.float32), None, ())
    with pytest.raises(ValueError):
        categorical_net(np.zeros((2, 3), np.int32), None, ())


def test_value_network_matches_numpy(obs_batch):
    net = value_network.ValueNetwork(OBS, fc_layer_params=(8, 4))
    values, state = net(obs_batch)
    assert values.shape == (5,) and values.dtype == tf.float32 and state == ()
    v = net.variables
    expected = (_mlp(obs_batch, v, 2) @ v[4].numpy() + v[5].numpy())[:, 0]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(v[4].numpy()) <= 0.03)
    seq_values, _ = net(obs_batch.reshape(5, 1, 3))
    assert seq_values.shape == (5, 1)
    assert net.create_variables(OBS) == tf.TensorSpec([], tf.float32)


def test_rnn_state_spec(rnn_net):
    assert [s.shape for s in rnn_net.state_spec] == [(4,), (4,)]
    assert [s.name for s in rnn_net.state_spec] == ["network_state_0", "network_state_1"]
    with pytest.raises(ValueError, match="lstm_size"):
        actor_distribution_rnn_network.ActorDistributionRnnNetwork(OBS, DISCRETE)


def test_rnn_single_step_matches_numpy_lstm(rnn_net, obs_batch):
    state = [tf.fill([5, 4], 0.5), tf.fill([5, 4], -0.25)]
    step_type = tf.fill([5], ts.StepType.MID)
    dist, (h, c) = rnn_net(obs_batch, step_type=step_type, network_state=state)
    v = [x.numpy() for x in rnn_net.variables]
    x = np.maximum(obs_batch @ v[0] + v[1], 0.0)
    z = x @ v[2] + np.full((5, 4), 0.5) @ v[3] + v[4]
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = _sigmoid(f) * -0.25 + _sigmoid(i) * np.tanh(g)
    h_new = _sigmoid(o) * np.tanh(c_new)
    np.testing.assert_allclose(c.numpy(), c_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), h_new, rtol=1e-5, atol=1e-6)
    feat = np.maximum(h_new @ v[5] + v[6], 0.0)
    np.testing.assert_allclose(dist.logits.numpy(), feat @ v[7] + v[8], rtol=1e-5, atol=1e-6)


def test_rnn_resets_state_on_first(rnn_net, obs_batch):
    junk = [tf.fill([5, 4], 3.0), tf.fill([5, 4], -3.0)]
    zeros = [tf.zeros([5, 4]), tf.zeros([5, 4])]
    step_type = tf.constant([0, 1, 0, 1, 1])
    dist_junk, state_junk = rnn_net(obs_batch, step_type=step_type, network_state=junk)
    dist_zero, state_zero = rnn_net(obs_batch, step_type=step_type, network_state=zeros)
    first = [0, 2]
    np.testing.assert_allclose(dist_junk.logits.numpy()[first], dist_zero.logits.numpy()[first])
    np.testing.assert_allclose(state_junk[0].numpy()[first], state_zero[0].numpy()[first])
    assert not np.allclose(dist_junk.logits.numpy()[[1, 3]], dist_zero.logits.numpy()[[1, 3]])
    # An empty state means zeros.
    dist_empty, _ = rnn_net(obs_batch, step_type=step_type, network_state=())
    np.testing.assert_allclose(dist_empty.logits.numpy(), dist_zero.logits.numpy())


def test_rnn_sequence_equals_stepping(rnn_net, obs_batch):
    seq = obs_batch.reshape(1, 5, 3)
    step_types = tf.constant([[0, 1, 1, 0, 1]])
    dist_seq, final_seq = rnn_net(seq, step_type=step_types, network_state=())
    state = ()
    logits = []
    for t in range(5):
        dist, state = rnn_net(seq[:, t], step_type=step_types[:, t], network_state=state)
        logits.append(dist.logits.numpy()[0])
    np.testing.assert_allclose(dist_seq.logits.numpy()[0], np.stack(logits), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final_seq[0].numpy(), state[0].numpy(), rtol=1e-5, atol=1e-6)


def test_rnn_dynamic_time_dimension(rnn_net, obs_batch):
    seq = obs_batch.reshape(1, 5, 3)
    step_types = tf.constant([[0, 1, 1, 0, 1]])
    fn = tf.function(
        lambda o, s: rnn_net(o, step_type=s)[0].logits,
        input_signature=[tf.TensorSpec([None, None, 3]), tf.TensorSpec([None, None], tf.int32)],
    )
    static, _ = rnn_net(seq, step_type=step_types)
    np.testing.assert_allclose(
        fn(seq, step_types).numpy(), static.logits.numpy(), rtol=1e-5, atol=1e-6
    )


def test_value_rnn_network_shapes_and_stacked_state():
    net = value_rnn_network.ValueRnnNetwork(
        OBS, input_fc_layer_params=(4,), lstm_size=(3, 2), output_fc_layer_params=()
    )
    assert [[s.shape for s in cell] for cell in net.state_spec] == [[(3,), (3,)], [(2,), (2,)]]
    values, state = net(np.zeros((4, 3), np.float32), step_type=tf.zeros([4], tf.int32))
    assert values.shape == (4,) and values.dtype == tf.float32
    assert [[tuple(s.shape) for s in cell] for cell in state] == [
        [(4, 3), (4, 3)],
        [(4, 2), (4, 2)],
    ]
    seq_values, _ = net(np.zeros((4, 6, 3), np.float32), step_type=tf.zeros([4, 6], tf.int32))
    assert seq_values.shape == (4, 6)

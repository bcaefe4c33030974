"""NormalProjectionNetwork and SquashToSpecNormal: values, shapes, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import normal_projection_network as npn
from tfdrive.specs import tensor_spec

SPEC = tensor_spec.BoundedTensorSpec((2,), tf.float32, [-1.0, 0.0], [1.0, 4.0])
SCALAR = tensor_spec.BoundedTensorSpec((), tf.float32, -2.0, 2.0)


def _features(*shape):
    return tf.constant(np.random.default_rng(0).normal(size=shape), tf.float32)


def test_means_are_squashed_and_std_is_softplus_of_bias():
    net = npn.NormalProjectionNetwork(SPEC, std_bias_initializer_value=0.5)
    x = _features(4, 3)
    dist, state = net(x, outer_rank=1)
    assert state == ()
    assert isinstance(dist, tfp.distributions.MultivariateNormalDiag)
    kernel, bias, std_bias = (v.numpy() for v in net.variables)
    assert kernel.shape == (3, 2) and bias.shape == (2,) and std_bias.shape == (2,)
    expected = np.array([0.0, 2.0]) + np.array([1.0, 2.0]) * np.tanh(x.numpy() @ kernel + bias)
    np.testing.assert_allclose(dist.mean().numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dist.stddev().numpy(), np.full((4, 2), np.log1p(np.exp(0.5))))


def test_transforms_can_be_replaced_or_dropped():
    net = npn.NormalProjectionNetwork(
        SPEC, mean_transform=None, std_transform=tf.exp, std_bias_initializer_value=0.0
    )
    x = _features(2, 3)
    dist, _ = net(x, outer_rank=1)
    kernel, bias = net.variables[0].numpy(), net.variables[1].numpy()
    np.testing.assert_allclose(dist.mean().numpy(), x.numpy() @ kernel + bias, rtol=1e-5)
    np.testing.assert_allclose(dist.stddev().numpy(), np.ones((2, 2)))


def test_scalar_spec_state_dependent_std_keeps_batch_shape():
    net = npn.NormalProjectionNetwork(SCALAR, state_dependent_std=True)
    dist, _ = net(_features(4, 6, 3), outer_rank=2)
    assert isinstance(dist, tfp.distributions.Normal)
    assert dist.batch_shape == (4, 6) and dist.event_shape == ()
    assert [tuple(v.shape) for v in net.variables] == [(3, 1), (1,), (3, 1), (1,)]


def test_seed_fixes_the_means_kernel():
    kernels = []
    for _ in range(2):
        net = npn.NormalProjectionNetwork(SPEC, seed=11)
        net(_features(1, 3), outer_rank=1)
        kernels.append(net.variables[0].numpy())
    np.testing.assert_array_equal(kernels[0], kernels[1])


def test_scaled_distribution_stays_inside_the_bounds():
    net = npn.NormalProjectionNetwork(
        SPEC, init_means_output_factor=10.0, state_dependent_std=True, scale_distribution=True
    )
    dist, _ = net(_features(500, 3), outer_rank=1)
    assert isinstance(dist, npn.SquashToSpecNormal)
    samples = dist.sample(seed=1).numpy()
    assert samples.shape == (500, 2)
    # Inside up to float32 rounding (tanh saturates to exactly 1).
    assert np.all(samples >= SPEC.minimum) and np.all(samples <= SPEC.maximum)
    raw = dist.input_distribution
    magnitudes, means = np.array([1.0, 2.0]), np.array([0.0, 2.0])
    np.testing.assert_allclose(
        dist.mode().numpy(), magnitudes * np.tanh(raw.mode().numpy()) + means, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        dist.stddev().numpy(), magnitudes * np.tanh(raw.stddev().numpy()), rtol=1e-5, atol=1e-5
    )
    # Actions clipped onto the bounds keep a finite log-probability.
    at_bounds = tf.constant([SPEC.minimum, SPEC.maximum] * 250, tf.float32)
    assert np.all(np.isfinite(dist.log_prob(at_bounds).numpy()))


def test_squashed_log_prob_is_the_change_of_variables():
    raw = tfp.distributions.Normal(loc=[0.3], scale=[0.7])
    dist = npn.scale_distribution_to_spec(raw, SCALAR)
    y = np.array([1.5], np.float32)
    x = np.arctanh(y / 2.0)
    expected = raw.log_prob(x).numpy() - np.log(2.0 * (1.0 - np.tanh(x) ** 2))
    np.testing.assert_allclose(dist.log_prob(y).numpy(), expected, rtol=1e-5)


def test_squashed_kl_divergence_is_that_of_the_raw_normals():
    a = tfp.distributions.Normal(0.0, 1.0)
    b = tfp.distributions.Normal(1.0, 2.0)
    kl = npn.SquashToSpecNormal(a, SCALAR).kl_divergence(npn.SquashToSpecNormal(b, SCALAR))
    np.testing.assert_allclose(kl.numpy(), a.kl_divergence(b).numpy())
    other = tensor_spec.BoundedTensorSpec((), tf.float32, -1.0, 1.0)
    with pytest.raises(ValueError, match="same action mean and magnitude"):
        npn.SquashToSpecNormal(a, SCALAR).kl_divergence(npn.SquashToSpecNormal(b, other))
    with pytest.raises(ValueError, match="should be of type SquashToSpecNormal"):
        npn.SquashToSpecNormal(a, SCALAR).kl_divergence(b)
    with pytest.raises(ValueError, match="must be a normal distribution"):
        npn.SquashToSpecNormal(tfp.distributions.Uniform(0.0, 1.0), SCALAR)


def test_output_spec_names_loc_and_scale():
    net = npn.NormalProjectionNetwork(SPEC, name="head")
    params = net.output_spec.input_params_spec
    assert sorted(params) == ["loc", "scale"]
    assert params["loc"] == tf.TensorSpec((2,), tf.float32, name="head_loc")
    assert net.output_spec.sample_spec == SPEC


def test_errors():
    with pytest.raises(ValueError, match="single spec"):
        npn.NormalProjectionNetwork([SPEC, SPEC])
    net = npn.NormalProjectionNetwork(SPEC)
    with pytest.raises(ValueError, match="must match the sample_spec.dtype"):
        net(tf.zeros([2, 3], tf.float64), outer_rank=1)
    with pytest.raises(NotImplementedError, match="action masking"):
        net(tf.zeros([2, 3]), outer_rank=1, mask=tf.ones([2, 2]))


def test_bias_layer_adds_one_bias_per_last_axis_entry():
    layer = npn.BiasLayer(bias_initializer=tf.constant_initializer(0.25))
    np.testing.assert_allclose(layer(tf.zeros([2, 3])).numpy(), np.full((2, 3), 0.25))
    scalar = npn.BiasLayer(bias_initializer="ones")
    np.testing.assert_allclose(scalar(tf.zeros([4])).numpy(), np.ones(4))
    assert scalar.bias.shape == (1,)

"""CategoricalProjectionNetwork: logits values, masks, errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.networks import categorical_projection_network as cpn
from tfdrive.specs import tensor_spec


def _features(*shape):
    return tf.constant(np.random.default_rng(0).normal(size=shape), tf.float32)


def test_logits_are_one_dense_layer_reshaped():
    spec = tensor_spec.BoundedTensorSpec((2,), tf.int64, 0, 2)
    net = cpn.CategoricalProjectionNetwork(spec)
    x = _features(5, 4, 3)
    dist, state = net(x, outer_rank=2)
    assert state == () and isinstance(dist, tfp.distributions.Categorical)
    assert dist.dtype == tf.int64
    kernel, bias = (v.numpy() for v in net.variables)
    assert kernel.shape == (3, 6) and not bias.any()
    expected = (x.numpy() @ kernel + bias).reshape(5, 4, 2, 3)
    np.testing.assert_allclose(dist.logits.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert net.output_spec.input_params_spec["logits"].shape == (2, 3)


def test_integer_features_are_cast():
    net = cpn.CategoricalProjectionNetwork(tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3))
    dist, _ = net(tf.ones([2, 3], tf.int32), outer_rank=1)
    assert dist.logits.shape == (2, 4)


def test_mask_of_a_one_entry_spec_gets_the_spec_axis():
    net = cpn.CategoricalProjectionNetwork(tensor_spec.BoundedTensorSpec((1,), tf.int32, 0, 3))
    mask = tf.constant([[True, False, True, False]] * 2)
    dist, _ = net(_features(2, 3), outer_rank=1, mask=mask)
    logits = dist.logits.numpy()
    assert logits.shape == (2, 1, 4)
    assert np.all(logits[..., [1, 3]] == np.finfo(np.float32).min)
    assert set(np.unique(dist.sample(200, seed=3).numpy())) <= {0, 2}


@pytest.mark.parametrize(
    "spec, message",
    [
        (tf.TensorSpec((), tf.int32), "must be bounded"),
        (tensor_spec.BoundedTensorSpec((), tf.float32, 0.0, 1.0), "must be discrete"),
        (tensor_spec.BoundedTensorSpec((2,), tf.int32, 0, [1, 2]), "must be the same"),
    ],
)
def test_bad_specs_raise(spec, message):
    with pytest.raises(ValueError, match=message):
        cpn.CategoricalProjectionNetwork(spec)

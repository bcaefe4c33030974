"""Tensor normalizers: statistics against numpy."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.specs import tensor_spec
from tfdrive.utils import tensor_normalizer

SPEC = tensor_spec.TensorSpec((3,), tf.float32)


@pytest.fixture(scope="module")
def batches():
    rng = np.random.default_rng(0)
    return [
        (rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]).astype(np.float32)
        for n in (7, 1, 50)
    ]


def test_streaming_statistics_are_exact(batches):
    norm = tensor_normalizer.StreamingTensorNormalizer(SPEC)
    for b in batches:
        norm.update(tf.constant(b))
    data = np.concatenate(batches).astype(np.float64)
    count, avg, m2, _ = norm.variables
    np.testing.assert_allclose(count.numpy(), np.full(3, 58.0), rtol=1e-6)
    np.testing.assert_allclose(avg.numpy(), data.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m2.numpy() / count.numpy(), data.var(0), rtol=1e-4)
    x = batches[0][:2]
    expected = np.clip((x - data.mean(0)) / np.sqrt(data.var(0) + 1e-3), -5.0, 5.0)
    out = norm.normalize(tf.constant(x))
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_streaming_sequence_outer_dims_and_reset(batches):
    norm = tensor_normalizer.StreamingTensorNormalizer(SPEC)
    seq = batches[2][:50].reshape(5, 10, 3)
    norm.update(tf.constant(seq), outer_dims=(0, 1))
    np.testing.assert_allclose(norm.variables[1].numpy(), batches[2].mean(0), rtol=1e-5, atol=1e-6)
    norm.reset()
    np.testing.assert_allclose(norm.variables[0].numpy(), np.full(3, 1e-8))
    np.testing.assert_array_equal(norm.variables[1].numpy(), np.zeros(3))


def test_normalize_options():
    norm = tensor_normalizer.StreamingTensorNormalizer(SPEC)
    norm.update(tf.constant([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]]))
    x = tf.constant([[100.0, 2.0, 3.0]])
    np.testing.assert_allclose(norm.normalize(x).numpy()[0, 0], 5.0)
    unclipped = norm.normalize(x, clip_value=0.0).numpy()
    np.testing.assert_allclose(unclipped[0, 0], 99.0 / np.sqrt(1.0 + 1e-3), rtol=1e-5)
    no_center = norm.normalize(x, center_mean=False, variance_epsilon=0.0, clip_value=-1).numpy()
    np.testing.assert_allclose(no_center[0], [100.0, 2.0 / 2.0, 3.0 / 3.0], rtol=1e-5)


def test_nested_and_integer_specs():
    spec = {"a": SPEC, "i": tensor_spec.TensorSpec((), tf.int64)}
    norm = tensor_normalizer.StreamingTensorNormalizer(spec)
    assert norm.variables[0]["i"].dtype == tf.float64
    assert norm.variables[0]["a"].dtype == tf.float32
    norm.update({"a": tf.ones((4, 3)), "i": tf.constant([1, 2, 3, 4], tf.int64)})
    np.testing.assert_allclose(norm.variables[1]["i"].numpy(), 2.5)
    out = norm.normalize({"a": tf.ones((1, 3)), "i": tf.constant([4], tf.int64)})
    assert out["i"].dtype == tf.int64  # cast back to the spec's dtype
    assert int(out["i"][0]) == 1  # (4 - 2.5) / sqrt(1.25 + 1e-3) = 1.34 -> 1


def test_ema_updates(batches):
    norm = tensor_normalizer.EMATensorNormalizer(SPEC, norm_update_rate=0.1)
    mean, var = norm.variables
    np.testing.assert_array_equal(mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(var.numpy(), np.ones(3))
    b = batches[0].astype(np.float64)
    norm.update(tf.constant(batches[0]))
    expected_mean = 0.1 * b.mean(0)
    expected_var = 1.0 + 0.1 * ((b**2).mean(0) - 1.0)  # deviations from the previous mean 0
    np.testing.assert_allclose(mean.numpy(), expected_mean, rtol=1e-5)
    np.testing.assert_allclose(var.numpy(), expected_var, rtol=1e-5)
    out = norm.normalize(tf.constant(batches[0][:1]), clip_value=0)
    np.testing.assert_allclose(
        out.numpy(), (batches[0][:1] - expected_mean) / np.sqrt(expected_var + 1e-3), rtol=1e-4
    )


def test_mismatched_inputs_raise():
    norm = tensor_normalizer.EMATensorNormalizer(SPEC)
    with pytest.raises(ValueError, match="does not match `tensor_spec`"):
        norm.update(tf.zeros((2, 4)))
    with pytest.raises(ValueError, match="does not match `tensor_spec`"):
        norm.normalize(tf.zeros((2, 3), tf.float64))
    with pytest.raises(ValueError, match="structure does not match"):
        norm.normalize({"a": tf.zeros((2, 3))})


def test_update_inside_tf_function(batches):
    norm = tensor_normalizer.StreamingTensorNormalizer(SPEC)

    @tf.function
    def update(x):
        norm.update(x)

    for b in batches:
        update(tf.constant(b))
    data = np.concatenate(batches)
    np.testing.assert_allclose(norm.variables[1].numpy(), data.mean(0), rtol=1e-5, atol=1e-6)

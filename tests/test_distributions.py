"""tfdrive.distributions: ShiftedCategorical and MaskedCategorical values and errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.distributions import masked, shifted_categorical


def test_shifted_categorical_offsets_values_both_ways():
    distribution = shifted_categorical.ShiftedCategorical(
        logits=[[0.0, 5.0, 0.0]], dtype=tf.int32, shift=-3
    )
    np.testing.assert_array_equal(distribution.mode().numpy(), [-2])
    samples = distribution.sample(200, seed=1).numpy()
    assert set(samples.ravel()) <= {-3, -2, -1}
    unshifted = tf.nn.log_softmax([0.0, 5.0, 0.0]).numpy()
    np.testing.assert_allclose(
        distribution.log_prob(tf.constant([-3, -2, -1])).numpy(), unshifted, rtol=1e-6
    )
    np.testing.assert_allclose(distribution.cdf(tf.constant(-1)).numpy(), [1.0], rtol=1e-6)
    assert distribution.shift == -3 and distribution.parameters["shift"] == -3


def test_shifted_categorical_needs_a_shift():
    with pytest.raises(ValueError, match="expects a shift"):
        shifted_categorical.ShiftedCategorical(logits=[0.0, 1.0])


def test_masked_categorical_never_samples_masked_classes():
    distribution = masked.MaskedCategorical([[1.0, 2.0, 3.0]], mask=[[1, 0, 1]])
    assert set(distribution.sample(500, seed=2).numpy().ravel()) <= {0, 2}
    np.testing.assert_array_equal(distribution.mask.numpy(), [[True, False, True]])
    assert distribution.logits.numpy()[0, 1] == np.float32(-1e10)
    # Entropy over the two allowed classes only.
    p = np.exp([1.0, 3.0]) / np.exp([1.0, 3.0]).sum()
    np.testing.assert_allclose(distribution.entropy().numpy(), [-(p * np.log(p)).sum()], rtol=1e-5)
    lowest = masked.MaskedCategorical([[1.0, 2.0]], mask=[[0, 1]], neg_inf=None)
    assert lowest.logits.numpy()[0, 0] == np.finfo(np.float32).min
    assert "mask" in distribution.parameters


def test_masked_categorical_rejects_probs():
    with pytest.raises(ValueError, match="logits"):
        masked.MaskedCategorical([[1.0, 2.0]], mask=[[1, 1]], probs=[[0.5, 0.5]])

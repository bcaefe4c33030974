"""Helpers shared by the compat suites: an observer that records, and nest equality."""

import numpy as np
import tensorflow as tf

from driver_mocks import Recorder

__all__ = ["Recorder", "assert_nest_equal"]


def assert_nest_equal(got, want):
    """Same structure, and leaf by leaf the same dtype, shape and values."""
    tf.nest.assert_same_structure(got, want)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want), strict=True):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (g.dtype, w.dtype, g, w)
        assert g.shape == w.shape, (g.shape, w.shape, g, w)
        np.testing.assert_array_equal(g, w)

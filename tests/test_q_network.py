"""QNetwork, QRnnNetwork and CategoricalQNetwork: values, shapes, spec errors."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.networks import categorical_q_network, q_network, q_rnn_network
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((3,), tf.float32)
ACTIONS = tensor_spec.BoundedTensorSpec((), tf.int32, 2, 5)  # 4 actions


def _obs(*outer):
    return np.random.default_rng(0).normal(size=outer + (3,)).astype(np.float32)


def test_q_values_are_the_q_layer_of_the_encoder():
    net = q_network.QNetwork(OBS, ACTIONS, fc_layer_params=(6,))
    x = _obs(5)
    q, state = net(x)
    assert q.shape == (5, 4) and state == ()
    k1, b1, k2, b2 = (v.numpy() for v in net.variables)
    assert k2.shape == (6, 4) and np.all(np.abs(k2) <= 0.03)
    np.testing.assert_allclose(b2, np.full(4, -0.2))
    expected = np.maximum(x @ k1 + b1, 0.0) @ k2 + b2
    np.testing.assert_allclose(q.numpy(), expected, rtol=1e-5, atol=1e-6)
    q_bt, _ = net(x.reshape(1, 5, 3))
    np.testing.assert_allclose(q_bt.numpy()[0], q.numpy(), rtol=1e-6)


def test_one_entry_bounds_count_the_actions():
    spec = tensor_spec.BoundedTensorSpec((1,), tf.int64, np.array([0]), np.array([2]))
    q, _ = q_network.QNetwork(OBS, spec, fc_layer_params=None)(_obs(2))
    assert q.shape == (2, 3)


@pytest.mark.parametrize(
    "spec, message",
    [
        ([ACTIONS, ACTIONS], "single action"),
        (tensor_spec.BoundedTensorSpec((2,), tf.int32, 0, 1), r"shape in \[\(\), \(1,\)\]"),
        (tf.TensorSpec((), tf.int32), "bounded spec"),
    ],
)
def test_q_network_rejects_action_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        q_network.QNetwork(OBS, spec)


def test_q_rnn_network_appends_the_q_layer_after_the_lstm():
    net = q_rnn_network.QRnnNetwork(
        OBS, ACTIONS, input_fc_layer_params=(5,), lstm_size=(3,), output_fc_layer_params=(2,)
    )
    assert [s.shape for s in net.state_spec] == [(3,), (3,)]
    step_type = tf.fill([4, 6], ts.StepType.MID)
    q, (h, c) = net(_obs(4, 6), step_type, net.get_initial_state(4))
    assert q.shape == (4, 6, 4) and h.shape == (4, 3) and c.shape == (4, 3)
    shapes = [tuple(v.shape) for v in net.variables]
    assert shapes[-2:] == [(2, 4), (4,)]
    np.testing.assert_allclose(net.variables[-1].numpy(), np.full(4, -0.2))
    q_step, _ = net(_obs(4), tf.fill([4], ts.StepType.FIRST), net.get_initial_state(4))
    assert q_step.shape == (4, 4)
    with pytest.raises(ValueError, match="single action"):
        q_rnn_network.QRnnNetwork(OBS, (ACTIONS, ACTIONS), lstm_size=(3,))


def test_categorical_q_network_splits_actions_and_atoms():
    net = categorical_q_network.CategoricalQNetwork(OBS, ACTIONS, num_atoms=7, fc_layer_params=[5])
    assert net.num_atoms == 7
    x = _obs(3)
    logits, _ = net(x)
    assert logits.shape == (3, 4, 7)
    k1, b1, k2, b2 = (v.numpy() for v in net.variables)
    assert k2.shape == (5, 28)
    flat = np.maximum(x @ k1 + b1, 0.0) @ k2 + b2
    np.testing.assert_allclose(logits.numpy(), flat.reshape(3, 4, 7), rtol=1e-5, atol=1e-6)
    # Outer dims [B, T] are kept.
    logits_bt, _ = net(x.reshape(1, 3, 3))
    assert logits_bt.shape == (1, 3, 4, 7)


def test_categorical_q_network_needs_one_bounded_spec():
    with pytest.raises(TypeError, match="BoundedTensorSpec"):
        categorical_q_network.CategoricalQNetwork(OBS, tf.TensorSpec((), tf.int32))
    with pytest.raises(TypeError, match="BoundedTensorSpec"):
        categorical_q_network.CategoricalQNetwork(OBS, [ACTIONS])

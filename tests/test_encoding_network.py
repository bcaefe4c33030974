"""tfdrive.networks encoders and containers: EncodingNetwork, LSTMEncodingNetwork,
Sequential, NestMap, and the layers they use (DynamicUnroll, RNNWrapper, dropout)."""

import numpy as np
import pytest
import tensorflow as tf

from tfdrive._keras import keras
from tfdrive.networks import (
    encoding_network,
    expand_dims_layer,
    layers,
    lstm_encoding_network,
    nest_map,
    sequential,
    utils,
)
from tfdrive.trajectories import time_step as ts

OBS = tf.TensorSpec([3], tf.float32)
FIRST, MID = int(ts.StepType.FIRST), int(ts.StepType.MID)


def test_encoding_network_folds_outer_dims():
    net = encoding_network.EncodingNetwork(OBS, fc_layer_params=(4, 2))
    assert net.variables == []  # Readable (empty) before the first call.
    out, state = net(tf.ones([5, 7, 3]))
    assert out.shape == (5, 7, 2) and state == ()
    assert len(net.variables) == 4


def test_encoding_network_copies_preprocessing_layers_and_requires_combiner():
    flatten = keras.layers.Flatten()
    spec = {"a": tf.TensorSpec([2, 2]), "b": OBS}
    with pytest.raises(ValueError, match="preprocessing_combiner layer is required"):
        encoding_network.EncodingNetwork(spec)
    net = encoding_network.EncodingNetwork(
        spec,
        preprocessing_layers={"a": flatten, "b": keras.layers.Dense(2)},
        preprocessing_combiner=keras.layers.Concatenate(axis=-1),
    )
    out, _ = net({"a": tf.ones([4, 2, 2]), "b": tf.ones([4, 3])})
    assert out.shape == (4, 6)
    assert flatten not in net.layers and not flatten.built


def test_encoding_network_regularizer_and_permanent_dropout():
    net = encoding_network.EncodingNetwork(
        OBS,
        fc_layer_params=(50,),
        weight_decay_params=(0.5,),
        dropout_layer_params=({"rate": 0.5, "permanent": True},),
    )
    x = tf.ones([2, 3])
    a, _ = net(x, training=False)
    b, _ = net(x, training=False)
    assert not np.allclose(a, b)  # Permanent dropout is on at inference.
    assert len(net.losses) == 1 and float(net.losses[0]) > 0
    with pytest.raises(ValueError, match="different lengths"):
        encoding_network.EncodingNetwork(OBS, fc_layer_params=(2, 2), dropout_layer_params=(0.1,))


def test_batch_squash_round_trip_and_mlp_layers():
    squash = utils.BatchSquash(2)
    x = tf.reshape(tf.range(24), [2, 3, 4])
    flat = squash.flatten(x)
    assert flat.shape == (6, 4)
    np.testing.assert_array_equal(squash.unflatten(flat), x)
    with pytest.raises(ValueError, match="flatten before unflatten"):
        utils.BatchSquash(2).unflatten(flat)
    kinds = [
        type(layer)
        for layer in utils.mlp_layers(fc_layer_params=[3, 4], dropout_layer_params=[None, 0.2])
    ]
    assert kinds == [
        keras.layers.Flatten,
        keras.layers.Dense,
        keras.layers.Dense,
        layers.PermanentVariableRateDropout,
    ]


def _lstm_net(**kwargs):
    return lstm_encoding_network.LSTMEncodingNetwork(
        OBS, input_fc_layer_params=(5,), lstm_size=(4,), output_fc_layer_params=(3,), **kwargs
    )


def test_lstm_encoding_sequence_equals_stepping_with_resets():
    net = _lstm_net()
    assert [s.name for s in net.state_spec] == ["network_state_0", "network_state_1"]
    obs = tf.random.stateless_normal([2, 4, 3], seed=[1, 2])
    step_types = tf.constant([[FIRST, MID, FIRST, MID], [FIRST, MID, MID, MID]])
    state = net.get_initial_state(2)
    seq_out, seq_state = net(obs, step_type=step_types, network_state=state)
    assert seq_out.shape == (2, 4, 3)
    outs = []
    for t in range(4):
        out, state = net(obs[:, t], step_type=step_types[:, t], network_state=state)
        outs.append(out)
    np.testing.assert_allclose(tf.stack(outs, 1), seq_out, atol=1e-5)
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), state, seq_state
    )
    # A reset in the middle equals starting afresh from that step.
    fresh, _ = net(obs[:1, 2:], step_type=step_types[:1, 2:], network_state=())
    np.testing.assert_allclose(fresh, seq_out[:1, 2:], atol=1e-5)


def test_lstm_encoding_unknown_time_dimension_in_tf_function():
    net = _lstm_net()
    obs = tf.random.stateless_normal([2, 5, 3], seed=[3, 4])
    step_types = tf.fill([2, 5], MID)
    expected, expected_state = net(obs, step_type=step_types, network_state=())

    @tf.function(input_signature=[tf.TensorSpec([2, None, 3]), tf.TensorSpec([2, None], tf.int32)])
    def run(o, s):
        return net(o, step_type=s, network_state=())

    out, state = run(obs, step_types)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), state, expected_state
    )


def test_lstm_encoding_stacked_state_and_argument_errors():
    net = lstm_encoding_network.LSTMEncodingNetwork(OBS, lstm_size=(4, 2))
    assert len(net.state_spec) == 2  # One [h, c] pair per LSTM layer.
    assert [s.shape for s in tf.nest.flatten(net.state_spec)] == [(4,), (4,), (2,), (2,)]
    with pytest.raises(ValueError, match="Need to provide either"):
        lstm_encoding_network.LSTMEncodingNetwork(OBS)
    with pytest.raises(ValueError, match="outer shape"):
        net(tf.ones([3]), step_type=tf.constant(0), network_state=())


def test_lstm_encoding_matches_tf_agents_with_copied_weights():
    tfa_lstm = pytest.importorskip("tf_agents.networks.lstm_encoding_network")
    if tf.keras.layers.Dense is not keras.layers.Dense:
        pytest.skip("TF-Agents needs tf.keras to be Keras 2 (TF_USE_LEGACY_KERAS=1)")
    ours, theirs = (
        _lstm_net(),
        tfa_lstm.LSTMEncodingNetwork(
            OBS, input_fc_layer_params=(5,), lstm_size=(4,), output_fc_layer_params=(3,)
        ),
    )
    ours.create_variables()
    theirs.create_variables()
    assert [v.shape for v in ours.variables] == [v.shape for v in theirs.variables]
    for a, b in zip(ours.variables, theirs.variables):
        a.assign(b)
    obs = tf.random.stateless_normal([2, 4, 3], seed=[5, 6])
    step_types = tf.constant([[FIRST, MID, FIRST, MID], [MID, MID, MID, MID]])
    state = [tf.ones([2, 4]), tf.ones([2, 4])]
    a, a_state = ours(obs, step_type=step_types, network_state=state)
    b, b_state = theirs(obs, step_type=step_types, network_state=state)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a_state[0], b_state[0], atol=1e-5)


def test_sequential_wraps_rnn_layers_and_carries_their_state():
    net = sequential.Sequential(
        [keras.layers.Dense(4), keras.layers.LSTM(2, return_state=True, return_sequences=True)],
        input_spec=OBS,
    )
    assert isinstance(net.layers[1], layers.RNNWrapper)
    assert net.state_spec == ((tf.TensorSpec([2]), tf.TensorSpec([2])),)
    out, state = net(tf.ones([5, 3]))
    assert out.shape == (5, 2) and [s.shape for s in state[0]] == [(5, 2), (5, 2)]
    with pytest.raises(ValueError, match="must not be empty"):
        sequential.Sequential([])
    with pytest.raises(TypeError, match="keras Layer"):
        sequential.Sequential([lambda x: x])


def test_nest_map_maps_layers_over_inputs():
    net = sequential.Sequential(
        [
            nest_map.NestMap({"a": keras.layers.Dense(2), "b": keras.layers.Dense(2)}),
            nest_map.NestFlatten(),
            keras.layers.Add(),
        ]
    )
    out, state = net({"a": tf.ones([3, 1]), "b": tf.ones([3, 4])})
    assert out.shape == (3, 2) and state == ()
    with pytest.raises(TypeError, match="do not have matching structures"):
        nest_map.NestMap([keras.layers.Dense(1)], input_spec={"x": OBS})


def test_dynamic_unroll_single_step_has_no_time_axis():
    unroll = layers.DynamicUnroll(keras.layers.LSTMCell(3))
    out, state = unroll(tf.ones([2, 4]), reset_mask=tf.constant([True, False]))
    assert out.shape == (2, 3) and [s.shape for s in state] == [(2, 3), (2, 3)]
    with pytest.raises(TypeError, match="cell lacks"):
        layers.DynamicUnroll(keras.layers.Dense(2))


def test_expand_dims_skips_the_batch_axis():
    layer = expand_dims_layer.ExpandDims(0)
    assert layer(tf.ones([2, 3])).shape == (2, 1, 3)
    assert layer.compute_output_shape([2, 3]) == (2, 1, 3)
    assert expand_dims_layer.ExpandDims(-1)(tf.ones([2, 3])).shape == (2, 3, 1)

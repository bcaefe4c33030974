"""tfdrive.networks.network: the Keras 2 `Network` base and `create_variables`."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._keras import keras
from tfdrive.networks import network
from tfdrive.specs import distribution_spec

OBS = tf.TensorSpec([3], tf.float32)


class TutorialNet(network.Network):
    """A user network as in TF-Agents' tutorials: Keras layers, no `training` in `call`."""

    def __init__(self, input_tensor_spec, units=2, name=None):
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=(), name=name)
        self._layers_ = [keras.layers.Dense(4, activation="relu"), keras.layers.Dense(units)]

    def call(self, observations, step_type, network_state):
        del step_type
        for layer in self._layers_:
            observations = layer(observations)
        return observations, network_state


class InputsOnly(network.Network):
    def call(self, inputs):
        return inputs * 2, ()


def test_tutorial_network_builds_calls_and_copies():
    net = TutorialNet(OBS, units=5)
    with pytest.raises(ValueError, match="has not been built"):
        net.variables  # noqa: B018
    assert net.create_variables() == tf.TensorSpec([5], tf.float32)
    assert net.built and len(net.variables) == 4 and len(net.trainable_variables) == 4
    out, state = net(tf.ones([2, 3]), step_type=tf.zeros([2], tf.int32), network_state=())
    assert out.shape == (2, 5) and state == ()
    clone = net.copy(name="clone")
    assert clone.name == "clone" and not clone.built
    assert clone.create_variables() == tf.TensorSpec([5], tf.float32)
    assert all(a is not b for a, b in zip(clone.variables, net.variables))
    assert [type(layer) for layer in net.layers] == [keras.layers.Dense, keras.layers.Dense]


def test_call_gets_only_the_arguments_it_takes():
    net = InputsOnly()
    out, _ = net(tf.constant([1.0]), step_type=3, network_state=None, training=True)
    np.testing.assert_allclose(out, [2.0])


def test_numpy_float64_inputs_check_as_the_spec_dtype():
    net = TutorialNet(OBS)
    out, _ = net(np.ones([2, 3]), step_type=None, network_state=())
    assert out.dtype == tf.float32


def test_inputs_not_matching_the_spec_raise_value_error():
    net = TutorialNet(OBS)
    with pytest.raises(ValueError, match="input_tensor_spec"):
        net(tf.ones([2, 4]), step_type=None, network_state=())
    with pytest.raises(ValueError, match="input_tensor_spec"):
        net(tf.ones([2, 3], tf.int32), step_type=None, network_state=())


def test_init_with_var_args_is_rejected():
    with pytest.raises(RuntimeError, match=r"accepts \*args"):

        class Bad(network.Network):  # noqa: F841
            def __init__(self, *layers):
                super().__init__()


def test_get_initial_state_and_new_state_check():
    class Stateful(network.Network):
        def __init__(self, bad_state=False):
            super().__init__(OBS, state_spec=tf.TensorSpec([2], tf.float32))
            self._bad_state = bad_state

        def call(self, inputs, network_state=()):
            return inputs, tf.zeros([1, 3]) if self._bad_state else network_state

    net = Stateful()
    assert net.get_initial_state(4).shape == (4, 2)
    assert net.get_initial_state().shape == (2,)
    with pytest.raises(ValueError, match="new_state"):
        Stateful(bad_state=True)(tf.ones([1, 3]), network_state=tf.zeros([1, 2]))


def test_module_create_variables_of_keras_layers():
    dense = keras.layers.Dense(3)
    with pytest.raises(ValueError, match="an input_spec is required"):
        network.create_variables(dense)
    assert network.create_variables(dense, tf.TensorSpec([5])) == tf.TensorSpec([3])
    cell = keras.layers.LSTMCell(3)
    assert network.create_variables(cell, tf.TensorSpec([5])) == tf.TensorSpec([3])
    assert cell._network_state_spec == [tf.TensorSpec([3]), tf.TensorSpec([3])]
    assert network.get_state_spec(cell) == [tf.TensorSpec([3]), tf.TensorSpec([3])]
    with pytest.raises(TypeError, match="RNNWrapper"):
        network.create_variables(keras.layers.LSTM(3), tf.TensorSpec([5]))


def test_distribution_outputs_give_distribution_spec_v2():
    layer = keras.Sequential(
        [
            keras.layers.Dense(3),
            keras.layers.Lambda(lambda x: tfp.distributions.Normal(loc=x, scale=x**2)),
        ]
    )
    spec = network.create_variables(layer, tf.TensorSpec([5]))
    assert spec.event_spec == tf.TensorSpec([], tf.float32)
    assert spec.parameters.type_ is tfp.distributions.Normal
    assert spec.parameters.params == {"loc": tf.TensorSpec([3]), "scale": tf.TensorSpec([3])}


def test_distribution_network_output_spec():
    spec = distribution_spec.deterministic_distribution_from_spec(tf.TensorSpec([2]))
    net = network.DistributionNetwork(OBS, (), spec, name="d")
    assert network.is_distribution_network(net) and network.is_network(net)
    assert net.output_spec is spec
    assert not network.is_distribution_network(TutorialNet(OBS))


def test_distribution_spec_builds_with_merged_parameters():
    spec = distribution_spec.DistributionSpec(
        tfp.distributions.Normal, {"loc": tf.TensorSpec([2])}, tf.TensorSpec([2]), scale=2.0
    )
    dist = spec.build_distribution(loc=tf.zeros([2]))
    np.testing.assert_allclose(dist.stddev(), [2.0, 2.0])
    dists = distribution_spec.nested_distributions_from_specs(
        {"a": spec, "b": (spec,)}, {"a": {"loc": 1.0}, "b": ({"loc": 3.0, "scale": 1.0},)}
    )
    assert float(dists["a"].mean()) == 1.0 and float(dists["b"][0].stddev()) == 1.0


def test_keras3_layers_are_rejected_with_a_clear_error():
    if not keras.__name__.startswith("tf_keras"):
        pytest.skip("TF 2.15: tf.keras is Keras 2")
    keras3 = pytest.importorskip("keras")

    class Net(network.Network):
        def __init__(self):
            super().__init__(OBS)
            self.dense = keras3.layers.Dense(2)

    with pytest.raises(TypeError, match="TF_USE_LEGACY_KERAS=1"):
        Net()


def test_call_with_varargs_binds_positional_parameters_once():
    """`call(inputs, network_state=(), *args)` with a positional step_type (PPOPolicy's style)."""
    import tensorflow as tf

    from tfdrive.networks import network

    class VarArgsNet(network.Network):
        def __init__(self):
            super().__init__(tf.TensorSpec([2], tf.float32), state_spec=(), name="VarArgsNet")
            self.received = None

        def call(self, inputs, network_state=(), *args, **kwargs):
            self.received = (args, sorted(kwargs))
            return inputs * 2.0, network_state

    net = VarArgsNet()
    step_type = tf.constant([0])
    outputs, _ = net(tf.ones([1, 2]), (), step_type)
    assert outputs.numpy().tolist() == [[2.0, 2.0]]
    assert len(net.received[0]) == 1 and net.received[0][0] is step_type

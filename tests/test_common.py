"""tfdrive.utils.common: exact values, graph mode and errors beyond TF-Agents' own suite."""

import collections
import importlib.util

import numpy as np
import pytest
import tensorflow as tf

from tfdrive.specs import array_spec, tensor_spec
from tfdrive.utils import common


def test_function_defaults_and_overrides():
    traced = common.function(lambda x: x + 1)
    assert traced(tf.constant(1)).numpy() == 2

    def sum_loop(values):
        total = tf.constant(0)
        for v in values:  # needs autograph
            total += v
        return total

    with pytest.raises(Exception):  # noqa: B017 - TF's error type is internal
        common.function(sum_loop)(tf.constant([1, 2]))
    assert common.function(sum_loop, autograph=True)(tf.constant([1, 2])).numpy() == 3


def test_has_eager_been_enabled_inside_function_and_graph():
    assert common.has_eager_been_enabled()
    assert common.function(common.has_eager_been_enabled)()
    with tf.Graph().as_default():
        assert not common.has_eager_been_enabled()


def test_function_in_tf1_compiles_only_in_graph_mode():
    def building_function(x):
        return tf.constant(tf.compat.v1.get_default_graph().building_function) & (x > 0)

    wrapped = common.function_in_tf1()(building_function)
    assert not wrapped(tf.constant(1)).numpy()  # eager: runs as is
    with tf.Graph().as_default():
        out = wrapped(tf.constant(1))
        with tf.compat.v1.Session() as session:
            assert session.run(out)  # graph: traced into a function


def test_create_variable_graph_mode_names_and_collections():
    with tf.Graph().as_default():
        first = common.create_variable("counter", 5)
        second = common.create_variable("counter", 6, use_local_variable=True)
        fixed = common.create_variable("fixed", [1, 2], shape=None, unique_name=False)
        assert first.name != second.name
        assert second in tf.compat.v1.local_variables()
        assert second not in tf.compat.v1.global_variables()
        assert fixed.name == "fixed:0" and fixed.shape == (2,)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(tf.compat.v1.local_variables_initializer())
            assert session.run([first, second, fixed])[:2] == [5, 6]


def test_create_variable_eager_initializers():
    ones = common.create_variable(
        "v", shape=(3,), dtype=tf.float32, initializer=tf.ones_initializer()
    )
    assert ones.dtype == tf.float32 and np.array_equal(ones.numpy(), [1, 1, 1])
    given = common.create_variable("w", initializer=tf.constant(4, tf.int64))
    assert given.numpy() == 4 and not given.trainable


def test_soft_variables_update_errors():
    a, b = tf.Variable([1.0, 2.0]), tf.Variable([0.0, 0.0])
    with pytest.raises(ValueError, match="tau"):
        common.soft_variables_update([a], [b], tau=1.5)
    with pytest.raises(ValueError, match="tau_non_trainable"):
        common.soft_variables_update([a], [b], tau_non_trainable=-0.1)
    with pytest.raises(ValueError, match="different lengths"):
        common.soft_variables_update([a, a], [b])
    with pytest.raises(ValueError, match="shape"):
        common.soft_variables_update([a], [tf.Variable([0.0, 0.0, 0.0])])
    frozen = tf.Variable([0.0, 0.0], trainable=False)
    common.soft_variables_update([a, a], [b, frozen], tau=0.5, tau_non_trainable=1.0)
    assert np.allclose(b.numpy(), [0.5, 1.0]) and np.allclose(frozen.numpy(), [1.0, 2.0])


def test_periodically_with_variable_period_inside_tf_function():
    target, period = tf.Variable(0), tf.Variable(1)
    run = tf.function(common.Periodically(lambda: tf.group(target.assign_add(1)), period))
    seen = []
    for _ in range(2):
        run()
        seen.append(int(target.numpy()))
    period.assign(3)
    for _ in range(6):
        run()
        seen.append(int(target.numpy()))
    # period 1 runs every call without counting; then every third counted call.
    assert seen == [1, 2, 2, 2, 3, 3, 3, 4]


def test_eager_periodically_return_values():
    every_other = common.EagerPeriodically(lambda: 7, 2)
    assert [every_other() for _ in range(3)] == [None, None, None]
    assert common.EagerPeriodically(lambda: 7, 1)() == 7
    with pytest.raises(TypeError, match="callable"):
        common.EagerPeriodically(3, 2)


def test_index_with_actions_scalar_and_unknown_rank():
    q = tf.constant([1.0, 5.0, 3.0])
    assert common.index_with_actions(q, tf.constant(1)).numpy() == 5.0

    @tf.function(input_signature=[tf.TensorSpec(None, tf.int32)])
    def unknown_rank(actions):
        return common.index_with_actions(q, actions)

    with pytest.raises(ValueError, match="known rank"):
        unknown_rank.get_concrete_function()


def test_discounted_sums_with_dynamic_batch():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def sums(values):
        return (
            common.discounted_future_sum(values, 0.5, 2),
            common.shift_values(values, 0.5, 1),
        )

    future, shifted = sums(tf.constant([[1.0, 2.0, 4.0]]))
    assert np.allclose(future.numpy(), [[2.0, 4.0, 4.0]])
    assert np.allclose(shifted.numpy(), [[1.0, 2.0, 0.0]])
    with pytest.raises(ValueError, match="rank 2"):
        common.discounted_future_sum_masked(tf.zeros([3]), 0.9, 1, [1])


def test_compute_returns_time_major():
    rewards = tf.constant([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # [T=3, B=2]
    discounts = tf.constant([[1.0, 0.5], [0.0, 0.5], [1.0, 0.5]])
    returns = common.compute_returns(rewards, discounts, time_major=True)
    assert np.allclose(returns.numpy(), [[2.0, 1.75], [1.0, 1.5], [1.0, 1.0]])


def test_transpose_batch_time_and_replicate():
    x = tf.zeros([2, 3, 4])
    assert common.transpose_batch_time(x).shape == (3, 2, 4)
    assert common.transpose_batch_time(tf.zeros([5])).shape == (5,)
    replicated = common.replicate(tf.constant([1, 2]), [2, 1])
    assert replicated.shape == (2, 1, 2)
    assert common.replicate(tf.constant(1), []).numpy() == 1
    with pytest.raises(ValueError, match="1D"):
        common.replicate(tf.constant(1), [[2]])


def test_element_wise_losses():
    x, y = tf.constant([0.0, 0.0]), tf.constant([0.5, 3.0])
    assert np.allclose(common.element_wise_squared_loss(x, y).numpy(), [0.25, 9.0])
    assert np.allclose(common.element_wise_huber_loss(x, y).numpy(), [0.125, 2.5])


def test_aggregate_losses_regularization_and_global_batch():
    losses = common.aggregate_losses(
        tf.constant([2.0, 4.0]), global_batch_size=4, regularization_loss=tf.constant(1.0)
    )
    assert isinstance(losses, common.AggregatedLosses)
    assert np.isclose(losses.weighted.numpy(), 1.5)
    assert np.isclose(losses.regularization.numpy(), 1.0)
    assert np.isclose(losses.total_loss.numpy(), 2.5)
    assert common.aggregate_losses() == (None, None, None)
    zero_weight_inf = common.aggregate_losses(tf.constant([np.inf, 2.0]), [0.0, 1.0])
    assert np.isclose(zero_weight_inf.total_loss.numpy(), 1.0)


def test_spec_means_and_magnitudes_of_a_nest():
    spec = tensor_spec.BoundedTensorSpec([2], tf.float32, [-1.0, 0.0], [3.0, 2.0])
    means, magnitudes = common.spec_means_and_magnitudes([spec, spec])
    assert means.dtype == np.float32 and means.shape == (2, 2)
    assert np.allclose(means, [[1.0, 1.0]] * 2) and np.allclose(magnitudes, [[2.0, 1.0]] * 2)


def test_save_and_load_spec_converts_array_specs(tmp_path):
    Pair = collections.namedtuple("Pair", ["a", "b"])
    spec = Pair(
        array_spec.BoundedArraySpec((2,), np.float32, -1.0, 1.0, name="a"),
        {"b": tensor_spec.TensorSpec([3], tf.int64)},
    )
    path = str(tmp_path / "nested" / "spec.pb")
    common.save_spec(spec, path)
    loaded = common.load_spec(path)
    assert loaded._fields == ("a", "b")
    assert loaded.a == tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0, name="a")
    assert loaded.b == {"b": tensor_spec.TensorSpec([3], tf.int64)}


def test_checkpointer_round_trip(tmp_path):
    value, step = tf.Variable(3), tf.Variable(7, dtype=tf.int64)
    checkpointer = common.Checkpointer(str(tmp_path), max_to_keep=1, value=value, step=step)
    assert not checkpointer.checkpoint_exists
    checkpointer.save(step)
    assert checkpointer.checkpoint_exists
    assert checkpointer.manager.latest_checkpoint.endswith("ckpt-7")
    value.assign(10)
    restored = common.Checkpointer(str(tmp_path), value=value, step=step)
    restored.initialize_or_restore()
    assert restored.checkpoint_exists and value.numpy() == 3


class _Net:
    """The `Network` attributes the target-network checks read."""

    def __init__(self, variables, spec=None, name="net"):
        self.variables = self.trainable_variables = variables
        self.input_tensor_spec = spec or tensor_spec.TensorSpec([2], tf.float32)
        self.name = name

    def copy(self, name):
        return _Net([tf.Variable(tf.zeros_like(v)) for v in self.variables], name=name)

    def create_variables(self, input_spec=None):
        del input_spec


def test_target_network_checks():
    shared, own = tf.Variable([1.0]), tf.Variable([2.0, 3.0])
    net = _Net([shared, own])
    only_1, only_2, both = common.extract_shared_variables([shared, own], [shared])
    assert [v is own for v in only_1] == [True] and not only_2
    assert [v is shared for v in both] == [True]
    assert common.deduped_network_variables(net, _Net([shared])) == [own]

    target = common.maybe_copy_target_network_with_checks(net, name="target")
    assert target.name == "target" and target.variables[0] is not shared
    with pytest.raises(ValueError, match="shares weights"):
        common.check_no_shared_variables(net, _Net([shared]))
    with pytest.raises(ValueError, match="Variables lengths do not match"):
        common.check_matching_networks(net, _Net([own]))
    with pytest.raises(ValueError, match="dtypes or shapes"):
        common.check_matching_networks(net, _Net([own, shared]))
    with pytest.raises(ValueError, match="Input tensor specs"):
        common.check_matching_networks(net, _Net(net.variables, tensor_spec.TensorSpec([3])))


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None, reason="tf.summary needs TensorBoard"
)
def test_summaries_write_events(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        common.summarize_tensor_dict({"t": tf.constant([1.0, 2.0])}, step=1)
        common.summarize_scalar_dict({"loss": 1.0, "skipped": None}, step=1)
    writer.flush()
    assert list(tmp_path.iterdir())


def test_assert_members_are_not_overridden_lists():
    class Base:
        def method1(self):
            pass

        def method2(self):
            pass

    class Child(Base):
        def method1(self):
            return 1

    common.assert_members_are_not_overridden(Base, Child(), allowlist=("method1",))
    common.assert_members_are_not_overridden(Base, Child(), denylist=("method2",))
    with pytest.raises(ValueError, match="overrides"):
        common.assert_members_are_not_overridden(Base, Child())
    with pytest.raises(ValueError, match="Both"):
        common.assert_members_are_not_overridden(Base, Child(), ("method1",), ("method2",))


def test_safe_has_state():
    assert not common.safe_has_state(None)
    assert not common.safe_has_state(())
    assert not common.safe_has_state([])
    assert common.safe_has_state(tf.zeros([1]))
    assert common.safe_has_state(collections.namedtuple("Empty", [])())

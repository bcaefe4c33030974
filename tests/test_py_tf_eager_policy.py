"""PyTFEagerPolicy (numpy in / out, compiled fast path) and the SavedModel round trip."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from ppo_nets import DISCRETE, OBS, TS_SPEC, ff_networks, rnn_networks
from tfdrive._keras import keras
from tfdrive.agents.ppo import ppo_policy
from tfdrive.networks import actor_distribution_network, value_network
from tfdrive.policies import policy_saver, py_tf_eager_policy
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import time_step as ts


class CountingPPOPolicy(ppo_policy.PPOPolicy):
    """Counts Python executions of `_distribution` (= traces inside tf.function)."""

    traces = 0

    def _distribution(self, time_step, policy_state, training=False):
        type(self).traces += 1
        return super()._distribution(time_step, policy_state, training)


@pytest.fixture(scope="module")
def ff_policy():
    return CountingPPOPolicy(TS_SPEC, DISCRETE, *ff_networks())


@pytest.fixture(scope="module")
def rnn_policy():
    return ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *rnn_networks(DISCRETE))


@pytest.fixture(scope="module")
def obs():
    return np.random.default_rng(4).normal(size=(5, 3)).astype(np.float32)


def _expected_info(policy, obs_batch, state=()):
    batch = obs_batch.shape[0]
    time_step = ts.TimeStep(
        tf.ones([batch], tf.int32), tf.zeros(batch), tf.ones(batch), tf.constant(obs_batch)
    )
    return policy.distribution(time_step, state).info


@pytest.mark.parametrize("use_tf_function", [True, False])
def test_unbatched_numpy_in_and_out(ff_policy, obs, use_tf_function):
    policy = py_tf_eager_policy.PyTFEagerPolicy(ff_policy, use_tf_function=use_tf_function)
    assert policy.action_spec == array_spec.BoundedArraySpec((), np.int64, 0, 2)
    assert isinstance(policy.time_step_spec.observation, array_spec.ArraySpec)
    step = policy.action(ts.transition(obs[0], reward=np.float32(1.0)))
    assert (
        isinstance(step.action, np.ndarray)
        and step.action.shape == ()
        and step.action.dtype == np.int64
    )
    assert step.state == ()
    logits = step.info["dist_params"]["logits"]
    assert isinstance(logits, np.ndarray) and logits.shape == (3,)
    expected = _expected_info(ff_policy, obs[:1])
    np.testing.assert_allclose(logits, expected["dist_params"]["logits"].numpy()[0], rtol=1e-6)
    value = step.info["value_prediction"]
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float32
    np.testing.assert_allclose(value, expected["value_prediction"].numpy()[0], rtol=1e-6)


@pytest.mark.parametrize("use_tf_function", [True, False])
def test_batched_time_steps(ff_policy, obs, use_tf_function):
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        ff_policy, use_tf_function=use_tf_function, batch_time_steps=False
    )
    time_step = ts.TimeStep(
        np.ones(5, np.int32), np.zeros(5, np.float32), np.ones(5, np.float32), obs
    )
    step = policy.action(time_step)
    assert isinstance(step.action, np.ndarray) and step.action.shape == (5,)
    assert np.all((step.action >= 0) & (step.action <= 2))
    np.testing.assert_allclose(
        step.info["value_prediction"],
        _expected_info(ff_policy, obs)["value_prediction"].numpy(),
        rtol=1e-6,
    )


def test_compiled_once_across_steps_and_batch_sizes(ff_policy, obs):
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        ff_policy, use_tf_function=True, batch_time_steps=False
    )
    before = CountingPPOPolicy.traces
    for batch in (1, 5, 3, 5, 1):
        for _ in range(3):
            policy.action(ts.restart(obs[:batch], batch_size=batch))
    assert CountingPPOPolicy.traces - before == 1
    assert len(policy._compiled) == 1


def test_inputs_are_cast_to_the_spec_dtypes(ff_policy, obs):
    policy = py_tf_eager_policy.PyTFEagerPolicy(ff_policy, use_tf_function=True)
    time_step = ts.TimeStep(np.int64(1), 0.5, 1.0, obs[0].astype(np.float64))
    step = policy.action(time_step)
    np.testing.assert_allclose(
        step.info["value_prediction"],
        _expected_info(ff_policy, obs[:1])["value_prediction"].numpy()[0],
        rtol=1e-6,
    )


def _first_input():
    return keras.layers.Lambda(lambda inputs: tf.nest.flatten(inputs)[0])


def test_extra_observation_keys_are_pruned():
    spec = {"x": OBS}
    actor = actor_distribution_network.ActorDistributionNetwork(
        spec, DISCRETE, fc_layer_params=(4,), preprocessing_combiner=_first_input()
    )
    value = value_network.ValueNetwork(
        spec, fc_layer_params=(4,), preprocessing_combiner=_first_input()
    )
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        ppo_policy.PPOPolicy(ts.time_step_spec(spec), DISCRETE, actor, value), use_tf_function=True
    )
    observation = {"x": np.ones(3, np.float32), "debug": np.zeros(7)}
    step = policy.action(ts.restart(observation))
    assert step.action.shape == ()


def test_leaf_count_mismatch_raises(ff_policy):
    policy = py_tf_eager_policy.PyTFEagerPolicy(ff_policy, use_tf_function=True)
    bad = ts.TimeStep(np.int32(0), np.float32(0), np.float32(1), (np.zeros(3), np.zeros(3)))
    with pytest.raises(ValueError, match="observation structures do not match"):
        policy.action(bad)
    wrong_shape = ts.restart(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"Input of shape \(4,\) does not match spec"):
        policy.action(wrong_shape)


def test_recurrent_state_is_carried_and_reset_on_first(rnn_policy, obs):
    policy = py_tf_eager_policy.PyTFEagerPolicy(rnn_policy, use_tf_function=True)
    state = policy.get_initial_state(1)
    assert [s.shape for s in state["actor_network_state"]] == [(1, 4), (1, 4)]
    first = policy.action(ts.restart(obs[0]), state)
    second = policy.action(ts.transition(obs[1], np.float32(0)), first.state)
    # Graph results equal the eager policy fed the same state sequence.
    batch_first = ts.restart(tf.constant(obs[:1]), batch_size=1)
    eager_first = rnn_policy.distribution(batch_first, rnn_policy.get_initial_state(1))
    batch_second = ts.transition(tf.constant(obs[1:2]), tf.zeros(1))
    eager_second = rnn_policy.distribution(batch_second, eager_first.state)
    np.testing.assert_allclose(
        second.info["value_prediction"], eager_second.info["value_prediction"].numpy()[0], rtol=1e-5
    )
    # A FIRST step with a stale state equals one with the initial state.
    restarted = policy.action(ts.restart(obs[0]), second.state)
    np.testing.assert_allclose(
        restarted.info["dist_params"]["logits"], first.info["dist_params"]["logits"], rtol=1e-6
    )
    np.testing.assert_allclose(
        restarted.state["value_network_state"][1].numpy(),
        first.state["value_network_state"][1].numpy(),
        rtol=1e-6,
    )


def test_initial_state_without_batch_size_is_empty_batch(rnn_policy):
    # As TF-Agents: None means a batch dimension of 0.
    policy = py_tf_eager_policy.PyTFEagerPolicy(rnn_policy)
    state = policy.get_initial_state()
    assert state["actor_network_state"][0].shape == (0, 4)


def test_seeded_call_and_variables(ff_policy, obs):
    policy = py_tf_eager_policy.PyTFEagerPolicy(ff_policy, use_tf_function=True)
    step = policy.action(ts.restart(obs[0]), seed=3)
    assert step.action.shape == () and 0 <= step.action <= 2
    arrays = policy.variables()
    assert all(isinstance(a, np.ndarray) for a in arrays)
    assert len(arrays) == len(ff_policy.variables())


def test_saved_model_round_trip(rnn_policy, obs, tmp_path):
    train_step = tf.Variable(42, dtype=tf.int64)
    saver = policy_saver.PolicySaver(rnn_policy, seed=11, train_step=train_step)
    path = str(tmp_path / "policy")
    saver.save(path)
    assert os.path.exists(os.path.join(path, policy_saver.POLICY_SPECS_PBTXT))

    loaded = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        path, load_specs_from_pbtxt=True, use_tf_function=True, batch_time_steps=False
    )
    assert loaded.time_step_spec == tensor_spec.to_array_spec(TS_SPEC)
    assert loaded.action_spec == tensor_spec.to_array_spec(DISCRETE)
    assert loaded.get_train_step() == 42
    assert loaded.collect_data_spec.action == tensor_spec.to_array_spec(DISCRETE)

    # Identical sampled actions for the seed the policy was saved with.
    batch = ts.restart(obs, batch_size=5)
    original = tf.function(lambda t, s: rnn_policy.action(t, s, seed=11))
    state = rnn_policy.get_initial_state(5)
    reference = [original(tf.nest.map_structure(tf.constant, batch), state) for _ in range(3)]
    loaded_state = loaded.get_initial_state(5)
    for ref in reference:
        step = loaded.action(batch, loaded_state)
        np.testing.assert_array_equal(step.action, ref.action.numpy())
        np.testing.assert_allclose(
            step.info["value_prediction"], ref.info["value_prediction"].numpy(), rtol=1e-6
        )

    # Specs passed explicitly instead of read from the pbtxt.
    explicit = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        path,
        TS_SPEC,
        DISCRETE,
        policy_state_spec=rnn_policy.policy_state_spec,
        info_spec=rnn_policy.info_spec,
    )
    single = explicit.action(ts.restart(obs[0]), explicit.get_initial_state(1))
    assert single.action.shape == ()

    # update_from_checkpoint loads new variable values and the step.
    train_step.assign(43)
    variable = rnn_policy.variables()[0]
    old = variable.numpy()
    variable.assign(old + 1.0)
    saver.save_checkpoint(str(tmp_path / "ckpt_43"))
    variable.assign(old)
    loaded.update_from_checkpoint(str(tmp_path / "ckpt_43"))
    assert loaded.get_train_step() == 43
    assert loaded.get_train_step_from_last_restored_checkpoint_path() == 43
    names = [v.name for v in loaded.variables()]
    restored = loaded.variables()[names.index(variable.name)]
    np.testing.assert_allclose(restored.numpy(), old + 1.0)


def test_saved_model_needs_specs(tmp_path, ff_policy):
    path = str(tmp_path / "p")
    policy_saver.PolicySaver(ff_policy).save(path)
    with pytest.raises(ValueError, match="you have to provide the specs"):
        py_tf_eager_policy.SavedModelPyTFEagerPolicy(path)


_PLACEMENT = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfdrive.agents.ppo import ppo_policy
    from tfdrive.networks import actor_distribution_rnn_network as ar, value_network as vn
    from tfdrive.policies import py_tf_eager_policy
    from tfdrive.specs import tensor_spec
    from tfdrive.trajectories import time_step as ts
    obs = tensor_spec.TensorSpec((3,), tf.float32)
    act = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
    with tf.device("/CPU:1"):
        actor = ar.ActorDistributionRnnNetwork(obs, act, input_fc_layer_params=(4,), lstm_size=(4,),
                                               output_fc_layer_params=(4,))
        value = vn.ValueNetwork(obs, fc_layer_params=(4,))
        policy = ppo_policy.PPOPolicy(ts.time_step_spec(obs), act, actor, value)
    eager = py_tf_eager_policy.PyTFEagerPolicy(policy, use_tf_function=True)
    assert eager.device.endswith("CPU:1"), eager.device
    step = eager.action(ts.restart(np.ones(3, np.float32)), eager.get_initial_state(1))
    assert isinstance(step.action, np.ndarray)
    device = step.state["actor_network_state"][0].device
    assert device.endswith("CPU:1"), device
    matmuls = [op for op in eager._compiled[True].graph.get_operations() if op.type == "MatMul"]
    assert matmuls and all(op.device.endswith("CPU:1") for op in matmuls), [op.device for op in matmuls]
    print("ok", device)
    """
)


def test_graph_runs_on_the_device_of_the_variables():
    result = subprocess.run(
        [sys.executable, "-c", _PLACEMENT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ok" in result.stdout and "CPU:1" in result.stdout

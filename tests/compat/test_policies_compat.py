"""Differential tests: tfdrive's policies and networks against TF-Agents 0.19.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26):
`python -m pytest tests/compat/test_policies_compat.py -p no:cacheprovider -o addopts=""`.

tfdrive's networks are given TF-Agents' weights (the variables line up one to
one, same order and shapes); the policies must then agree on distribution
parameters, value predictions, log-probabilities and greedy actions, single
and batched, feed-forward and recurrent, eager and through PyTFEagerPolicy.
"""

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
from tf_agents.agents.ppo import ppo_policy as tfa_ppo_policy  # noqa: E402
from tf_agents.networks import actor_distribution_network as tfa_adn  # noqa: E402
from tf_agents.networks import actor_distribution_rnn_network as tfa_adrn  # noqa: E402
from tf_agents.networks import value_network as tfa_vn  # noqa: E402
from tf_agents.networks import value_rnn_network as tfa_vrn  # noqa: E402
from tf_agents.policies import actor_policy as tfa_actor_policy  # noqa: E402
from tf_agents.policies import py_tf_eager_policy as tfa_eager  # noqa: E402
from tf_agents.policies import random_py_policy as tfa_random_py_policy  # noqa: E402
from tf_agents.policies import tf_policy as tfa_tf_policy  # noqa: E402
from tf_agents.specs import array_spec as tfa_array_spec  # noqa: E402
from tf_agents.trajectories import policy_step as tfa_policy_step  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402
from tf_agents.utils import tensor_normalizer as tfa_normalizer  # noqa: E402

from tfdrive.agents.ppo import ppo_policy  # noqa: E402
from tfdrive.networks import (  # noqa: E402
    actor_distribution_network,
    actor_distribution_rnn_network,
    value_network,
    value_rnn_network,
)
from tfdrive.policies import actor_policy, py_tf_eager_policy, random_py_policy, tf_policy  # noqa: E402
from tfdrive.specs import array_spec, tensor_spec  # noqa: E402
from tfdrive.trajectories import policy_step  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.utils import tensor_normalizer  # noqa: E402

OBS = tensor_spec.TensorSpec((3,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, [-1.0, 0.0], [1.0, 2.0])
NESTED = {"c": CONTINUOUS, "d": DISCRETE}
RTOL = 1e-5
ATOL = 1e-6


def copy_weights(source, target):
    target.create_variables()  # Networks create their variables lazily, as TF-Agents' do.
    src, dst = source.variables, target.variables
    assert [tuple(v.shape) for v in src] == [tuple(v.shape) for v in dst]
    for s, d in zip(src, dst):
        d.assign(s)


def ff_pair(action_spec):
    tfa_actor = tfa_adn.ActorDistributionNetwork(OBS, action_spec, fc_layer_params=(16, 8))
    tfa_value = tfa_vn.ValueNetwork(OBS, fc_layer_params=(16, 8))
    tfa_actor.create_variables()
    tfa_value.create_variables()
    actor = actor_distribution_network.ActorDistributionNetwork(
        OBS, action_spec, fc_layer_params=(16, 8)
    )
    value = value_network.ValueNetwork(OBS, fc_layer_params=(16, 8))
    copy_weights(tfa_actor, actor)
    copy_weights(tfa_value, value)
    return (tfa_actor, tfa_value), (actor, value)


def rnn_pair(action_spec):
    kwargs = dict(input_fc_layer_params=(8,), lstm_size=(6,), output_fc_layer_params=(5,))
    tfa_actor = tfa_adrn.ActorDistributionRnnNetwork(OBS, action_spec, **kwargs)
    tfa_value = tfa_vrn.ValueRnnNetwork(OBS, **kwargs)
    tfa_actor.create_variables()
    tfa_value.create_variables()
    actor = actor_distribution_rnn_network.ActorDistributionRnnNetwork(OBS, action_spec, **kwargs)
    value = value_rnn_network.ValueRnnNetwork(OBS, **kwargs)
    copy_weights(tfa_actor, actor)
    copy_weights(tfa_value, value)
    return (tfa_actor, tfa_value), (actor, value)


@pytest.fixture(scope="module")
def observations():
    return np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32) * 2.0


def batch(obs, step_types):
    n = obs.shape[0]
    return ts.TimeStep(tf.constant(step_types, tf.int32), tf.zeros(n), tf.ones(n), tf.constant(obs))


def tfa_batch(obs, step_types):
    n = obs.shape[0]
    return tfa_ts.TimeStep(
        tf.constant(step_types, tf.int32), tf.zeros(n), tf.ones(n), tf.constant(obs)
    )


def assert_close_nest(got, want):
    tf.nest.assert_same_structure(got, want)
    for g, w in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def assert_spec_equal(got, want):
    """Equal specs in the same structure (TF-Agents' dicts may be tracking wrappers)."""
    tf.nest.assert_same_structure(got, want, check_types=False)
    assert tf.nest.flatten(got) == tf.nest.flatten(want)


def greedy(dists):
    return tf.nest.map_structure(lambda d: d.mode(), dists)


def compare_distribution_steps(ours, theirs, probe_actions=None):
    assert_close_nest(ours.info, theirs.info)
    assert_close_nest(ours.state, theirs.state)
    assert_close_nest(greedy(ours.action), greedy(theirs.action))
    actions = probe_actions if probe_actions is not None else greedy(theirs.action)
    ours_lp = tf.nest.map_structure(lambda d, a: d.log_prob(a), ours.action, actions)
    theirs_lp = tf.nest.map_structure(lambda d, a: d.log_prob(a), theirs.action, actions)
    assert_close_nest(ours_lp, theirs_lp)


@pytest.mark.parametrize(
    "action_spec", [DISCRETE, CONTINUOUS, NESTED], ids=["discrete", "continuous", "nested"]
)
@pytest.mark.parametrize("n", [1, 6])
def test_ppo_feed_forward(action_spec, n, observations):
    (tfa_actor, tfa_value), (actor, value) = ff_pair(action_spec)
    theirs = tfa_ppo_policy.PPOPolicy(tfa_ts.time_step_spec(OBS), action_spec, tfa_actor, tfa_value)
    ours = ppo_policy.PPOPolicy(TS_SPEC, action_spec, actor, value)
    assert_spec_equal(ours.info_spec, theirs.info_spec)
    assert_spec_equal(ours.policy_state_spec, theirs.policy_state_spec)
    obs = observations[:n]
    step_types = [1] * n
    compare_distribution_steps(
        ours.distribution(batch(obs, step_types)), theirs.distribution(tfa_batch(obs, step_types))
    )
    # Sampled actions: each policy's info for the same inputs, and the other's log-prob.
    sampled = theirs.action(tfa_batch(obs, step_types))
    ours_step = ours.action(batch(obs, step_types))
    assert_close_nest(ours_step.info, sampled.info)
    tf.nest.map_structure(
        lambda a, s: np.testing.assert_equal(a.dtype, s.dtype), ours_step.action, sampled.action
    )
    compare_distribution_steps(
        ours.distribution(batch(obs, step_types)),
        theirs.distribution(tfa_batch(obs, step_types)),
        probe_actions=sampled.action,
    )
    values, _ = ours.apply_value_network(obs.reshape(1, n, 3), tf.ones([1, n], tf.int32))
    tfa_values, _ = theirs.apply_value_network(obs.reshape(1, n, 3), tf.ones([1, n], tf.int32))
    np.testing.assert_allclose(values.numpy(), tfa_values.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("action_spec", [DISCRETE, CONTINUOUS], ids=["discrete", "continuous"])
def test_ppo_recurrent_over_an_episode_boundary(action_spec, observations):
    (tfa_actor, tfa_value), (actor, value) = rnn_pair(action_spec)
    theirs = tfa_ppo_policy.PPOPolicy(tfa_ts.time_step_spec(OBS), action_spec, tfa_actor, tfa_value)
    ours = ppo_policy.PPOPolicy(TS_SPEC, action_spec, actor, value)
    assert_spec_equal(ours.policy_state_spec, theirs.policy_state_spec)
    ours_state = ours.get_initial_state(2)
    theirs_state = theirs.get_initial_state(2)
    assert_close_nest(ours_state, theirs_state)
    # Three steps for two envs; env 1 starts a new episode at step 2.
    step_types = [[0, 0], [1, 1], [1, 0]]
    for t in range(3):
        obs = observations[2 * t : 2 * t + 2]
        ours_step = ours.distribution(batch(obs, step_types[t]), ours_state)
        theirs_step = theirs.distribution(tfa_batch(obs, step_types[t]), theirs_state)
        compare_distribution_steps(ours_step, theirs_step)
        ours_state, theirs_state = ours_step.state, theirs_step.state
    # Whole sequences ([B, T] outer dims) through the value network.
    seq = observations.reshape(2, 3, 3)
    seq_types = tf.constant([[0, 1, 1], [0, 1, 0]], tf.int32)
    ours_values, ours_vs = ours.apply_value_network(seq, seq_types, ours.get_initial_value_state(2))
    theirs_values, theirs_vs = theirs.apply_value_network(
        seq, seq_types, theirs.get_initial_value_state(2)
    )
    np.testing.assert_allclose(ours_values.numpy(), theirs_values.numpy(), rtol=RTOL, atol=ATOL)
    assert_close_nest(ours_vs, theirs_vs)


def test_actor_policy_with_mask_and_normalizer(observations):
    (tfa_actor, _), (actor, _) = ff_pair(DISCRETE)
    obs_spec = {"obs": OBS, "mask": tensor_spec.TensorSpec((3,), tf.int32)}
    splitter = lambda o: (o["obs"], o["mask"])  # noqa: E731
    tfa_norm = tfa_normalizer.StreamingTensorNormalizer(OBS)
    norm = tensor_normalizer.StreamingTensorNormalizer(OBS)
    for n in (tfa_norm, norm):
        n.update(tf.constant(observations))
    for a, b in zip(tf.nest.flatten(norm.variables), tf.nest.flatten(tfa_norm.variables)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    theirs = tfa_actor_policy.ActorPolicy(
        tfa_ts.time_step_spec(obs_spec),
        DISCRETE,
        tfa_actor,
        observation_normalizer=tfa_norm,
        observation_and_action_constraint_splitter=splitter,
    )
    ours = actor_policy.ActorPolicy(
        ts.time_step_spec(obs_spec),
        DISCRETE,
        actor,
        observation_normalizer=norm,
        observation_and_action_constraint_splitter=splitter,
    )
    mask = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1], [1, 1, 1], [1, 0, 0]], np.int32)
    obs = {"obs": tf.constant(observations), "mask": tf.constant(mask)}
    ours_d = ours.distribution(ts.TimeStep(tf.ones(6, tf.int32), tf.zeros(6), tf.ones(6), obs))
    theirs_d = theirs.distribution(
        tfa_ts.TimeStep(tf.ones(6, tf.int32), tf.zeros(6), tf.ones(6), obs)
    )
    np.testing.assert_allclose(
        ours_d.action.logits.numpy(), theirs_d.action.logits.numpy(), rtol=1e-4
    )
    np.testing.assert_array_equal(ours_d.action.mode().numpy(), theirs_d.action.mode().numpy())
    assert ours.policy_state_spec == theirs.policy_state_spec == ()


@pytest.mark.parametrize("recurrent", [False, True], ids=["ff", "rnn"])
def test_py_tf_eager_policies_agree(recurrent, observations):
    (tfa_actor, tfa_value), (actor, value) = (rnn_pair if recurrent else ff_pair)(DISCRETE)
    theirs = tfa_eager.PyTFEagerPolicy(
        tfa_ppo_policy.PPOPolicy(tfa_ts.time_step_spec(OBS), DISCRETE, tfa_actor, tfa_value),
        use_tf_function=True,
    )
    ours = py_tf_eager_policy.PyTFEagerPolicy(
        ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, actor, value), use_tf_function=True
    )
    assert ours.time_step_spec == theirs.time_step_spec
    assert ours.action_spec == theirs.action_spec
    assert_spec_equal(ours.info_spec, theirs.info_spec)
    assert_spec_equal(ours.policy_state_spec, theirs.policy_state_spec)
    ours_state, theirs_state = ours.get_initial_state(1), theirs.get_initial_state(1)
    for t in range(4):
        step_type = np.int32(0 if t in (0, 2) else 1)
        time_step = ts.TimeStep(step_type, np.float32(0), np.float32(1), observations[t])
        tfa_time_step = tfa_ts.TimeStep(step_type, np.float32(0), np.float32(1), observations[t])
        o = ours.action(time_step, ours_state)
        w = theirs.action(tfa_time_step, theirs_state)
        assert_close_nest(o.info, w.info)
        assert_close_nest(o.state, w.state)
        assert o.action.shape == np.asarray(w.action).shape and o.action.dtype == w.action.dtype
        ours_state, theirs_state = o.state, w.state


def test_tf_agents_networks_inside_tfdrive_policies(observations):
    (tfa_actor, tfa_value), _ = rnn_pair(CONTINUOUS)
    theirs = tfa_ppo_policy.PPOPolicy(tfa_ts.time_step_spec(OBS), CONTINUOUS, tfa_actor, tfa_value)
    ours = ppo_policy.PPOPolicy(TS_SPEC, CONTINUOUS, tfa_actor, tfa_value)
    assert_spec_equal(ours.info_spec, theirs.info_spec)
    obs = observations[:4]
    compare_distribution_steps(
        ours.distribution(batch(obs, [0] * 4), ours.get_initial_state(4)),
        theirs.distribution(tfa_batch(obs, [0] * 4), theirs.get_initial_state(4)),
    )
    (tfa_ff_actor, _), _ = ff_pair(DISCRETE)
    ours_actor = actor_policy.ActorPolicy(TS_SPEC, DISCRETE, tfa_ff_actor)
    theirs_actor = tfa_actor_policy.ActorPolicy(tfa_ts.time_step_spec(OBS), DISCRETE, tfa_ff_actor)
    compare_distribution_steps(
        ours_actor.distribution(batch(obs, [1] * 4)),
        theirs_actor.distribution(tfa_batch(obs, [1] * 4)),
    )
    eager = py_tf_eager_policy.PyTFEagerPolicy(ours, use_tf_function=True)
    step = eager.action(ts.restart(observations[0]), eager.get_initial_state(1))
    assert step.action.shape == (2,)


def test_tfdrive_eager_wrapper_around_a_tf_agents_policy(observations):
    (tfa_actor, tfa_value), _ = rnn_pair(DISCRETE)
    policy = tfa_ppo_policy.PPOPolicy(tfa_ts.time_step_spec(OBS), DISCRETE, tfa_actor, tfa_value)
    ours = py_tf_eager_policy.PyTFEagerPolicy(policy, use_tf_function=True, batch_time_steps=False)
    theirs = tfa_eager.PyTFEagerPolicy(policy, use_tf_function=True, batch_time_steps=False)
    ours_state, theirs_state = ours.get_initial_state(3), theirs.get_initial_state(3)
    for t, step_types in enumerate(([0, 0, 0], [1, 0, 1])):
        obs = observations[3 * t : 3 * t + 3]
        time_step = tfa_ts.TimeStep(
            np.array(step_types, np.int32), np.zeros(3, np.float32), np.ones(3, np.float32), obs
        )
        o, w = ours.action(time_step, ours_state), theirs.action(time_step, theirs_state)
        assert_close_nest(o.info, tf.nest.map_structure(np.asarray, w.info))
        assert_close_nest(o.state, w.state)
        assert isinstance(o.action, np.ndarray) and o.action.shape == (3,)
        ours_state, theirs_state = o.state, w.state


def test_random_py_policy_same_samples_for_a_seed():
    obs = array_spec.ArraySpec((2,), np.float32)
    spec = {
        "a": array_spec.BoundedArraySpec((3,), np.int32, 0, 9),
        "b": array_spec.BoundedArraySpec((), np.float32, -1, 1),
    }
    tfa_spec = {
        "a": tfa_array_spec.BoundedArraySpec((3,), np.int32, 0, 9),
        "b": tfa_array_spec.BoundedArraySpec((), np.float32, -1, 1),
    }
    ours = random_py_policy.RandomPyPolicy(ts.time_step_spec(obs), spec, seed=17)
    theirs = tfa_random_py_policy.RandomPyPolicy(
        tfa_ts.time_step_spec(tfa_array_spec.ArraySpec((2,), np.float32)), tfa_spec, seed=17
    )
    for n in (None, 4):
        o = np.zeros((2,) if n is None else (n, 2), np.float32)
        ours_a = ours.action(ts.restart(o, batch_size=n)).action
        theirs_a = theirs.action(tfa_ts.restart(o, batch_size=n)).action
        for k in spec:
            np.testing.assert_array_equal(ours_a[k], theirs_a[k])
            assert ours_a[k].dtype == theirs_a[k].dtype


class _Bad:
    """Makes a TFPolicy subclass of either library returning a bad action."""

    @staticmethod
    def make(base, step_cls, time_step_spec, action, action_spec):
        class Bad(base):
            def __init__(self):
                super().__init__(time_step_spec, action_spec)

            def _action(self, time_step, policy_state, seed):
                return step_cls(action, policy_state, ())

            def _distribution(self, time_step, policy_state):
                raise NotImplementedError

        return Bad()


@pytest.mark.parametrize(
    "action, action_spec",
    [
        (tf.zeros([1], tf.int32), DISCRETE),
        ({"x": tf.zeros([1], tf.int64)}, DISCRETE),
        ([tf.zeros([1], tf.int64)] * 2, (DISCRETE, DISCRETE)),
        ((tf.zeros([1], tf.int64),) * 3, (DISCRETE, DISCRETE)),
    ],
    ids=["dtype", "dict-vs-leaf", "list-vs-tuple", "length"],
)
def test_same_error_types_for_bad_actions(action, action_spec):
    ours = _Bad.make(tf_policy.TFPolicy, policy_step.PolicyStep, TS_SPEC, action, action_spec)
    theirs = _Bad.make(
        tfa_tf_policy.TFPolicy,
        tfa_policy_step.PolicyStep,
        tfa_ts.time_step_spec(OBS),
        action,
        action_spec,
    )
    with pytest.raises(Exception) as theirs_error:
        theirs.action(tfa_batch(np.zeros((1, 3), np.float32), [1]))
    with pytest.raises(Exception) as ours_error:
        ours.action(batch(np.zeros((1, 3), np.float32), [1]))
    assert type(ours_error.value) is type(theirs_error.value)


def _signature_pairs():
    from tf_agents.policies import policy_saver as tfa_saver
    from tf_agents.policies import py_policy as tfa_py_policy
    from tf_agents.policies import random_tf_policy as tfa_random_tf

    from tfdrive.networks import lstm_encoding_network
    from tfdrive.policies import policy_saver, py_policy, random_tf_policy

    tfa_lstm = pytest.importorskip("tf_agents.networks.lstm_encoding_network")
    return [
        (tf_policy.TFPolicy.__init__, tfa_tf_policy.TFPolicy.__init__),
        (tf_policy.TFPolicy.action, tfa_tf_policy.TFPolicy.action),
        (tf_policy.TFPolicy.distribution, tfa_tf_policy.TFPolicy.distribution),
        (tf_policy.TFPolicy.update, tfa_tf_policy.TFPolicy.update),
        (py_policy.PyPolicy.__init__, tfa_py_policy.PyPolicy.__init__),
        (py_policy.PyPolicy.action, tfa_py_policy.PyPolicy.action),
        (random_py_policy.RandomPyPolicy.__init__, tfa_random_py_policy.RandomPyPolicy.__init__),
        (random_tf_policy.RandomTFPolicy.__init__, tfa_random_tf.RandomTFPolicy.__init__),
        (actor_policy.ActorPolicy.__init__, tfa_actor_policy.ActorPolicy.__init__),
        (ppo_policy.PPOPolicy.__init__, tfa_ppo_policy.PPOPolicy.__init__),
        (ppo_policy.PPOPolicy.apply_value_network, tfa_ppo_policy.PPOPolicy.apply_value_network),
        (py_tf_eager_policy.PyTFEagerPolicy.__init__, tfa_eager.PyTFEagerPolicy.__init__),
        (
            py_tf_eager_policy.SavedModelPyTFEagerPolicy.__init__,
            tfa_eager.SavedModelPyTFEagerPolicy.__init__,
        ),
        (policy_saver.PolicySaver.__init__, tfa_saver.PolicySaver.__init__),
        (
            actor_distribution_network.ActorDistributionNetwork.__init__,
            tfa_adn.ActorDistributionNetwork.__init__,
        ),
        (value_network.ValueNetwork.__init__, tfa_vn.ValueNetwork.__init__),
        (
            actor_distribution_rnn_network.ActorDistributionRnnNetwork.__init__,
            tfa_adrn.ActorDistributionRnnNetwork.__init__,
        ),
        (value_rnn_network.ValueRnnNetwork.__init__, tfa_vrn.ValueRnnNetwork.__init__),
        (
            lstm_encoding_network.LSTMEncodingNetwork.__init__,
            tfa_lstm.LSTMEncodingNetwork.__init__,
        ),
        (
            tensor_normalizer.StreamingTensorNormalizer.normalize,
            tfa_normalizer.StreamingTensorNormalizer.normalize,
        ),
        (
            tensor_normalizer.EMATensorNormalizer.__init__,
            tfa_normalizer.EMATensorNormalizer.__init__,
        ),
        (tensor_normalizer.TensorNormalizer.update, tfa_normalizer.TensorNormalizer.update),
    ]


def test_signatures_match_tf_agents():
    """Same parameter names, order and defaults; tfdrive may only append (e.g. `seed`)."""
    import inspect

    for ours, theirs in _signature_pairs():
        o = list(inspect.signature(ours).parameters.values())
        t = list(inspect.signature(theirs).parameters.values())
        assert [p.name for p in o[: len(t)]] == [p.name for p in t], ours.__qualname__
        for a, b in zip(o, t):
            if isinstance(b.default, (bool, int, float, str, tuple, type(None))):
                assert a.default == b.default, (ours.__qualname__, a.name, a.default, b.default)

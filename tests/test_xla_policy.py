"""PyTFEagerPolicy(jit_compile=True): the XLA graph against the plain one.

Deterministic outputs (greedy actions, logits, means, value predictions,
recurrent states) must agree with the plain graph up to float rounding;
sampled actions come from XLA's own random stream, so they are checked for
the right distribution instead (chi-square and Kolmogorov-Smirnov against
the distribution the plain graph computes, at a significance of 0.001).
"""

import math
import warnings

import numpy as np
import pytest
import tensorflow as tf

from ppo_nets import DISCRETE, OBS, TS_SPEC, ff_networks, rnn_networks
from tfdrive.agents.ppo import ppo_policy
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import native
from tfdrive.networks import actor_distribution_network
from tfdrive.policies import (
    actor_policy,
    greedy_policy,
    policy_saver,
    py_tf_eager_policy,
    tf_policy,
)
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -10.0, 10.0)
XlaFallbackWarning = py_tf_eager_policy.XlaFallbackWarning


def _pair(policy, batched=True):
    """`(plain, xla)` PyTFEagerPolicies of one TF policy."""
    return tuple(
        py_tf_eager_policy.PyTFEagerPolicy(
            policy, use_tf_function=True, batch_time_steps=not batched, jit_compile=jit
        )
        for jit in (False, True)
    )


def _obs(batch, scale=1.0, seed=0):
    return (np.random.default_rng(seed).normal(size=(batch, 3)) * scale).astype(np.float32)


def _assert_close(a, b):
    tf.nest.map_structure(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6), a, b)


@pytest.fixture(scope="module")
def ppo():
    tf.random.set_seed(3)
    return ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *ff_networks())


@pytest.fixture(scope="module")
def normal_actor():
    tf.random.set_seed(5)
    net = actor_distribution_network.ActorDistributionNetwork(OBS, CONTINUOUS, fc_layer_params=(8,))
    return actor_policy.ActorPolicy(TS_SPEC, CONTINUOUS, net, clip=False)


def test_jit_compile_implies_a_compiled_graph_and_is_a_bool(ppo):
    policy = py_tf_eager_policy.PyTFEagerPolicy(ppo, jit_compile=True)
    assert policy.jit_compile
    assert policy._use_tf_function
    assert not py_tf_eager_policy.PyTFEagerPolicy(ppo, use_tf_function=True).jit_compile
    with pytest.raises(TypeError, match="jit_compile"):
        py_tf_eager_policy.PyTFEagerPolicy(ppo, jit_compile="yes")


@pytest.mark.parametrize("batch", [1, 64])
def test_ppo_infos_match_the_plain_graph(ppo, batch):
    plain, xla = _pair(ppo)
    time_step = ts.restart(_obs(batch), batch_size=batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", XlaFallbackWarning)
        got, want = xla.action(time_step), plain.action(time_step)
    assert xla.jit_compile
    assert got.action.shape == want.action.shape == (batch,)
    assert got.action.dtype == want.action.dtype
    _assert_close(got.info, want.info)
    assert set(got.info) == {"dist_params", "value_prediction"}


def test_unbatched_time_steps(ppo):
    plain, xla = _pair(ppo, batched=False)
    time_step = ts.restart(_obs(1)[0])
    got, want = xla.action(time_step), plain.action(time_step)
    assert got.action.shape == ()
    _assert_close(got.info, want.info)


def test_greedy_categorical_actions_are_identical(ppo):
    plain, xla = _pair(greedy_policy.GreedyPolicy(ppo))
    for seed in range(3):
        time_step = ts.restart(_obs(256, seed=seed), batch_size=256)
        got, want = xla.action(time_step), plain.action(time_step)
        np.testing.assert_array_equal(got.action, want.action)
        _assert_close(got.info, want.info)


def test_greedy_normal_actions_match(normal_actor):
    plain, xla = _pair(greedy_policy.GreedyPolicy(normal_actor))
    time_step = ts.restart(_obs(64), batch_size=64)
    got, want = xla.action(time_step), plain.action(time_step)
    assert got.action.shape == (64, 2) and got.action.dtype == np.float32
    _assert_close(got.action, want.action)


def test_categorical_samples_follow_the_plain_distribution(ppo):
    # One observation repeated: every row samples from the same probabilities.
    batch, calls = 4096, 5
    plain, xla = _pair(ppo)
    time_step = ts.restart(np.repeat(_obs(1, scale=40.0, seed=7), batch, 0), batch_size=batch)
    logits = plain.action(time_step).info["dist_params"]["logits"][0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    assert probs.max() / probs.min() > 1.5, "the test needs distinct probabilities"
    samples = [xla.action(time_step).action for _ in range(calls)]
    assert not np.array_equal(samples[0], samples[1]), "XLA's random stream must advance"
    for policy_samples in (np.concatenate(samples), plain_samples(plain, time_step, calls)):
        counts = np.bincount(policy_samples, minlength=probs.size)
        expected = probs * policy_samples.size
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 16.27, (chi2, counts, expected)  # chi-square, 3 dof, p = 0.001


def plain_samples(policy, time_step, calls):
    return np.concatenate([policy.action(time_step).action for _ in range(calls)])


def _ks_statistic(z):
    """Kolmogorov-Smirnov distance between the samples `z` and the standard normal."""
    z = np.sort(z)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    n = z.size
    return max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(n) / n).max())


def test_normal_samples_follow_the_plain_distribution(normal_actor):
    batch, calls = 512, 10
    plain, xla = _pair(normal_actor)
    obs = _obs(batch, seed=11)
    time_step = ts.restart(obs, batch_size=batch)
    dist = normal_actor.distribution(tf.nest.map_structure(tf.convert_to_tensor, time_step)).action
    mean, std = dist.mean().numpy(), dist.stddev().numpy()
    for policy in (xla, plain):
        z = np.stack([(policy.action(time_step).action - mean) / std for _ in range(calls)])
        assert z.shape == (calls, batch, 2)
        ks = _ks_statistic(z.ravel())
        assert ks < 1.95 / math.sqrt(z.size), ks  # Kolmogorov-Smirnov, p = 0.001
        assert abs(z.mean()) < 4 / math.sqrt(z.size)


def test_seeded_calls_run_the_plain_graph_and_reproduce_it(ppo):
    plain, xla = _pair(ppo)
    time_step = ts.restart(_obs(32), batch_size=32)
    tf.random.set_seed(0)
    want = plain.action(time_step, seed=5).action
    tf.random.set_seed(0)
    np.testing.assert_array_equal(xla.action(time_step, seed=5).action, want)
    assert xla.jit_compile  # a seeded call is no fallback


def test_recurrent_states_and_infos_match_over_an_episode():
    tf.random.set_seed(9)
    rnn = ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *rnn_networks(DISCRETE))
    plain, xla = _pair(rnn)
    greedy_plain, greedy_xla = _pair(greedy_policy.GreedyPolicy(rnn))
    batch = 8
    states = [p.get_initial_state(batch) for p in (plain, xla, greedy_plain, greedy_xla)]
    for t in range(6):
        # FIRST at t = 0 and again at t = 3 for half the batch: the state resets there.
        step_type = np.full(batch, 0 if t == 0 else 1, np.int32)
        if t == 3:
            step_type[: batch // 2] = 0
        time_step = ts.TimeStep(
            step_type, np.zeros(batch, np.float32), np.ones(batch, np.float32), _obs(batch, seed=t)
        )
        steps = [
            p.action(time_step, s) for p, s in zip((plain, xla, greedy_plain, greedy_xla), states)
        ]
        states = [s.state for s in steps]
        _assert_close(steps[1].info, steps[0].info)
        _assert_close(
            tf.nest.map_structure(np.asarray, steps[1].state),
            tf.nest.map_structure(np.asarray, steps[0].state),
        )
        np.testing.assert_array_equal(steps[3].action, steps[2].action)
    assert xla.jit_compile and greedy_xla.jit_compile


class _UncompilablePolicy(tf_policy.TFPolicy):
    """Action ``min(floor(|sum(observation)|), 5)``, computed by an op XLA has no kernel for."""

    def __init__(self, op: str):
        action_spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 5)
        super().__init__(TS_SPEC, action_spec, name=f"uncompilable_{op}")
        self._op = op

    def _action(self, time_step, policy_state, seed):
        total = tf.reduce_sum(time_step.observation, -1)
        if self._op == "py_function":
            action = tf.py_function(_reference_action, [total], tf.int32)
            action.set_shape(total.shape)
        elif self._op == "string":
            # Through a string and back: AsString and StringToNumber have no XLA kernels.
            text = tf.strings.as_string(tf.floor(tf.abs(total)), precision=0)
            action = tf.cast(tf.minimum(tf.strings.to_number(text), 5.0), tf.int32)
        else:  # "failing": a py_function that raises, in every graph.
            action = tf.py_function(_raise, [total], tf.int32)
        return policy_step.PolicyStep(action, policy_state, ())

    def _distribution(self, time_step, policy_state):
        raise NotImplementedError("actions only")


def _reference_action(total):
    total = total.numpy() if hasattr(total, "numpy") else total
    return np.minimum(np.floor(np.abs(total)), 5).astype(np.int32)


def _raise(total):
    raise ValueError("the policy itself is broken")


@pytest.mark.parametrize("op,xla_op", [("py_function", "EagerPyFunc"), ("string", "AsString")])
def test_uncompilable_policy_falls_back_with_one_warning(op, xla_op):
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        _UncompilablePolicy(op), batch_time_steps=False, jit_compile=True
    )
    obs = _obs(16, scale=3.0)
    time_step = ts.restart(obs, batch_size=16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        actions = [policy.action(time_step).action for _ in range(3)]
    fallbacks = [w for w in caught if issubclass(w.category, XlaFallbackWarning)]
    assert len(fallbacks) == 1
    message = str(fallbacks[0].message)
    assert f"uncompilable_{op}" in message and xla_op in message
    assert "plain TensorFlow graph" in message
    assert not policy.jit_compile
    for action in actions:
        np.testing.assert_array_equal(action, _reference_action(obs.sum(-1)))


def test_an_error_of_the_policy_itself_is_raised_not_hidden():
    policy = py_tf_eager_policy.PyTFEagerPolicy(
        _UncompilablePolicy("failing"), batch_time_steps=False, jit_compile=True
    )
    time_step = ts.restart(_obs(4), batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", XlaFallbackWarning)
        with pytest.raises(tf.errors.OpError, match="the policy itself is broken"):
            policy.action(time_step)
    assert policy.jit_compile  # nothing was blamed on XLA


def _driver_trajectories(policy, num_envs, steps):
    env = native.make("CartPole-v1", num_envs=num_envs, seed=3)
    seen = []
    driver = PyDriver(env, policy, [seen.append], max_steps=steps)
    time_step, _ = driver.run(env.reset(), policy.get_initial_state(num_envs))
    return seen, time_step


def test_py_driver_runs_a_jit_compiled_policy_on_native_envs(ppo):
    env = native.make("CartPole-v1", num_envs=32, seed=1)
    tf.random.set_seed(2)
    from tfdrive.builders import build_ppo

    tf_policy_ = greedy_policy.GreedyPolicy(
        build_ppo(env.time_step_spec(), env.action_spec(), (16, 16), seed=1)
    )
    plain, xla = _pair(tf_policy_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", XlaFallbackWarning)
        ours, last = _driver_trajectories(xla, 32, 32 * 40)
    reference, reference_last = _driver_trajectories(plain, 32, 32 * 40)
    assert xla.jit_compile
    assert len(ours) == len(reference) >= 40
    # Greedy actions and a seeded native env: the very same trajectories.
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(a.action, b.action)
        np.testing.assert_array_equal(a.observation, b.observation)
        np.testing.assert_array_equal(a.step_type, b.step_type)
    np.testing.assert_array_equal(last.observation, reference_last.observation)

    # And a sampling policy runs too (its actions are valid CartPole actions).
    sampling = py_tf_eager_policy.PyTFEagerPolicy(
        tf_policy_.wrapped_policy, batch_time_steps=False, jit_compile=True
    )
    trajectories, _ = _driver_trajectories(sampling, 32, 32 * 20)
    actions = np.stack([t.action for t in trajectories])
    assert set(np.unique(actions)) <= {0, 1} and sampling.jit_compile


def test_saved_model_policy_compiles_with_xla(tmp_path):
    tf.random.set_seed(4)
    rnn = ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *rnn_networks(DISCRETE))
    path = str(tmp_path / "policy")
    policy_saver.PolicySaver(rnn, batch_size=None).save(path)
    plain, xla = (
        py_tf_eager_policy.SavedModelPyTFEagerPolicy(
            path, load_specs_from_pbtxt=True, batch_time_steps=False, jit_compile=jit
        )
        for jit in (False, True)
    )
    batch = 5
    states = [plain.get_initial_state(batch), xla.get_initial_state(batch)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", XlaFallbackWarning)
        for t in range(3):
            time_step = ts.TimeStep(
                np.full(batch, 0 if t == 0 else 1, np.int32),
                np.zeros(batch, np.float32),
                np.ones(batch, np.float32),
                _obs(batch, seed=t),
            )
            want, got = (p.action(time_step, s) for p, s in zip((plain, xla), states))
            states = [want.state, got.state]
            _assert_close(got.info, want.info)
    assert xla.jit_compile

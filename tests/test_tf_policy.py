"""TFPolicy's wrapper behaviour (validation, reset, clipping, log-probs, update) and RandomTFPolicy."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import random_tf_policy, tf_policy
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((2,), tf.float32, name="obs")
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2, name="discrete")
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0, name="continuous")
STATE = tensor_spec.TensorSpec((2,), tf.float32, name="state")


def _time_step(batch=3, step_types=None, obs=None):
    step_type = tf.constant(step_types if step_types is not None else [ts.StepType.MID] * batch)
    batch = int(step_type.shape[0])
    observation = obs if obs is not None else tf.zeros((batch, 2))
    return ts.TimeStep(step_type, tf.zeros(batch), tf.ones(batch), observation)


class CategoricalPolicy(tf_policy.TFPolicy):
    """Fixed logits [0, 1, 2] over the discrete spec."""

    def __init__(self, **kwargs):
        super().__init__(TS_SPEC, DISCRETE, **kwargs)
        self.logits = tf.Variable([0.0, 1.0, 2.0])

    def _distribution(self, time_step, policy_state):
        batch = tf.shape(time_step.discount)[0]
        logits = tf.tile(self.logits[None], [batch, 1])
        return policy_step.PolicyStep(
            tfp.distributions.Categorical(logits=logits, dtype=tf.int32), policy_state
        )


class FarNormalPolicy(tf_policy.TFPolicy):
    """A Normal centred at (5, -5), far outside the [-1, 1] bounds."""

    def __init__(self, **kwargs):
        super().__init__(TS_SPEC, CONTINUOUS, **kwargs)

    def _distribution(self, time_step, policy_state):
        batch = tf.shape(time_step.discount)[0]
        loc = tf.tile(tf.constant([[5.0, -5.0]]), [batch, 1])
        return policy_step.PolicyStep(tfp.distributions.Normal(loc, 0.1), policy_state)


class CountingPolicy(tf_policy.TFPolicy):
    """State-carrying policy: info is the state it received, new state is +1."""

    def __init__(self, action_fn=None, action_spec=DISCRETE, **kwargs):
        super().__init__(TS_SPEC, action_spec, policy_state_spec=STATE, info_spec=STATE, **kwargs)
        self._make_action = action_fn

    def _action(self, time_step, policy_state, seed):
        batch = tf.shape(time_step.discount)[0]
        action = tf.zeros([batch], tf.int32)
        if self._make_action is not None:
            action = self._make_action(batch)
        return policy_step.PolicyStep(action, policy_state + 1.0, policy_state)


@pytest.fixture(scope="module")
def categorical():
    return CategoricalPolicy(emit_log_probability=True)


def test_time_step_spec_must_be_a_time_step():
    with pytest.raises(ValueError, match="must be an instance of `TimeStep`"):
        CategoricalPolicy.__bases__[0](OBS, DISCRETE)


def test_spec_properties_and_log_probability_info_spec(categorical):
    assert categorical.time_step_spec == TS_SPEC
    assert categorical.action_spec == DISCRETE
    assert categorical.policy_state_spec == ()
    lp_spec = categorical.info_spec.log_probability
    assert lp_spec.shape == () and lp_spec.dtype == tf.float32
    assert lp_spec.name == "log_probability"
    assert float(lp_spec.maximum) == 0.0
    assert categorical.policy_step_spec.info is categorical.info_spec
    assert categorical.trajectory_spec.action == DISCRETE
    assert categorical.collect_data_spec == categorical.trajectory_spec
    assert categorical.emit_log_probability is True
    assert categorical.validate_args is True
    assert CategoricalPolicy().info_spec == ()


def test_array_specs_are_converted():
    policy = CountingPolicy.__bases__[0].__new__(CountingPolicy)
    tf_policy.TFPolicy.__init__(
        policy,
        ts.time_step_spec(array_spec.ArraySpec((2,), np.float32)),
        array_spec.BoundedArraySpec((), np.int32, 0, 2),
    )
    assert isinstance(policy.action_spec, tensor_spec.BoundedTensorSpec)
    assert policy.action_spec.maximum == 2
    assert isinstance(policy.time_step_spec.observation, tf.TensorSpec)


def test_log_probability_matches_tfp(categorical):
    step = categorical.action(_time_step(batch=50))
    assert step.action.dtype == tf.int32 and step.action.shape == (50,)
    expected = tfp.distributions.Categorical(logits=[0.0, 1.0, 2.0]).log_prob(step.action)
    np.testing.assert_allclose(step.info.log_probability.numpy(), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        np.unique(step.info.log_probability.numpy()),
        np.sort(np.log(np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum())),
        rtol=1e-5,
    )


def test_distribution_returns_the_distribution_and_placeholder_log_probability(categorical):
    step = categorical.distribution(_time_step(batch=2))
    assert isinstance(step.action, tfp.distributions.Categorical)
    np.testing.assert_allclose(step.action.logits.numpy(), [[0.0, 1.0, 2.0]] * 2)
    assert float(step.info.log_probability) == 0.0


def test_clip_to_bounds_and_no_clip():
    clipped = FarNormalPolicy().action(_time_step(batch=4)).action.numpy()
    np.testing.assert_array_equal(clipped, np.tile([[1.0, -1.0]], (4, 1)))
    raw = FarNormalPolicy(clip=False).action(_time_step(batch=4)).action.numpy()
    assert np.all(raw[:, 0] > 3.0) and np.all(raw[:, 1] < -3.0)


def test_log_probability_is_of_the_sampled_unclipped_action():
    step = FarNormalPolicy(emit_log_probability=True).action(_time_step(batch=2))
    assert step.info.log_probability.shape == (2, 2)
    # Log-probs of samples near the mean (about +1.38 each for sigma 0.1), not of
    # the clipped bounds 40 sigmas away (about -800).
    assert np.all(step.info.log_probability.numpy() > -10.0)


def test_automatic_state_reset_on_first():
    policy = CountingPolicy()
    state = tf.fill([3, 2], 5.0)
    step = policy.action(_time_step(step_types=[0, 1, 2]), state)
    np.testing.assert_array_equal(step.info.numpy(), [[0, 0], [5, 5], [5, 5]])
    np.testing.assert_array_equal(step.state.numpy(), [[1, 1], [6, 6], [6, 6]])


def test_state_reset_uses_first_time_index_for_sequences():
    policy = CountingPolicy()
    time_step = ts.TimeStep(
        tf.constant([[0, 1], [1, 1]]), tf.zeros((2, 2)), tf.ones((2, 2)), tf.zeros((2, 2, 2))
    )
    reset = policy._maybe_reset_state(time_step, tf.fill([2, 2], 7.0))
    np.testing.assert_array_equal(reset.numpy(), [[0, 0], [7, 7]])


def test_no_automatic_state_reset():
    policy = CountingPolicy(automatic_state_reset=False)
    step = policy.action(_time_step(step_types=[0, 0, 0]), tf.fill([3, 2], 5.0))
    np.testing.assert_array_equal(step.info.numpy(), np.full((3, 2), 5.0))


def test_get_initial_state():
    policy = CountingPolicy()
    state = policy.get_initial_state(4)
    assert state.shape == (4, 2) and state.dtype == tf.float32
    assert not np.any(state.numpy())
    assert policy.get_initial_state(None).shape == (2,)
    assert CategoricalPolicy().get_initial_state(3) == ()


def test_extra_observation_keys_are_pruned():
    spec = ts.time_step_spec({"a": OBS})
    seen = []

    class DictObsPolicy(tf_policy.TFPolicy):
        def __init__(self):
            super().__init__(spec, DISCRETE)

        def _action(self, time_step, policy_state, seed):
            seen.append(sorted(time_step.observation))
            return policy_step.PolicyStep(tf.zeros([1], tf.int32), policy_state, ())

    observation = {"a": tf.zeros((1, 2)), "extra": tf.zeros((1, 5))}
    DictObsPolicy().action(_time_step(batch=1, obs=observation))
    assert seen == [["a"]]


def test_time_step_structure_mismatch_is_reported():
    bad = ts.TimeStep(
        tf.zeros([1], tf.int32), tf.zeros(1), tf.ones(1), (tf.zeros((1, 2)), tf.zeros((1, 2)))
    )
    with pytest.raises(ValueError, match="time_step and time_step_spec structures do not match"):
        CategoricalPolicy().action(bad)


def test_policy_state_structure_mismatch_is_reported():
    with pytest.raises(
        ValueError, match="policy_state and policy_state_spec structures do not match"
    ):
        CountingPolicy().action(_time_step(batch=1), (tf.zeros((1, 2)), tf.zeros((1, 2))))


def test_action_dtype_mismatch_raises_type_error_naming_the_spec():
    policy = CountingPolicy(action_fn=lambda b: tf.zeros([b], tf.int64))
    with pytest.raises(TypeError, match="doesn't match its action_spec") as info:
        policy.action(_time_step(batch=1), tf.zeros((1, 2)))
    assert "int64" in str(info.value) and "name='discrete'" in str(info.value)


def test_action_structure_mismatch_raises():
    policy = CountingPolicy(action_fn=lambda b: {"x": tf.zeros([b], tf.int32)})
    with pytest.raises(ValueError, match="action and action_spec structures do not match"):
        policy.action(_time_step(batch=1), tf.zeros((1, 2)))
    policy = CountingPolicy(action_fn=lambda b: (tf.zeros([b], tf.int32),) * 2)
    with pytest.raises(ValueError, match="action and action_spec structures do not match"):
        policy.action(_time_step(batch=1), tf.zeros((1, 2)))
    policy = CountingPolicy(
        action_fn=lambda b: [tf.zeros([b], tf.int32)] * 2, action_spec=(DISCRETE, DISCRETE)
    )
    with pytest.raises(TypeError, match="action and action_spec structures do not match"):
        policy.action(_time_step(batch=1), tf.zeros((1, 2)))


def test_validate_args_false_skips_checks():
    policy = CountingPolicy(
        action_fn=lambda b: tf.zeros([b], tf.int64), validate_args=False, clip=False
    )
    step = policy.action(_time_step(batch=1), tf.zeros((1, 2)))
    assert step.action.dtype == tf.int64
    assert policy.validate_args is False


def test_name_and_variables():
    policy = CategoricalPolicy(name="my_policy")
    assert policy.name == "my_policy"
    assert [v.name for v in policy.variables()] == ["Variable:0"]


def test_hard_and_soft_update():
    target, source = CategoricalPolicy(), CategoricalPolicy()
    source.logits.assign([1.0, 3.0, 5.0])
    target.update(source, tau=0.25)
    np.testing.assert_allclose(target.logits.numpy(), [0.25, 1.5, 2.75])
    target.update(source)
    np.testing.assert_allclose(target.logits.numpy(), [1.0, 3.0, 5.0])


def test_update_tau_non_trainable_and_sorting():
    class TwoVars(tf_policy.TFPolicy):
        def __init__(self, a, b):
            super().__init__(TS_SPEC, DISCRETE)
            self.b_frozen = tf.Variable(b, trainable=False, name="b")
            self.a_train = tf.Variable(a, name="a")

    target, source = TwoVars(0.0, 0.0), TwoVars(1.0, 10.0)
    target.update(source, tau=0.5, tau_non_trainable=0.1)
    assert float(target.a_train) == pytest.approx(0.5)
    assert float(target.b_frozen) == pytest.approx(1.0)
    target.update(source, tau=1.0, sort_variables_by_name=True)
    assert float(target.a_train) == 1.0 and float(target.b_frozen) == 10.0
    with pytest.raises(ValueError, match=r"Input `tau` should be in \[0, 1\]"):
        target.update(source, tau=1.5)
    with pytest.raises(ValueError, match=r"Input `tau_non_trainable` should be in \[0, 1\]"):
        target.update(source, tau=0.5, tau_non_trainable=-0.1)


def test_update_works_inside_tf_function():
    target, source = CategoricalPolicy(), CategoricalPolicy()
    source.logits.assign([2.0, 2.0, 2.0])

    @tf.function
    def soft_update():
        target.update(source, tau=0.5)

    soft_update()
    np.testing.assert_allclose(target.logits.numpy(), [1.0, 1.5, 2.0])


# RandomTFPolicy


def test_random_tf_policy_shapes_bounds_and_log_probability():
    spec = {"d": DISCRETE, "c": CONTINUOUS}
    policy = random_tf_policy.RandomTFPolicy(TS_SPEC, spec, emit_log_probability=True)
    step = policy.action(_time_step(batch=500))
    d, c = step.action["d"].numpy(), step.action["c"].numpy()
    assert d.shape == (500,) and d.dtype == np.int32 and set(np.unique(d)) == {0, 1, 2}
    assert c.shape == (500, 2) and c.dtype == np.float32 and np.all(np.abs(c) <= 1.0)
    np.testing.assert_allclose(
        step.info.log_probability["d"].numpy(), np.full(500, -np.log(3.0)), rtol=1e-6
    )
    np.testing.assert_allclose(
        step.info.log_probability["c"].numpy(), np.full(500, -2 * np.log(2.0)), rtol=1e-6
    )


def test_random_tf_policy_mask_never_picks_masked_actions():
    obs_spec = {"obs": OBS, "mask": tensor_spec.TensorSpec((3,), tf.int32)}
    policy = random_tf_policy.RandomTFPolicy(
        ts.time_step_spec(obs_spec),
        DISCRETE,
        emit_log_probability=True,
        observation_and_action_constraint_splitter=lambda o: (o["obs"], o["mask"]),
    )
    observation = {"obs": tf.zeros((1000, 2)), "mask": tf.tile([[1, 0, 1]], [1000, 1])}
    step = policy.action(_time_step(batch=1000, obs=observation))
    assert set(np.unique(step.action.numpy())) == {0, 2}
    np.testing.assert_allclose(
        step.info.log_probability.numpy(), np.full(1000, -np.log(2.0)), rtol=1e-6
    )


def test_random_tf_policy_errors():
    with pytest.raises(NotImplementedError, match="BoundedTensorSpec action specs"):
        random_tf_policy.RandomTFPolicy(
            TS_SPEC, {"a": DISCRETE}, observation_and_action_constraint_splitter=lambda o: (o, o)
        )
    policy = random_tf_policy.RandomTFPolicy(TS_SPEC, DISCRETE)
    with pytest.raises(NotImplementedError, match="does not support distributions"):
        policy.distribution(_time_step(batch=1))


def test_overriding_public_members_is_rejected():
    class Overrides(CategoricalPolicy):
        def distribution(self, time_step, policy_state=()):
            return None

    with pytest.raises(
        ValueError, match=r"cannot override most of its base members.*\['distribution'\]"
    ):
        Overrides()


def test_action_without_base_init_raises_runtime_error():
    class NoSuper(tf_policy.TFPolicy):
        def __init__(self):
            tf.Module.__init__(self)
            self._enable_functions = True

    with pytest.raises(RuntimeError, match=r"Cannot find _action_fn.*NoSuper.__init__ call super"):
        NoSuper().action(_time_step(batch=1))


def test_enable_functions_false_calls_action_directly():
    class Direct(CountingPolicy):
        _enable_functions = False

    step = Direct().action(_time_step(step_types=[1]), tf.fill([1, 2], 2.0))
    np.testing.assert_array_equal(step.state.numpy(), [[3.0, 3.0]])


@pytest.mark.parametrize(
    "info_spec, read",
    [
        ({"extra": STATE}, lambda info: info["log_probability"]),
        (policy_step.PolicyInfo(log_probability=()), lambda info: info.log_probability),
    ],
)
def test_log_probability_joins_dict_and_namedtuple_infos(info_spec, read):
    class WithInfo(CategoricalPolicy):
        def __init__(self):
            tf_policy.TFPolicy.__init__(
                self, TS_SPEC, DISCRETE, info_spec=info_spec, emit_log_probability=True
            )
            self.logits = tf.Variable([0.0, 0.0, 0.0])

        def _distribution(self, time_step, policy_state):
            step = super()._distribution(time_step, policy_state)
            if isinstance(info_spec, dict):
                return step._replace(info={"extra": tf.zeros([2, 2])})
            return step._replace(info=policy_step.PolicyInfo(log_probability=()))

    policy = WithInfo()
    assert read(policy.info_spec).name == "log_probability"
    step = policy.action(_time_step(batch=2))
    np.testing.assert_allclose(read(step.info).numpy(), np.full(2, -np.log(3.0)), rtol=1e-6)
    assert float(read(policy.distribution(_time_step(batch=2)).info)) == 0.0


def test_log_probability_unsupported_raises_type_error():
    class NoLogProb(tfp.distributions.Deterministic):
        def _log_prob(self, x):
            raise NotImplementedError("no log_prob")

    class BrokenPolicy(CategoricalPolicy):
        def _distribution(self, time_step, policy_state):
            return policy_step.PolicyStep(NoLogProb(tf.zeros([2], tf.int32)), policy_state)

    with pytest.raises(TypeError, match="BrokenPolicy does not support emitting log-probabilities"):
        BrokenPolicy(emit_log_probability=True).action(_time_step(batch=2))


def test_one_hot_samples_for_gumbel_style_distributions():
    class OneHot(tfp.distributions.Categorical):
        def convert_to_one_hot(self, samples):
            return tf.one_hot(samples, 3, dtype=tf.int32)

    spec = tensor_spec.BoundedTensorSpec((3,), tf.int32, 0, 1)

    class OneHotPolicy(tf_policy.TFPolicy):
        def __init__(self):
            super().__init__(TS_SPEC, spec)

        def _distribution(self, time_step, policy_state):
            return policy_step.PolicyStep(OneHot(logits=tf.zeros([2, 3]), dtype=tf.int32))

    action = OneHotPolicy().action(_time_step(batch=2)).action.numpy()
    np.testing.assert_array_equal(action.sum(axis=1), [1, 1])


def test_random_tf_policy_stationary_mask_and_masked_vector_action():
    spec = tensor_spec.BoundedTensorSpec((1,), tf.int32, 0, 3)
    observation_spec = {"obs": OBS, "mask": tensor_spec.TensorSpec((4,), tf.bool)}
    policy = random_tf_policy.RandomTFPolicy(
        ts.time_step_spec(observation_spec),
        spec,
        emit_log_probability=True,
        stationary_mask=[1, 1, 0, 1],
        observation_and_action_constraint_splitter=lambda o: (o["obs"], o["mask"]),
    )
    observation = {
        "obs": tf.zeros((500, 2)),
        "mask": tf.constant([[True, False, True, True]] * 500),
    }
    step = policy.action(_time_step(batch=500, obs=observation))
    assert step.action.shape == (500, 1)
    assert set(np.unique(step.action.numpy())) == {0, 3}
    # One log-probability per batch entry, as info_spec says.
    np.testing.assert_allclose(step.info.log_probability.numpy(), np.full(500, -np.log(2.0)))


def test_random_tf_policy_stationary_mask_errors():
    with pytest.raises(NotImplementedError, match="BoundedTensorSpec action specs"):
        random_tf_policy.RandomTFPolicy(TS_SPEC, [DISCRETE], stationary_mask=[1, 1, 1])
    with pytest.raises(AssertionError, match="length equal to the number of actions"):
        random_tf_policy.RandomTFPolicy(TS_SPEC, DISCRETE, stationary_mask=[1, 1])


def test_random_tf_policy_per_arm_features():
    import collections

    observation_spec = {
        "global": OBS,
        "per_arm": tensor_spec.TensorSpec((4, 2), tf.float32),
        "num_actions": tensor_spec.TensorSpec((), tf.int32),
    }
    info_type = collections.namedtuple("PerArmInfo", ["log_probability", "chosen_arm_features"])
    info_spec = info_type((), tensor_spec.TensorSpec((2,), tf.float32))
    policy = random_tf_policy.RandomTFPolicy(
        ts.time_step_spec(observation_spec),
        tensor_spec.BoundedTensorSpec((), tf.int32, 0, 3),
        info_spec=info_spec,
        accepts_per_arm_features=True,
        emit_log_probability=True,
    )
    per_arm = tf.tile(tf.reshape(tf.range(8.0), [1, 4, 2]), [400, 1, 1])
    observation = {
        "global": tf.zeros((400, 2)),
        "per_arm": per_arm,
        "num_actions": tf.constant([2] * 200 + [3] * 200),
    }
    step = policy.action(_time_step(batch=400, obs=observation))
    action = step.action.numpy()
    assert action[:200].max() == 1 and action[200:].max() == 2
    np.testing.assert_allclose(
        step.info.chosen_arm_features.numpy(), np.stack([2.0 * action, 2.0 * action + 1], axis=1)
    )
    np.testing.assert_allclose(
        step.info.log_probability.numpy(), np.log([0.5] * 200 + [1 / 3] * 200), rtol=1e-6
    )


def test_random_tf_policy_log_probability_of_wide_and_unbounded_specs():
    wide = tensor_spec.BoundedTensorSpec((2,), tf.int32, -(2**31), 2**31 - 1)
    unbounded = tensor_spec.TensorSpec((), tf.float32)
    policy = random_tf_policy.RandomTFPolicy(TS_SPEC, (wide, unbounded), emit_log_probability=True)
    wide_lp, unbounded_lp = policy.action(_time_step(batch=2)).info.log_probability
    np.testing.assert_allclose(wide_lp.numpy(), np.full(2, -64 * np.log(2.0)), rtol=1e-6)
    expected = -np.log(np.float64(np.finfo(np.float32).max) / 4)
    np.testing.assert_allclose(unbounded_lp.numpy(), np.full(2, expected), rtol=1e-6)


def test_registered_with_tf_agents_tf_policy_abc_when_loaded(monkeypatch):
    import abc
    import sys
    import types

    class ForeignTFPolicy(metaclass=abc.ABCMeta):  # noqa: B024 - no abstract methods, as theirs
        """Stands in for TF-Agents' `TFPolicy` (an ABC)."""

    module = types.ModuleType("tf_agents.policies.tf_policy")
    module.TFPolicy = ForeignTFPolicy
    monkeypatch.setitem(sys.modules, "tf_agents.policies.tf_policy", module)
    from tfdrive import _interop

    pending = {tf_policy.TFPolicy: ("tf_agents.policies.tf_policy", "TFPolicy")}
    monkeypatch.setattr(_interop, "_PENDING", pending)
    assert isinstance(CategoricalPolicy(), ForeignTFPolicy)
    assert _interop._PENDING == {}

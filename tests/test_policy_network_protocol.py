"""ActorPolicy and PPOPolicy with networks recognised by protocol, not class.

The fakes here have only what TF-Agents' policies use of a network:
``__call__``, ``create_variables`` (returning tensor specs, or
`DistributionSpecV2`-shaped specs for distribution outputs), ``state_spec``,
``variables`` and, for legacy distribution networks, an ``output_spec`` of
`DistributionSpec`-shaped objects.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.agents.ppo import ppo_policy
from tfdrive.policies import actor_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

tfd = tfp.distributions
OBS = tensor_spec.TensorSpec((2,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
BOUNDED = tensor_spec.BoundedTensorSpec((), tf.float32, 2.0, 3.0)


class Params:
    """Shaped like TF-Agents' `distributions.utils.Params`."""

    def __init__(self, type_, params):
        self.type_ = type_
        self.params = params


class SpecV2:
    """Shaped like TF-Agents' `DistributionSpecV2`."""

    def __init__(self, event_spec, parameters):
        self.event_spec = event_spec
        self.parameters = parameters


class LegacySpec:
    """Shaped like a `DistributionSpec` of a legacy distribution network."""

    def __init__(self, input_params_spec, sample_spec):
        self.input_params_spec = input_params_spec
        self.sample_spec = sample_spec


class FakeNet(tf.Module):
    """Calls `fn(observation)`; records the keyword arguments it was called with."""

    def __init__(self, fn, output_spec, state_spec=(), legacy_output_spec=None):
        super().__init__()
        self._fn = fn
        self._create_spec = output_spec
        self.state_spec = state_spec
        self.scale = tf.Variable(1.0)
        self.calls = []
        if legacy_output_spec is not None:
            self.output_spec = legacy_output_spec

    def create_variables(self, input_tensor_spec=None, **kwargs):
        return self._create_spec

    def __call__(self, observation, step_type=None, network_state=(), training=False, **kwargs):
        self.calls.append(dict(kwargs, training=training))
        return self._fn(observation * self.scale), network_state


def value_net(shape=()):
    def fn(obs):
        value = tf.reduce_sum(obs, axis=-1)
        return value if shape == () else tf.reshape(value, tf.concat([tf.shape(value), shape], 0))

    return FakeNet(fn, tensor_spec.TensorSpec(shape, tf.float32))


def time_step(obs, step_type=ts.StepType.MID):
    obs = tf.convert_to_tensor(obs, tf.float32)
    batch = obs.shape[0]
    return ts.TimeStep(tf.fill([batch], step_type), tf.zeros(batch), tf.ones(batch), obs)


OBSERVATIONS = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, 0.0]], np.float32)


def normal_net():
    spec = SpecV2(
        tensor_spec.TensorSpec((), tf.float32),
        Params(
            tfd.Normal,
            {"loc": tf.TensorSpec((), tf.float32), "scale": tf.TensorSpec((), tf.float32)},
        ),
    )
    return FakeNet(lambda o: tfd.Normal(o[:, 0], tf.ones_like(o[:, 0])), spec)


def test_actor_policy_with_a_distribution_emitting_network():
    policy = actor_policy.ActorPolicy(TS_SPEC, BOUNDED, normal_net())
    assert isinstance(policy.distribution(time_step(OBSERVATIONS)).action, tfd.Normal)
    action = policy.action(time_step(OBSERVATIONS)).action.numpy()
    assert action.shape == (3,) and np.all((action >= 2.0) & (action <= 3.0))
    assert len(policy.variables()) == 1


def test_actor_policy_rejects_mismatched_specs_and_non_networks():
    with pytest.raises(ValueError, match="actor_network output spec does not match action spec"):
        actor_policy.ActorPolicy(
            TS_SPEC, tensor_spec.BoundedTensorSpec((), tf.int32, 0, 1), normal_net()
        )
    with pytest.raises(ValueError, match="actor_network must be a network.Network"):
        actor_policy.ActorPolicy(TS_SPEC, BOUNDED, lambda o: o)


def test_actor_policy_passes_mask_and_training_to_the_network():
    spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2)
    net = FakeNet(
        lambda o: tfd.Categorical(logits=tf.zeros([tf.shape(o)[0], 3]), dtype=tf.int32),
        SpecV2(tensor_spec.TensorSpec((), tf.int32), Params(tfd.Categorical, {})),
    )
    mask = tf.constant([[1, 0, 1]] * 3)
    policy = actor_policy.ActorPolicy(
        TS_SPEC,
        spec,
        net,
        training=True,
        observation_and_action_constraint_splitter=lambda o: (o, mask),
    )
    policy.action(time_step(OBSERVATIONS))
    assert net.calls[-1]["training"] is True
    assert net.calls[-1]["mask"] is mask
    with pytest.raises(NotImplementedError, match="single spec of discrete actions"):
        actor_policy.ActorPolicy(
            TS_SPEC, BOUNDED, normal_net(), observation_and_action_constraint_splitter=lambda o: o
        )


def transformed_net():
    """A non-legacy network emitting a Normal pushed through a Chain of bijectors."""

    def fn(obs):
        return {"a": tfb_chain()(tfd.Normal(loc=obs[:, 0], scale=tf.nn.softplus(obs[:, 1]) + 1e-3))}

    scalar = tf.TensorSpec((), tf.float32)
    spec = {
        "a": SpecV2(
            tensor_spec.TensorSpec((), tf.float32),
            Params(
                tfd.TransformedDistribution,
                {
                    "distribution": Params(tfd.Normal, {"loc": scalar, "scale": scalar}),
                    "bijector": Params(
                        tfp.bijectors.Chain,
                        {
                            "bijectors": [
                                Params(tfp.bijectors.Shift, {}),
                                Params(tfp.bijectors.Tanh, {}),
                            ]
                        },
                    ),
                },
            ),
        )
    }
    return FakeNet(fn, spec)


def tfb_chain():
    return tfp.bijectors.Chain([tfp.bijectors.Shift(2.5), tfp.bijectors.Tanh()])


def test_ppo_non_legacy_distribution_params():
    policy = ppo_policy.PPOPolicy(TS_SPEC, {"a": BOUNDED}, transformed_net(), value_net())
    expected_keys = {
        "a": {"bijector": {"bijectors:0": {}, "bijectors:1": {}}, "distribution": {"loc", "scale"}}
    }
    dist_params_spec = policy.info_spec["dist_params"]
    assert set(dist_params_spec["a"]["distribution"]) == expected_keys["a"]["distribution"]
    assert dist_params_spec["a"]["bijector"] == expected_keys["a"]["bijector"]
    step = policy.action(time_step(OBSERVATIONS))
    params = step.info["dist_params"]["a"]
    np.testing.assert_allclose(params["distribution"]["loc"].numpy(), OBSERVATIONS[:, 0])
    assert params["bijector"] == {"bijectors:0": {}, "bijectors:1": {}}
    np.testing.assert_allclose(step.info["value_prediction"].numpy(), OBSERVATIONS.sum(axis=1))
    tf.nest.assert_same_structure(step.info, policy.info_spec)


def test_ppo_tensor_actor_without_collect_is_deterministic():
    net = FakeNet(lambda o: o[:, 0], tensor_spec.TensorSpec((), tf.float32))
    policy = ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, net, value_net(), collect=False)
    assert policy.info_spec == ()
    distribution = policy.distribution(time_step(OBSERVATIONS)).action
    assert isinstance(distribution, tfd.Deterministic)
    step = policy.action(time_step(OBSERVATIONS))
    np.testing.assert_allclose(step.action.numpy(), np.clip(OBSERVATIONS[:, 0], 2.0, 3.0))
    assert step.info == ()


def test_ppo_errors():
    net = FakeNet(lambda o: o[:, 0], tensor_spec.TensorSpec((), tf.float32))
    with pytest.raises(ValueError, match="Unexpected output from `actor_network`"):
        ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, net, value_net())
    with pytest.raises(TypeError, match="actor_network is not of type network.Network"):
        ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, lambda o: o, value_net())
    with pytest.raises(TypeError, match="value_network is not of type network.Network"):
        ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, normal_net(), lambda o: o)
    with pytest.raises(ValueError, match="value_network emits multiple values"):
        ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, normal_net(), value_net((2,)))


def test_ppo_legacy_network_renames_scale_diag_and_values_in_train():
    sample_spec = tensor_spec.BoundedTensorSpec((2,), tf.float32, -1.0, 1.0)
    params_spec = {"loc": tf.TensorSpec((2,), tf.float32), "scale": tf.TensorSpec((2,), tf.float32)}
    net = FakeNet(
        lambda o: tfd.MultivariateNormalDiag(loc=o, scale_diag=tf.ones_like(o)),
        SpecV2(tensor_spec.TensorSpec((2,), tf.float32), Params(tfd.MultivariateNormalDiag, {})),
        legacy_output_spec=LegacySpec(params_spec, sample_spec),
    )
    policy = ppo_policy.PPOPolicy(
        TS_SPEC, sample_spec, net, value_net(), compute_value_and_advantage_in_train=True
    )
    assert policy.info_spec == {"dist_params": params_spec}
    step = policy.action(time_step(OBSERVATIONS))
    assert set(step.info) == {"dist_params"}
    np.testing.assert_allclose(step.info["dist_params"]["loc"].numpy(), OBSERVATIONS)
    np.testing.assert_allclose(step.info["dist_params"]["scale"].numpy(), np.ones((3, 2)))


def test_ppo_apply_value_network_over_batch_and_time():
    policy = ppo_policy.PPOPolicy(TS_SPEC, BOUNDED, normal_net(), value_net())
    sequence = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    values, state = policy.apply_value_network(
        tf.constant(sequence), tf.zeros([2, 3], tf.int32), ()
    )
    assert values.shape == (2, 3) and state == ()
    np.testing.assert_allclose(values.numpy(), sequence.sum(axis=-1))
    assert policy.get_initial_value_state(4) == ()
    assert len(policy.variables()) == 2

"""tfdrive's TF policies with TF-Agents 0.19's time steps, policy steps and networks.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26).
"""

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
from tf_agents.agents.ppo import ppo_policy as tfa_ppo_policy  # noqa: E402
from tf_agents.networks import sequential as tfa_sequential  # noqa: E402
from tf_agents.networks import value_network as tfa_vn  # noqa: E402
from tf_agents.policies import py_tf_eager_policy as tfa_eager  # noqa: E402
from tf_agents.specs import tensor_spec as tfa_tensor_spec  # noqa: E402
from tf_agents.trajectories import policy_step as tfa_policy_step  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402

from tfdrive.agents.ppo import ppo_policy  # noqa: E402
from tfdrive.policies import random_tf_policy, tf_policy  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402

OBS = tfa_tensor_spec.TensorSpec((2,), tf.float32)
ACTION = tfa_tensor_spec.BoundedTensorSpec((), tf.float32, 2.0, 3.0)


class PassThrough(tf_policy.TFPolicy):
    """Acts with the observation; returns TF-Agents' own `PolicyStep`."""

    def _action(self, time_step, policy_state, seed):
        return tfa_policy_step.PolicyStep(time_step.observation["x"], policy_state, ())


@pytest.mark.parametrize(
    "spec_module, input_module", [(tfa_ts, tfa_ts), (ts, tfa_ts), (tfa_ts, ts)]
)
def test_time_steps_of_either_library_and_extra_keys(spec_module, input_module):
    spec = spec_module.time_step_spec({"x": ACTION})
    policy = PassThrough(spec, ACTION, policy_state_spec=tfa_tensor_spec.TensorSpec((), tf.float32))
    observation = {"x": tf.constant([5.0, 2.5]), "extra": tf.zeros([2, 7])}
    time_step = input_module.restart(observation, batch_size=2)
    step = policy.action(time_step, tf.constant([1.0, 1.0]))
    np.testing.assert_allclose(step.action.numpy(), [3.0, 2.5])
    # FIRST steps reset the state to zeros.
    np.testing.assert_allclose(step.state.numpy(), [0.0, 0.0])


def test_tf_agents_eager_wrapper_runs_a_tfdrive_policy():
    policy = random_tf_policy.RandomTFPolicy(tfa_ts.time_step_spec(OBS), ACTION)
    eager = tfa_eager.PyTFEagerPolicy(policy, use_tf_function=True)
    time_step = tfa_ts.restart(np.zeros(2, np.float32))
    action = eager.action(time_step).action
    assert action.shape == () and 2.0 <= float(action) <= 3.0


def sequential_actor():
    def make_distribution(loc_and_scale):
        return {
            "a": tfp.bijectors.Chain([tfp.bijectors.Shift(2.5), tfp.bijectors.Tanh()])(
                tfp.distributions.Normal(
                    loc=loc_and_scale[..., 0], scale=tf.nn.softplus(loc_and_scale[..., 1]) + 1e-3
                )
            )
        }

    tf.keras.utils.set_random_seed(0)
    return tfa_sequential.Sequential(
        [tf.keras.layers.Dense(2), tf.keras.layers.Lambda(make_distribution)]
    )


def test_ppo_with_a_non_legacy_tf_agents_network_matches_tf_agents():
    time_step_spec = tfa_ts.time_step_spec(OBS)
    actor, value = sequential_actor(), tfa_vn.ValueNetwork(OBS, fc_layer_params=(4,))
    ours = ppo_policy.PPOPolicy(time_step_spec, {"a": ACTION}, actor, value)
    theirs = tfa_ppo_policy.PPOPolicy(time_step_spec, {"a": ACTION}, actor, value)
    assert ours.info_spec == theirs.info_spec
    time_step = tfa_ts.restart(tf.constant([[1.0, 2.0], [0.5, -1.0]]), batch_size=2)
    ours_info = ours.distribution(time_step).info
    theirs_info = theirs.distribution(time_step).info
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6),
        ours_info,
        theirs_info,
    )


def test_tf_agents_policy_saver_accepts_a_tfdrive_policy(tmp_path):
    from tf_agents.networks import actor_distribution_network as tfa_adn
    from tf_agents.policies import policy_saver as tfa_policy_saver
    from tf_agents.policies import tf_policy as tfa_tf_policy

    spec = tfa_tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
    policy = ppo_policy.PPOPolicy(
        tfa_ts.time_step_spec(OBS),
        spec,
        tfa_adn.ActorDistributionNetwork(OBS, spec, fc_layer_params=(4,)),
        tfa_vn.ValueNetwork(OBS, fc_layer_params=(4,)),
    )
    assert isinstance(policy, tfa_tf_policy.TFPolicy)
    tfa_policy_saver.PolicySaver(policy, batch_size=None).save(str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    time_step = tfa_ts.restart(tf.constant([[1.0, 2.0], [0.0, -1.0]]), batch_size=2)
    step = loaded.action(time_step)
    assert step.action.shape == (2,) and sorted(step.info) == ["dist_params", "value_prediction"]
    expected = policy.distribution(time_step).info["value_prediction"]
    np.testing.assert_allclose(step.info["value_prediction"].numpy(), expected.numpy(), rtol=1e-6)

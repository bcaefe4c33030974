"""TF-Agents' isinstance checks accept tfdrive's environments, policies and networks."""

import numpy as np
import tensorflow as tf
from tf_agents.environments import py_environment as tfa_py_environment
from tf_agents.environments import tf_environment as tfa_tf_environment
from tf_agents.networks import network as tfa_network
from tf_agents.policies import py_policy as tfa_py_policy

from tfdrive.environments import native, suite_gymnasium, tf_py_environment
from tfdrive.networks import value_network
from tfdrive.policies import random_py_policy
from tfdrive.specs import tensor_spec


def test_tfdrive_environments_are_tf_agents_py_environments():
    for env in (suite_gymnasium.load("CartPole-v1"), native.make("CartPole-v1", 3)):
        assert isinstance(env, tfa_py_environment.PyEnvironment)
        # TF-Agents' TFPyEnvironment converts specs by class (its own ArraySpec
        # only: README, "Where TF-Agents checks class"); tfdrive's wraps both.
        tf_env = tf_py_environment.TFPyEnvironment(env)
        time_step = tf_env.reset()
        assert tf.is_tensor(time_step.observation)
        assert time_step.observation.shape[-1] == 4


def test_tfdrive_tf_environments_and_policies_are_tf_agents_ones():
    env = suite_gymnasium.load("CartPole-v1")
    assert isinstance(tf_py_environment.TFPyEnvironment(env), tfa_tf_environment.TFEnvironment)
    policy = random_py_policy.RandomPyPolicy(env.time_step_spec(), env.action_spec())
    assert isinstance(policy, tfa_py_policy.PyPolicy)
    net = value_network.ValueNetwork(tensor_spec.TensorSpec((4,), tf.float32))
    assert isinstance(net, tfa_network.Network)
    assert np.asarray(net(tf.zeros([2, 4]), step_type=None, network_state=())[0]).shape == (2,)

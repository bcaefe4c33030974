"""tfdrive's agents with TF-Agents: isinstance checks, data contexts and LossInfo."""

import tensorflow as tf
from tf_agents.agents import data_converter as tfa_data_converter
from tf_agents.agents import tf_agent as tfa_tf_agent
from tf_agents.networks import q_network as tfa_q_network
from tf_agents.specs import tensor_spec as tfa_tensor_spec
from tf_agents.trajectories import time_step as tfa_ts

from tfdrive.agents.dqn import dqn_agent


def _agent():
    observation_spec = tf.TensorSpec([3], tf.float32)
    action_spec = tfa_tensor_spec.BoundedTensorSpec([], tf.int32, 0, 2)
    return dqn_agent.DqnAgent(
        tfa_ts.time_step_spec(observation_spec),
        action_spec,
        q_network=tfa_q_network.QNetwork(observation_spec, action_spec),
        optimizer=tf.compat.v1.train.AdamOptimizer(1e-3),
        train_step_counter=tf.Variable(0, dtype=tf.int64),
    )


def test_tfdrive_agent_with_tf_agents_pieces():
    agent = _agent()
    assert isinstance(agent, tfa_tf_agent.TFAgent)
    experience = tfa_tensor_spec.sample_spec_nest(agent.collect_data_spec, outer_dims=(4, 2))
    # TF-Agents' converters accept the agent's data context and experience.
    converted = tfa_data_converter.AsTrajectory(agent.data_context, sequence_length=2)(experience)
    assert converted.observation.shape == (4, 2, 3)
    loss_info = agent.loss(experience)
    assert isinstance(loss_info, tfa_tf_agent.LossInfo)
    assert loss_info.extra.td_loss.shape == (4,)

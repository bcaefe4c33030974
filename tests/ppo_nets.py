"""Small PPO networks shared by the policy and network tests.

Like TF-Agents' networks they take no seed (ActorDistributionNetwork's
`seed` only seeds continuous heads): tests compare against the networks' own
variables rather than fixed values.
"""

import tensorflow as tf

from tfdrive.networks import (
    actor_distribution_network,
    actor_distribution_rnn_network,
    value_network,
    value_rnn_network,
)
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

OBS = tensor_spec.TensorSpec((3,), tf.float32)
TS_SPEC = ts.time_step_spec(OBS)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)


def ff_networks():
    """`(actor, value)`: one dense layer of 8 each, DISCRETE actions."""
    actor = actor_distribution_network.ActorDistributionNetwork(OBS, DISCRETE, fc_layer_params=(8,))
    value = value_network.ValueNetwork(OBS, fc_layer_params=(8,))
    return actor, value


def rnn_actor_network(action_spec):
    """An LSTM actor network: dense 6 -> LSTM 4 -> dense 5."""
    return actor_distribution_rnn_network.ActorDistributionRnnNetwork(
        OBS,
        action_spec,
        input_fc_layer_params=(6,),
        lstm_size=(4,),
        output_fc_layer_params=(5,),
    )


def rnn_networks(action_spec):
    """`(rnn_actor_network(action_spec), value)`: the value net is dense 6 -> LSTM 3 -> dense 5."""
    value = value_rnn_network.ValueRnnNetwork(
        OBS, input_fc_layer_params=(6,), lstm_size=(3,), output_fc_layer_params=(5,)
    )
    return rnn_actor_network(action_spec), value

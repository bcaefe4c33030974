"""`RNNWrapper` (``tf_agents.keras_layers.rnn_wrapper``)."""

from tfdrive.networks.layers import RNNWrapper

__all__ = ["RNNWrapper"]

"""`DynamicUnroll` (``tf_agents.keras_layers.dynamic_unroll_layer``)."""

from tfdrive.networks.layers import DynamicUnroll

__all__ = ["DynamicUnroll"]

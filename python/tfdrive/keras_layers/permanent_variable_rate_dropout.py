"""`PermanentVariableRateDropout` (``tf_agents.keras_layers.permanent_variable_rate_dropout``)."""

from tfdrive.networks.layers import PermanentVariableRateDropout

__all__ = ["PermanentVariableRateDropout"]

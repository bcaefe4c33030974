"""Keras layers at TF-Agents' module paths (``tf_agents.keras_layers``).

The layers are defined in `tfdrive.networks.layers`; each module here names
one of them where TF-Agents has it. Submodules load on first access.
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "DynamicUnroll": "dynamic_unroll_layer",
        "PermanentVariableRateDropout": "permanent_variable_rate_dropout",
        "RNNWrapper": "rnn_wrapper",
    },
)

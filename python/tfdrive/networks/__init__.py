"""Networks (``tf_agents.networks``): Keras 2 networks for tfdrive's policies.

Submodules load lazily (each imports TensorFlow): ``tfdrive.networks.Network``
and the other names resolve on first access.
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "Network": "network",
        "DistributionNetwork": "network",
        "NestFlatten": "nest_map",
        "NestMap": "nest_map",
        "Sequential": "sequential",
        "ActorDistributionNetwork": "actor_distribution_network",
        "ActorDistributionRnnNetwork": "actor_distribution_rnn_network",
        "ValueNetwork": "value_network",
        "ValueRnnNetwork": "value_rnn_network",
    },
)

"""DQN agents (``tf_agents.agents.dqn``); submodules load on first access."""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__, __path__, {"DqnAgent": "dqn_agent", "DdqnAgent": "dqn_agent"}
)

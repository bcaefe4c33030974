"""Agents (``tf_agents.agents``); subpackages load on first access."""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(__name__, __path__, {})

"""``tf_agents.environments.suite_gym`` for drop-in imports: TF-Agents' Gym
suite on Gymnasium. ``load`` and ``wrap_env`` are
:mod:`tfdrive.environments.suite_gymnasium`'s.
"""

from tfdrive.environments.suite_gymnasium import load, wrap_env

__all__ = ["load", "wrap_env"]

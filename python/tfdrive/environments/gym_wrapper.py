"""``tf_agents.environments.gym_wrapper`` for drop-in imports: ``GymWrapper``
is :class:`tfdrive.environments.gymnasium_wrapper.GymnasiumWrapper`, which
wraps a Gymnasium environment.
"""

from tfdrive.environments.gymnasium_wrapper import GymnasiumWrapper, spec_from_gym_space

GymWrapper = GymnasiumWrapper

__all__ = ["GymWrapper", "spec_from_gym_space"]

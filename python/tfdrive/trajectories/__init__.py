"""Time steps, policy steps and trajectories (the names of `tf_agents.trajectories`).

Importing this package needs only numpy.
"""

from tfdrive.trajectories import policy_step, time_step, trajectory
from tfdrive.trajectories.policy_step import PolicyInfo, PolicyStep
from tfdrive.trajectories.time_step import (
    StepType,
    TimeStep,
    restart,
    termination,
    time_step_spec,
    transition,
    truncation,
)
from tfdrive.trajectories.trajectory import (
    Trajectory,
    Transition,
    boundary,
    first,
    from_transition,
    last,
    mid,
    single_step,
    to_n_step_transition,
    to_transition,
    to_transition_spec,
)

__all__ = [
    "PolicyInfo",
    "PolicyStep",
    "StepType",
    "TimeStep",
    "Trajectory",
    "Transition",
    "boundary",
    "first",
    "from_transition",
    "last",
    "mid",
    "policy_step",
    "restart",
    "single_step",
    "termination",
    "time_step",
    "time_step_spec",
    "to_n_step_transition",
    "to_transition",
    "to_transition_spec",
    "trajectory",
    "transition",
    "truncation",
]

"""Tensor specs of a collection job, from its environment and policy (TF-Agents' `spec_utils`)."""

from __future__ import annotations

from typing import Any

from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.trajectories import trajectory


def get_tensor_specs(env: Any) -> tuple[Any, Any, Any]:
    """`(observation, action, time step)` TensorSpecs of `env` (a py or TF environment)."""
    observation = tensor_spec.from_spec(env.observation_spec())
    action = tensor_spec.from_spec(env.action_spec())
    return observation, action, ts.time_step_spec(observation)


def get_collect_data_spec_from_policy_and_env(env: Any, policy: Any) -> Any:
    """The `Trajectory` TensorSpec of data collected by `policy` in `env`.

    For collection jobs that have a policy (e.g. a loaded SavedModel) but no
    agent to ask for its `collect_data_spec`.
    """
    observation = tensor_spec.from_spec(env.observation_spec())
    time_step_spec = ts.time_step_spec(observation)
    policy_step_spec = tensor_spec.from_spec(policy.policy_step_spec)
    return trajectory.from_transition(time_step_spec, policy_step_spec, time_step_spec)

"""Environment helpers (``tf_agents.environments.utils``).

- :func:`get_tf_env`: a TF environment for a Python or TF environment.
- :func:`validate_py_environment`: plays random episodes, checking every
  time step against the environment's specs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfdrive.environments import tf_environment, tf_py_environment
from tfdrive.specs import array_spec
from tfdrive.utils import nest

__all__ = ["get_tf_env", "validate_py_environment"]


def _is_tf_environment(environment: Any) -> bool:
    """Whether ``environment`` is a TF environment (tfdrive's or TF-Agents')."""
    return isinstance(environment, tf_environment.TFEnvironment) or any(
        cls.__name__ == "TFEnvironment" for cls in type(environment).__mro__
    )


def _matches(arrays: Any, spec: Any) -> bool:
    """Whether the nest ``arrays`` has ``spec``'s layout and each array passes
    its spec's ``check_array`` (any library's array specs)."""
    try:
        nest.assert_same_structure(arrays, spec)
    except (TypeError, ValueError):
        return False
    return all(
        s.check_array(a) for a, s in zip(nest.flatten(arrays), nest.flatten(spec), strict=True)
    )


def get_tf_env(environment: Any) -> Any:
    """``environment`` as a TF environment.

    Args:
      environment: a PyEnvironment (wrapped in a ``TFPyEnvironment``) or a TF
        environment (returned as is), tfdrive's or TF-Agents'.

    Raises:
      ValueError: if ``environment`` is None or neither kind.
    """
    if environment is None:
        raise ValueError("`environment` cannot be None")
    if _is_tf_environment(environment):
        return environment
    if tf_py_environment.is_py_environment(environment):
        return tf_py_environment.TFPyEnvironment(environment)
    raise ValueError(
        f"`environment` {environment} must be an instance of `tf_environment.TFEnvironment` "
        "or `py_environment.PyEnvironment`."
    )


def validate_py_environment(
    environment: Any,
    episodes: int = 5,
    observation_and_action_constraint_splitter: Any = None,
) -> None:
    """Plays ``episodes`` episodes of random actions, checking every time step.

    Each time step (with a leading ``B`` if batched) must match
    ``environment.time_step_spec()``; actions come from a ``RandomPyPolicy``
    over ``action_spec()`` (with the splitter's action masks if given). For a
    batched env every ``LAST`` entry counts as an episode.

    Raises:
      ValueError: ``'Given `time_step`: ... does not match expected
        `time_step_spec`: ...'`` for the first time step that does not match.
    """
    from tfdrive.policies import random_py_policy  # Policies import environments.

    time_step_spec = environment.time_step_spec()
    action_spec = environment.action_spec()
    policy = random_py_policy.RandomPyPolicy(
        time_step_spec=time_step_spec,
        action_spec=action_spec,
        observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
    )
    if environment.batch_size is not None:
        expected_spec = array_spec.add_outer_dims_nest(
            time_step_spec, outer_dims=(environment.batch_size,)
        )
    else:
        expected_spec = time_step_spec
    episode_count = 0
    time_step = environment.reset()
    while episode_count < episodes:
        if not _matches(time_step, expected_spec):
            raise ValueError(
                f"Given `time_step`: {time_step!r} does not match expected "
                f"`time_step_spec`: {expected_spec!r}"
            )
        time_step = environment.step(policy.action(time_step).action)
        episode_count += np.sum(time_step.is_last())

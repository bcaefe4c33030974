"""A TF environment of random time steps (``tf_agents.environments.random_tf_environment``).

Observations and rewards are sampled from their specs (with a leading
``batch_size``); each ``step`` ends the episode with probability
``episode_end_probability`` (for the whole batch); the ``step`` after a
``LAST`` step resets. The current time step lives in variables, so the
environment works in graph mode and inside ``tf.function``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.environments import tf_environment
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common

__all__ = ["RandomTFEnvironment"]


def _flatten_with_joined_paths(structure: Any, prefix: str = "") -> list:
    """``[(path, leaf)]`` of a nest, paths joined with ``/`` (dict keys sorted)."""
    if isinstance(structure, dict):
        items = [(str(k), structure[k]) for k in sorted(structure)]
    elif isinstance(structure, tuple) and hasattr(structure, "_fields"):
        items = list(zip(structure._fields, structure, strict=True))
    elif isinstance(structure, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(structure)]
    else:
        return [(prefix, structure)]
    flat = []
    for key, value in items:
        flat.extend(_flatten_with_joined_paths(value, f"{prefix}/{key}" if prefix else key))
    return flat


class RandomTFEnvironment(tf_environment.TFEnvironment):
    """Random time steps of ``time_step_spec`` (see the module docs).

    Args:
      time_step_spec: the ``TimeStep`` of ``TensorSpec``s.
      action_spec: the action spec nest; ``step`` asserts that each action's
        first entry is compatible with it.
      batch_size: ``B``.
      episode_end_probability: the chance that a step ends the episode.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        batch_size: int = 1,
        episode_end_probability: float = 0.1,
    ):
        super().__init__(time_step_spec, action_spec, batch_size=batch_size)
        self._episode_end_probability = episode_end_probability

        def variable(path: str, spec: Any) -> tf.Variable:
            return common.create_variable(
                path or "spec_var", 0, shape=[batch_size, *spec.shape.as_list()], dtype=spec.dtype
            )

        variables = [variable(p, s) for p, s in _flatten_with_joined_paths(time_step_spec)]
        self._time_step_variables = tf.nest.pack_sequence_as(time_step_spec, variables)

    def _current_time_step(self) -> Any:
        """The current time step (a copy of the variables' values)."""
        return tf.nest.map_structure(tf.identity, self._time_step_variables)

    def _assign(self, time_step: Any) -> None:
        tf.nest.map_structure(lambda v, t: v.assign(t), self._time_step_variables, time_step)

    def _sample_observation_and_reward(self) -> tuple:
        outer_dims = (self.batch_size,)
        observation = tensor_spec.sample_spec_nest(
            self._time_step_spec.observation, outer_dims=outer_dims
        )
        reward = tensor_spec.sample_spec_nest(self._time_step_spec.reward, outer_dims=outer_dims)
        return observation, reward

    @common.function
    def _reset(self) -> Any:
        """Samples a ``FIRST`` time step (reward 0, discount 1)."""
        observation, _ = self._sample_observation_and_reward()
        time_step = ts.restart(
            observation, self._batch_size, reward_spec=self._time_step_spec.reward
        )
        self._assign(time_step)
        return self._current_time_step()

    @common.function(autograph=True)
    def _step(self, action: Any) -> Any:
        """Samples the next time step; resets after a ``LAST`` step."""
        tf.nest.map_structure(
            lambda spec, t: tf.Assert(spec.is_compatible_with(t[0]), [t]),
            self._action_spec,
            action,
        )
        if self._time_step_variables.is_last()[0]:
            return self.reset()
        observation, reward = self._sample_observation_and_reward()
        if tf.random.uniform(()) < self._episode_end_probability:
            time_step = ts.termination(observation, reward)
        else:
            time_step = ts.transition(observation, reward)
        self._assign(time_step)
        return time_step

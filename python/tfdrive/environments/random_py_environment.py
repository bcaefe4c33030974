"""A PyEnvironment of random observations (``tf_agents.environments.random_py_environment``).

Observations are sampled from the observation spec with a seeded
``np.random.RandomState``; each ``step`` ends the episode with probability
``episode_end_probability`` (within ``[min_duration, max_duration]`` steps).
Rewards come from ``reward_fn(step_type, action, observation)`` (0 by
default). Used to test agents, policies and wrappers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = ["RandomPyEnvironment", "RewardFn"]

#: ``reward_fn(step_type, action, observation) -> reward`` (shape ``[]``, or ``[B]`` if batched).
RewardFn = Callable[[np.ndarray, Any, Any], Any]


class RandomPyEnvironment(py_environment.PyEnvironment):
    """Samples observations from ``observation_spec`` (see the module docs).

    Args:
      observation_spec: the observation spec nest (``ArraySpec``s).
      action_spec: the action spec nest (``[]`` if None); actions passed to
        ``step`` must have its structure.
      episode_end_probability: the chance that a step ends the episode.
      discount: the discount of ``MID`` steps (a ``[B]`` vector or a scalar
        when batched).
      reward_fn: ``reward_fn(step_type, action, observation)``; returns 0.0
        (float32, ``[B]`` zeros if batched) when None.
      batch_size: ``B``, or None for an unbatched environment.
      auto_reset: reset on the ``step`` after a ``LAST`` step.
      seed: the seed of the ``RandomState`` sampling observations, episode
        ends and rendered frames.
      render_size: the shape of ``render()``'s random uint8 frames.
      min_duration: episodes last at least this many steps.
      max_duration: episodes last at most this many steps (None: no limit).

    Raises:
      ValueError: if ``discount`` is a vector whose size is not ``batch_size``;
        (at ``step``) if a reward's shape is not ``[]`` (``[B]`` if batched).
    """

    def __init__(
        self,
        observation_spec: Any,
        action_spec: Any = None,
        episode_end_probability: float = 0.1,
        discount: float = 1.0,
        reward_fn: RewardFn | None = None,
        batch_size: int | None = None,
        auto_reset: bool = True,
        seed: Any = 42,
        render_size: Sequence[int] = (2, 2, 3),
        min_duration: int = 0,
        max_duration: int | None = None,
    ):
        self._batch_size = batch_size
        self._observation_spec = observation_spec
        self._time_step_spec = ts.time_step_spec(observation_spec)
        self._action_spec = action_spec or []
        self._episode_end_probability = episode_end_probability
        discounts = np.asarray(discount, dtype=np.float32)
        if batch_size:
            if not discounts.shape:
                discounts = np.tile(discounts, batch_size)
            if len(discounts) != batch_size:
                raise ValueError(
                    f"Size of discounts must equal the batch size. discount={discounts!r}, "
                    f"batch_size={batch_size}"
                )
        self._discount = discounts
        if reward_fn is not None:
            self._reward_fn = reward_fn
        elif batch_size is None:
            self._reward_fn = lambda *_: np.asarray(0.0, dtype=np.float32)
        else:
            self._reward_fn = lambda *_: np.zeros(batch_size, dtype=np.float32)
        self._done = True
        self._num_steps = 0
        self._min_duration = min_duration
        self._max_duration = max_duration
        self._rng = np.random.RandomState(seed)
        self._render_size = render_size
        super().__init__(handle_auto_reset=auto_reset)

    def observation_spec(self) -> Any:
        return self._observation_spec

    def action_spec(self) -> Any:
        return self._action_spec

    @property
    def batch_size(self) -> int | None:
        return self._batch_size

    @property
    def batched(self) -> bool:
        return self._batch_size is not None

    def _sample_observation(self) -> Any:
        outer_dims = (self._batch_size,) if self._batch_size else ()
        return array_spec.sample_spec_nest(self._observation_spec, self._rng, outer_dims)

    def _reset(self) -> ts.TimeStep:
        self._done = False
        return ts.restart(self._sample_observation(), self._batch_size)

    def _checked_reward(self, step_type: Any, action: Any, observation: Any) -> Any:
        reward = self._reward_fn(step_type, action, observation)
        expected_shape = () if self._batch_size is None else (self._batch_size,)
        if np.asarray(reward).shape != expected_shape:
            raise ValueError(
                f"{np.asarray(reward).shape!r} != {self._batch_size!r}. Size of reward must "
                f"equal the batch size. reward_fn returned {reward!r}"
            )
        return reward

    def _step(self, action: Any) -> ts.TimeStep:
        if self._action_spec:
            nest_utils.assert_same_structure(self._action_spec, action)
        self._num_steps += 1
        observation = self._sample_observation()
        if self._num_steps < self._min_duration:
            self._done = False
        elif self._max_duration and self._num_steps >= self._max_duration:
            self._done = True
        else:
            self._done = self._rng.uniform() < self._episode_end_probability
        if self._done:
            reward = self._checked_reward(ts.StepType.LAST, action, observation)
            self._num_steps = 0
            return ts.termination(observation, reward)
        reward = self._checked_reward(ts.StepType.MID, action, observation)
        return ts.transition(observation, reward, self._discount)

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """A random uint8 frame of shape ``render_size``.

        Raises:
          ValueError: for a mode other than ``'rgb_array'``.
        """
        if mode != "rgb_array":
            raise ValueError(f"Only rendering mode supported is 'rgb_array', got {mode} instead.")
        return self._rng.randint(0, 256, size=self._render_size, dtype=np.uint8)

    def seed(self, seed: Any) -> None:
        """Reseeds the environment's ``RandomState``."""
        self._rng.seed(seed)

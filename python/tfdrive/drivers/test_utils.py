"""Mock environment, policies and observers for testing drivers (TF-Agents' `drivers.test_utils`).

The same mocks TF-Agents' driver tests use, so a user's driver tests keep
working with the import swapped:

- `PyEnvironmentMock`: an unbatched counter. `state` (int32 observation,
  spec `()`) starts at 0 and grows by the action (1 or 2); the episode ends
  when it reaches `final_state`; every step after a reset pays reward 1.
- `PyPolicyMock` / `TFPolicyMock`: alternate actions 2, 1, 2, ... from the
  initial state 2 (py) or 0 (tf): action = state % 2 + 1, state + 1 after
  each step, reset to the initial state on FIRST steps. `policy_info` is the
  action times 2 (int32).
- `NumStepsObserver`, `NumStepsTransitionObserver`, `NumEpisodesObserver`:
  TF variables counting non-boundary steps / non-FIRST next steps / boundaries.
- `make_random_trajectory()`: a `[1, 6]` trajectory F M L F M L with its specs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive.environments import py_environment
from tfdrive.policies import py_policy, tf_policy
from tfdrive.replay_buffers import tf_uniform_replay_buffer
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import common

__all__ = [
    "NumEpisodesObserver",
    "NumStepsObserver",
    "NumStepsTransitionObserver",
    "PyEnvironmentMock",
    "PyPolicyMock",
    "TFPolicyMock",
    "make_random_trajectory",
    "make_replay_buffer",
]


def make_replay_buffer(policy: Any) -> tf_uniform_replay_buffer.TFUniformReplayBuffer:
    """A `TFUniformReplayBuffer` of `policy.trajectory_spec` with batch size 1."""
    return tf_uniform_replay_buffer.TFUniformReplayBuffer(policy.trajectory_spec, batch_size=1)


class PyEnvironmentMock(py_environment.PyEnvironment):
    """Adds the action (1 or 2) to an int32 `state` until it reaches `final_state`.

    Observation spec `ArraySpec((), int32, 'observation')`, action spec
    `BoundedArraySpec((), int32, 1, 2, 'action')`. A step after the last
    one restarts (the action is ignored); `get_info()` is `{'mock': 1}`.

    Raises:
      ValueError: from `step` for an action outside [1, 2] or not a scalar.
    """

    def __init__(self, final_state: int = 3):
        self._state = np.int32(0)
        self._final_state = final_state
        self._action_spec = array_spec.BoundedArraySpec(
            (), np.int32, minimum=1, maximum=2, name="action"
        )
        self._observation_spec = array_spec.ArraySpec((), np.int32, name="observation")
        super().__init__()

    @property
    def batched(self) -> bool:
        return False

    def action_spec(self) -> array_spec.BoundedArraySpec:
        return self._action_spec

    def observation_spec(self) -> array_spec.ArraySpec:
        return self._observation_spec

    def get_info(self) -> Any:
        return {"mock": 1}

    def _reset(self) -> ts.TimeStep:
        self._state = np.int32(0)
        return ts.restart(self._state)

    def _step(self, action: Any) -> ts.TimeStep:
        low, high = self._action_spec.minimum, self._action_spec.maximum
        if action < low or action > high:
            raise ValueError(f"Action should be in [{low}, {high}], but saw: {action}")
        if np.shape(action) != ():
            raise ValueError("Action should be a scalar.")
        if self._state >= self._final_state:
            return self.reset()  # the episode is over: a new one starts
        self._state = np.int32(self._state + action)
        if self._state < self._final_state:
            return ts.transition(self._state, 1.0)
        return ts.termination(self._state, 1.0)


def _alternate(state: Any) -> tuple[Any, Any]:
    """`(action, next_state)` for `state`: action `state % 2 + 1` (2, 1, 2, ... from an even state)."""
    return state % 2 + 1, state + 1


class PyPolicyMock(py_policy.PyPolicy):
    """Alternates actions 1 and 2; the state restarts on FIRST steps.

    For a batched env pass `initial_policy_state` as an int32 array `[B]`.
    `get_initial_state_call_count` counts `get_initial_state` calls.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        initial_policy_state: Any = np.int32(2),
    ):
        state_spec = array_spec.BoundedArraySpec(
            (), np.int32, minimum=1, maximum=2, name="policy_state_spec"
        )
        info_spec = array_spec.BoundedArraySpec(
            (), np.int32, minimum=1, maximum=2, name="policy_info_spec"
        )
        self._initial_policy_state = initial_policy_state
        super().__init__(time_step_spec, action_spec, state_spec, info_spec)
        self.get_initial_state_call_count = 0

    def _get_initial_state(self, batch_size: int | None = None) -> Any:
        self.get_initial_state_call_count += 1
        return self._initial_policy_state

    # TF-Agents' mock takes no seed (a seeded action() raises TypeError, as there).
    def _action(  # type: ignore[override]
        self, time_step: ts.TimeStep, policy_state: Any
    ) -> policy_step.PolicyStep:
        first = time_step.is_first()
        if np.isscalar(first):
            if first:
                policy_state = self._initial_policy_state
        else:
            # In place, as TF-Agents' mock does: the caller's state array changes.
            policy_state[first] = self._initial_policy_state[first]
        action, next_state = _alternate(policy_state)
        return policy_step.PolicyStep(np.int32(action), np.int32(next_state), np.int32(action * 2))


class TFPolicyMock(tf_policy.TFPolicy):
    """Alternates actions 1 and 2 in TensorFlow; the state restarts on FIRST steps.

    The policy state is an int32 `[batch_size]` tensor (spec bounded [1, 2],
    named `policy_state_spec_name`), initially `initial_policy_state` or
    zeros; `info_spec` is the action spec. A variable named
    `policy_state_name` of shape `[batch_size]` holds 2 (TF-Agents creates
    it too; tests look it up by name).
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        batch_size: int = 1,
        policy_state_spec_name: str = "policy_state_spec",
        policy_state_name: str = "policy_state",
        initial_policy_state: Any = None,
    ):
        self._batch_shape = (batch_size,)
        maximum = np.asarray(2, dtype=np.int32)
        self._maximum = maximum
        state_spec = tensor_spec.BoundedTensorSpec(
            (),
            tf.int32,
            minimum=np.asarray(1, dtype=np.int32),
            maximum=maximum,
            name=policy_state_spec_name,
        )
        self._policy_state = common.create_variable(
            name=policy_state_name, initial_value=maximum, shape=self._batch_shape, dtype=tf.int32
        )
        if initial_policy_state is None:
            initial_policy_state = tf.zeros([batch_size], tf.int32)
        self._initial_policy_state = initial_policy_state
        super().__init__(time_step_spec, action_spec, state_spec, action_spec)

    def _get_initial_state(self, batch_size: int | None) -> Any:
        return self._initial_policy_state

    # TF-Agents' mock: the seed is required (TFPolicy always passes one).
    def _action(  # type: ignore[override]
        self, time_step: Any, policy_state: Any, seed: Any
    ) -> policy_step.PolicyStep:
        del seed
        policy_state = tf.where(time_step.is_first(), self._initial_policy_state, policy_state)
        action, next_state = _alternate(policy_state)
        action = tf.cast(action, tf.int32)
        return policy_step.PolicyStep(
            action, tf.cast(next_state, tf.int32), tf.cast(action * 2, tf.int32)
        )

    def _distribution(self, time_step: Any, policy_state: Any) -> policy_step.PolicyStep:
        raise NotImplementedError("TFPolicyMock has only actions, no distribution.")

    def _variables(self) -> tuple:
        return ()


class _CountingObserver:
    """A TF int32 counter variable (`count`) that `__call__` adds to; passes its input through."""

    def __init__(self, variable_scope: str, name: str):
        with tf.compat.v1.variable_scope(variable_scope):
            self._count = common.create_variable(name, 0, shape=[], dtype=tf.int32)

    def _add(self, amount: Any, passed: Any) -> Any:
        with tf.control_dependencies([self._count.assign_add(amount)]):
            return tf.nest.map_structure(tf.identity, passed)


class NumStepsObserver(_CountingObserver):
    """Counts the steps of the trajectories it sees (boundaries excluded) in `num_steps`."""

    def __init__(self, variable_scope: str = "num_steps_step_observer"):
        super().__init__(variable_scope, "num_steps")

    @property
    def num_steps(self) -> tf.Variable:
        return self._count

    @num_steps.setter
    def num_steps(self, num_steps: Any) -> None:
        self._count.assign(num_steps)

    def __call__(self, traj: Any) -> Any:
        steps = tf.reduce_sum(tf.cast(~traj.is_boundary(), tf.int32))
        return self._add(steps, traj)


class NumStepsTransitionObserver(_CountingObserver):
    """Counts the steps of `(time_step, action_step, next_time_step)` transitions in `num_steps`.

    A transition whose next time step is FIRST (a reset) is not a step.
    """

    def __init__(self, variable_scope: str = "num_steps_step_observer"):
        super().__init__(variable_scope, "num_steps")

    @property
    def num_steps(self) -> tf.Variable:
        return self._count

    @num_steps.setter
    def num_steps(self, num_steps: Any) -> None:
        self._count.assign(num_steps)

    def __call__(self, transition: Any) -> Any:
        _, _, next_time_step = transition
        steps = tf.reduce_sum(tf.cast(~next_time_step.is_first(), tf.int32))
        return self._add(steps, transition)


class NumEpisodesObserver(_CountingObserver):
    """Counts the episode ends (boundary trajectories) it sees in `num_episodes`."""

    def __init__(self, variable_scope: str = "num_episodes_step_observer"):
        super().__init__(variable_scope, "num_episodes")

    @property
    def num_episodes(self) -> tf.Variable:
        return self._count

    @num_episodes.setter
    def num_episodes(self, num_episodes: Any) -> None:
        self._count.assign(num_episodes)

    def __call__(self, traj: Any) -> Any:
        episodes = tf.reduce_sum(tf.cast(traj.is_boundary(), tf.int32))
        return self._add(episodes, traj)


def make_random_trajectory() -> tuple[trajectory.Trajectory, ts.TimeStep, Any]:
    """A random `[1, 6]` (batch, time) trajectory with step types F M L F M L.

    Observations are random int32 scalars, actions and `policy_info` random
    in [1, 2] (the info spec of `TFPolicyMock`), rewards 0, discounts 1.
    Drop the info with `traj.clone(policy_info=())`.

    Returns:
      `(trajectory, time_step_spec, action_spec)` (tensors and tensor specs).
    """
    time_step_spec = ts.time_step_spec(tensor_spec.TensorSpec([], tf.int32, name="observation"))
    action_spec = tensor_spec.BoundedTensorSpec([], tf.int32, minimum=1, maximum=2, name="action")
    outer_dims = [1, 6]
    traj = trajectory.Trajectory(
        step_type=tf.reshape(tf.range(0, 6) % 3, outer_dims),
        observation=tensor_spec.sample_spec_nest(time_step_spec.observation, outer_dims=outer_dims),
        action=tensor_spec.sample_bounded_spec(action_spec, outer_dims=outer_dims),
        policy_info=tensor_spec.sample_bounded_spec(action_spec, outer_dims=outer_dims),
        next_step_type=tf.reshape(tf.range(1, 7) % 3, outer_dims),
        reward=tf.zeros(outer_dims, tf.float32),
        discount=tf.ones(outer_dims, tf.float32),
    )
    return traj, time_step_spec, action_spec

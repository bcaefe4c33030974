"""Numpy-only mocks for driver tests: docs/SEMANTICS.md's counting env and policy.

`CountingEnv` adds the action to its state and ends the episode once the
state reaches `final_state`; the step after LAST resets (ignoring the action).
`AlternatingPolicy` emits `state % 2 + 1` and resets its state to
`initial_state` on FIRST. With `final_state=3` the trajectories repeat:
first(0 -> action 1), last(1 -> action 2), boundary(3 -> action 1).
"""

from __future__ import annotations

import numpy as np

from tfdrive.environments import py_environment
from tfdrive.policies import py_policy
from tfdrive.specs import array_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts

ACTION_SPEC = array_spec.BoundedArraySpec((), np.int32, minimum=1, maximum=2, name="action")
OBSERVATION_SPEC = array_spec.ArraySpec((), np.int32, name="observation")


class CountingEnv(py_environment.PyEnvironment):
    """Unbatched: observation = state (int32); reward 1 on every non-restart step."""

    def __init__(self, final_state: int = 3):
        super().__init__()
        self._state = np.int32(0)
        self._final_state = final_state
        self.info_calls = 0

    def observation_spec(self):
        return OBSERVATION_SPEC

    def action_spec(self):
        return ACTION_SPEC

    def get_info(self):
        self.info_calls += 1
        return {"mock": self.info_calls}

    def _reset(self):
        self._state = np.int32(0)
        return ts.restart(self._state)

    def _step(self, action):
        if self._state >= self._final_state:
            return self.reset()
        self._state = np.int32(self._state + action)
        if self._state < self._final_state:
            return ts.transition(self._state, 1.0)
        return ts.termination(self._state, 1.0)


class BatchedCountingEnv(py_environment.PyEnvironment):
    """B counting envs with their own final states, stepped as one batch."""

    def __init__(self, final_states=(3, 4)):
        super().__init__()
        self._envs = [CountingEnv(f) for f in final_states]

    @property
    def batched(self):
        return True

    @property
    def batch_size(self):
        return len(self._envs)

    def observation_spec(self):
        return OBSERVATION_SPEC

    def action_spec(self):
        return ACTION_SPEC

    def get_info(self):
        return [env.get_info() for env in self._envs]

    def _stack(self, steps):
        return ts.TimeStep(*(np.stack(field) for field in zip(*steps)))

    def _reset(self):
        return self._stack([env.reset() for env in self._envs])

    def _step(self, action):
        return self._stack([env.step(a) for env, a in zip(self._envs, action)])


class AlternatingPolicy(py_policy.PyPolicy):
    """Action `state % 2 + 1`; state +1 per call; info `action * 2`."""

    def __init__(self, initial_state=np.int32(2)):
        state_spec = array_spec.BoundedArraySpec((), np.int32, 1, 2, name="policy_state_spec")
        info_spec = array_spec.BoundedArraySpec((), np.int32, 1, 2, name="policy_info_spec")
        time_step_spec = ts.time_step_spec(OBSERVATION_SPEC)
        super().__init__(time_step_spec, ACTION_SPEC, state_spec, info_spec)
        self._initial_state = initial_state
        self.initial_state_calls = []

    def _get_initial_state(self, batch_size=None):
        self.initial_state_calls.append(batch_size)
        return self._initial_state

    def _action(self, time_step, policy_state):
        first = time_step.is_first()
        if np.ndim(first) == 0:
            if first:
                policy_state = self._initial_state
        else:
            policy_state = np.where(first, self._initial_state, policy_state)
        action = np.int32(policy_state % 2 + 1)
        return policy_step.PolicyStep(
            action=np.asarray(action, np.int32),
            state=np.asarray(policy_state + 1, np.int32),
            info=np.asarray(action * 2, np.int32),
        )


class Recorder:
    """An observer that keeps everything it is given."""

    def __init__(self):
        self.items = []

    def __call__(self, item):
        self.items.append(item)

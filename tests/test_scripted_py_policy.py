"""ScriptedPyPolicy: exact replay order, state, conversion of list actions, errors."""

import numpy as np
import pytest

from tfdrive.policies import scripted_py_policy
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

SPEC = {
    "move": array_spec.BoundedArraySpec((2,), np.int32, -5, 5),
    "jump": array_spec.BoundedArraySpec((), np.float32, 0.0, 1.0),
}
TIME_STEP = ts.restart(np.zeros((), np.float32))


def _policy(script):
    return scripted_py_policy.ScriptedPyPolicy(None, SPEC, script)


def test_replays_entries_for_their_counts_skipping_disabled_ones():
    script = [
        (2, {"move": [1, 2], "jump": 0.5}),
        (0, {"move": [5, 5], "jump": 1.0}),
        (-1, {"move": [4, 4], "jump": 1.0}),
        (1, {"move": [-3, 0], "jump": 0.0}),
    ]
    policy = _policy(script)
    assert policy.time_step_spec == ts.time_step_spec()
    state = policy.get_initial_state(batch_size=7)
    assert state == [0, 0]
    moves, states = [], []
    for _ in range(3):
        step = policy.action(TIME_STEP, state)
        state = step.state
        moves.append(step.action["move"].tolist())
        states.append(list(state))
        assert step.action["move"].dtype == np.int32
        assert step.action["jump"].dtype == np.float32 and step.action["jump"].shape == ()
    assert moves == [[1, 2], [1, 2], [-3, 0]]
    assert states == [[0, 1], [0, 2], [3, 1]]
    with pytest.raises(ValueError, match="Episode is longer than the provided scripted policy"):
        policy.action(TIME_STEP, state)


def test_none_state_starts_the_script():
    policy = _policy([(1, {"move": [1, 1], "jump": 0.0})])
    step = policy.action(TIME_STEP, None)
    assert step.state == [0, 1]


def test_action_out_of_bounds_names_its_index():
    policy = _policy([(1, {"move": [1, 1], "jump": 0.0}), (1, {"move": [9, 1], "jump": 0.0})])
    state = policy.action(TIME_STEP, policy.get_initial_state()).state
    with pytest.raises(ValueError, match="Action at index 1 does not match"):
        policy.action(TIME_STEP, state)


@pytest.mark.parametrize(
    "action",
    [{"move": [1, 1]}, {"move": [1, 1], "jump": 0.0, "extra": 1}, [[1, 1], 0.0]],
)
def test_action_structure_mismatch_raises_value_error(action):
    policy = _policy([(1, action)])
    with pytest.raises(ValueError, match="action_spec"):
        policy.action(TIME_STEP, policy.get_initial_state())

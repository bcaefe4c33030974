"""BatchedPyPolicy: entry i goes to policy i, states and actions stacked, errors."""

import numpy as np
import pytest

from tfdrive.policies import batched_py_policy, random_py_policy, scripted_py_policy
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

OBS = array_spec.ArraySpec((1,), np.float32)
TS_SPEC = ts.time_step_spec(OBS)
ACT = array_spec.BoundedArraySpec((), np.int32, 0, 9)


def _scripted(first, second):
    return scripted_py_policy.ScriptedPyPolicy(TS_SPEC, ACT, [(1, first), (1, second)])


@pytest.mark.parametrize("multithreading", [False, True])
def test_each_entry_is_served_by_its_own_policy(multithreading):
    policy = batched_py_policy.BatchedPyPolicy(
        [_scripted(1, 2), _scripted(3, 4), _scripted(5, 6)], multithreading=multithreading
    )
    time_step = ts.restart(np.zeros((3, 1), np.float32), batch_size=3)
    state = policy.get_initial_state()
    np.testing.assert_array_equal(state, [[0, 0, 0], [0, 0, 0]])
    step = policy.action(time_step, state)
    np.testing.assert_array_equal(step.action, [1, 3, 5])
    step = policy.action(time_step, step.state)
    np.testing.assert_array_equal(step.action, [2, 4, 6])


def test_array_states_are_unstacked_per_policy():
    state_spec = array_spec.ArraySpec((2,), np.float32)
    policies = [
        random_py_policy.RandomPyPolicy(TS_SPEC, ACT, policy_state_spec=state_spec, seed=i)
        for i in range(2)
    ]
    policy = batched_py_policy.BatchedPyPolicy(policies, multithreading=False)
    state = np.arange(4, dtype=np.float32).reshape(2, 2)
    step = policy.action(ts.restart(np.zeros((2, 1), np.float32), batch_size=2), state)
    np.testing.assert_array_equal(step.state, state)
    assert step.action.shape == (2,)


def test_single_policy_adds_and_removes_the_batch_dim():
    policy = batched_py_policy.BatchedPyPolicy([_scripted(7, 8)], multithreading=False)
    time_step = ts.restart(np.zeros((1, 1), np.float32), batch_size=1)
    state = policy.get_initial_state()
    np.testing.assert_array_equal(state, [[0], [0]])
    step = policy.action(time_step, state)
    np.testing.assert_array_equal(step.action, [7])
    np.testing.assert_array_equal(policy.action(time_step, step.state).action, [8])


def test_bad_arguments():
    with pytest.raises(ValueError, match="list or tuple"):
        batched_py_policy.BatchedPyPolicy(_scripted(1, 2))
    with pytest.raises(ValueError, match="at least one policy"):
        batched_py_policy.BatchedPyPolicy([])
    other = scripted_py_policy.ScriptedPyPolicy(
        TS_SPEC, array_spec.BoundedArraySpec((), np.int32, 0, 3), [(1, 1)]
    )
    with pytest.raises(ValueError, match="action_spec differs"):
        batched_py_policy.BatchedPyPolicy([_scripted(1, 2), other])
    policy = batched_py_policy.BatchedPyPolicy([_scripted(1, 2)] * 2, multithreading=False)
    with pytest.raises(NotImplementedError, match="seed"):
        policy.action(ts.restart(np.zeros((2, 1), np.float32), batch_size=2), (), seed=1)
    with pytest.raises(ValueError, match="does not match batch size: 3 vs. 2"):
        policy.action(ts.restart(np.zeros((3, 1), np.float32), batch_size=3), ())

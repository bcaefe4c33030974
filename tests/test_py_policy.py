"""PyPolicy and RandomPyPolicy: numpy-only policies."""

import subprocess
import sys

import numpy as np
import pytest

from tfdrive.policies import py_policy, random_py_policy
from tfdrive.specs import array_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts

OBS = array_spec.ArraySpec((2,), np.float32, name="obs")
ACT = array_spec.BoundedArraySpec((), np.int32, 0, 3, name="act")
TS_SPEC = ts.time_step_spec(OBS)


class _EchoPolicy(py_policy.PyPolicy):
    """Records what `_action` receives."""

    def __init__(self, **kwargs):
        super().__init__(TS_SPEC, ACT, **kwargs)
        self.calls = []

    def _action(self, time_step, policy_state, **kwargs):
        self.calls.append((time_step, policy_state, kwargs))
        return policy_step.PolicyStep(np.int32(1), policy_state, ())


def test_action_passes_seed_only_when_given():
    policy = _EchoPolicy()
    step = ts.restart(np.zeros(2, np.float32))
    policy.action(step)
    policy.action(step, (), seed=7)
    assert policy.calls[0][2] == {}
    assert policy.calls[1][2] == {"seed": 7}
    assert policy.calls[0][1] == ()


def test_action_does_not_validate_inputs():
    policy = _EchoPolicy()
    bogus = ts.TimeStep("a", "b", "c", "d")
    out = policy.action(bogus, "state")
    assert out.state == "state"
    assert policy.calls[0][0] is bogus


def test_specs_and_derived_specs():
    state_spec = {"h": array_spec.ArraySpec((3,), np.float32)}
    info_spec = array_spec.ArraySpec((), np.float32)
    policy = _EchoPolicy(policy_state_spec=state_spec, info_spec=info_spec)
    assert policy.time_step_spec == TS_SPEC
    assert policy.action_spec == ACT
    assert policy.policy_state_spec == state_spec
    assert policy.info_spec == info_spec
    assert policy.policy_step_spec == policy_step.PolicyStep(ACT, state_spec, info_spec)
    expected = trajectory.from_transition(TS_SPEC, policy.policy_step_spec, TS_SPEC)
    assert policy.trajectory_spec == expected
    assert policy.collect_data_spec == expected
    assert policy.trajectory_spec.policy_info == info_spec
    assert policy.observation_and_action_constraint_splitter is None


def test_get_initial_state_zeros_with_optional_batch():
    state_spec = {
        "h": array_spec.ArraySpec((3,), np.float32),
        "n": array_spec.ArraySpec((), np.int64),
    }
    policy = _EchoPolicy(policy_state_spec=state_spec)
    unbatched = policy.get_initial_state()
    assert unbatched["h"].shape == (3,) and unbatched["h"].dtype == np.float32
    assert unbatched["n"].shape == () and unbatched["n"].dtype == np.int64
    batched = policy.get_initial_state(batch_size=4)
    assert batched["h"].shape == (4, 3)
    assert batched["n"].shape == (4,)
    assert not batched["h"].any()
    assert _EchoPolicy().get_initial_state(2) == ()


def test_abstract_without_action():
    with pytest.raises(TypeError, match="abstract"):
        py_policy.PyPolicy(TS_SPEC, ACT)


def test_random_policy_unbatched_and_batched_shapes():
    policy = random_py_policy.RandomPyPolicy(TS_SPEC, ACT, seed=0)
    single = policy.action(ts.restart(np.zeros(2, np.float32)))
    assert single.action.shape == () and single.action.dtype == np.int32
    batched = policy.action(ts.restart(np.zeros((5, 2), np.float32), batch_size=5))
    assert batched.action.shape == (5,) and batched.action.dtype == np.int32
    assert batched.state == () and batched.info == ()


def test_random_policy_is_seeded_and_covers_the_bounds():
    time_step = ts.restart(np.zeros((1000, 2), np.float32), batch_size=1000)
    a = random_py_policy.RandomPyPolicy(TS_SPEC, ACT, seed=42).action(time_step).action
    b = random_py_policy.RandomPyPolicy(TS_SPEC, ACT, seed=42).action(time_step).action
    c = random_py_policy.RandomPyPolicy(TS_SPEC, ACT, seed=43).action(time_step).action
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == {0, 1, 2, 3}
    # Same draws as a numpy RandomState with that seed (TF-Agents' sampling).
    expected = np.random.RandomState(42).randint(0, 4, size=(1000,))
    np.testing.assert_array_equal(a, expected.astype(np.int32))


def test_random_policy_fixed_outer_dims_and_nested_specs():
    spec = {
        "move": array_spec.BoundedArraySpec((2,), np.float32, -1.0, 1.0),
        "pick": array_spec.BoundedArraySpec((), np.int64, 5, 6),
    }
    info_spec = array_spec.BoundedArraySpec((), np.float32, 0.0, 0.5)
    policy = random_py_policy.RandomPyPolicy(
        TS_SPEC, spec, info_spec=info_spec, seed=3, outer_dims=(7,)
    )
    step = policy.action(ts.restart(np.zeros(2, np.float32)), policy_state="kept")
    assert step.action["move"].shape == (7, 2) and step.action["move"].dtype == np.float32
    assert step.action["pick"].shape == (7,) and step.action["pick"].dtype == np.int64
    assert np.all(np.abs(step.action["move"]) <= 1.0)
    assert set(np.unique(step.action["pick"])) <= {5, 6}
    assert step.info.shape == (7,) and np.all((step.info >= 0) & (step.info <= 0.5))
    assert step.state == "kept"


def test_random_policy_default_time_step_spec():
    policy = random_py_policy.RandomPyPolicy(None, ACT, seed=1)
    assert policy.time_step_spec == ts.time_step_spec()
    step = policy.action(ts.restart(np.zeros(()), batch_size=None))
    assert step.action.shape == ()


@pytest.mark.parametrize("shape", [(), (1,)])
def test_random_policy_mask_never_picks_masked_actions(shape):
    spec = array_spec.BoundedArraySpec(shape, np.int32, 2, 5)
    obs_spec = {"obs": OBS, "mask": array_spec.ArraySpec((4,), np.int32)}

    def splitter(observation):
        return observation["obs"], observation["mask"]

    policy = random_py_policy.RandomPyPolicy(
        ts.time_step_spec(obs_spec),
        spec,
        seed=5,
        observation_and_action_constraint_splitter=splitter,
    )
    mask = np.tile(np.array([0, 1, 0, 1], np.int32), (1000, 1))
    observation = {"obs": np.zeros((1000, 2), np.float32), "mask": mask}
    action = policy.action(ts.restart(observation, batch_size=1000)).action
    assert action.shape == (1000,) + shape and action.dtype == np.int32
    assert set(np.unique(action)) == {3, 5}


def test_random_policy_shared_mask_gives_one_seeded_tensor_draw_per_entry():
    import tensorflow as tf

    def splitter(observation):
        return observation, np.array([1, 0, 1, 0], np.int32)  # One mask for the batch.

    def draw():
        policy = random_py_policy.RandomPyPolicy(
            TS_SPEC, ACT, seed=3, observation_and_action_constraint_splitter=splitter
        )
        time_step = ts.restart(np.zeros((500, 2), np.float32), batch_size=500)
        return policy.action(time_step).action

    action = draw()
    assert tf.is_tensor(action) and action.dtype == tf.int32 and action.shape == (500,)
    assert set(np.unique(action)) == {0, 2}
    np.testing.assert_array_equal(action, draw())


def test_random_policy_mask_rejects_unsupported_specs():
    def splitter(observation):
        return observation, observation

    with pytest.raises(NotImplementedError, match="BoundedArraySpec action specs"):
        random_py_policy.RandomPyPolicy(
            TS_SPEC, {"a": ACT}, observation_and_action_constraint_splitter=splitter
        )
    with pytest.raises(NotImplementedError, match=r"shaped as \(\) or \(1,\)"):
        random_py_policy.RandomPyPolicy(
            TS_SPEC,
            array_spec.BoundedArraySpec((2,), np.int32, 0, 3),
            observation_and_action_constraint_splitter=splitter,
        )


def test_numpy_only_import():
    code = (
        "import sys\n"
        "import tfdrive.policies.py_policy, tfdrive.policies.random_py_policy\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_overriding_public_members_is_rejected():
    class Overrides(_EchoPolicy):
        def action(self, time_step, policy_state=(), seed=None):
            return None

    with pytest.raises(ValueError, match=r"cannot override most of its base members.*\['action'\]"):
        Overrides()

"""PyEnvironment wrappers (tfdrive.environments.wrappers): batched (native) envs, exact
values and bad-input errors that TF-Agents' own suite does not cover."""

import numpy as np
import pytest

from tfdrive.environments import native, wrappers
from tfdrive.environments.random_py_environment import RandomPyEnvironment
from tfdrive.environments.test_envs import CountingEnv
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts

B = 3


def _native(name="CartPole-v1"):
    return native.make(name, B, seed=7)


def _steps(env, n, action):
    time_step = env.reset()
    for _ in range(n):
        time_step = env.step(action)
    return time_step


def test_time_limit_on_a_batched_env_ends_every_entry_then_resets():
    env = wrappers.TimeLimit(_native(), 5)
    zeros = np.zeros(B, np.int64)
    env.reset()
    for _ in range(4):
        assert not np.any(env.step(zeros).is_last())
    last = env.step(zeros)
    np.testing.assert_array_equal(last.step_type, [ts.StepType.LAST] * B)
    assert last.step_type.dtype == np.int32
    np.testing.assert_array_equal(env.step(zeros).step_type, [ts.StepType.FIRST] * B)


def test_time_limit_counts_steps_exactly_on_counting_env():
    env = wrappers.TimeLimit(CountingEnv(steps_per_episode=10), 3)
    observations = [int(env.step(np.int32(0)).observation) for _ in range(6)]
    # step() before reset resets: FIRST(0), then 1, 2, 3 (LAST by the limit), reset, 1.
    assert observations == [0, 1, 2, 3, 0, 1]


def test_run_stats_counts_batched_entries():
    env = wrappers.RunStats(wrappers.TimeLimit(_native(), 2))
    _steps(env, 3, np.zeros(B, np.int64))  # reset, MID, LAST (limit), FIRST
    assert (env.resets, env.episodes, env.total_steps) == (1 + B, B, 2 * B)


def test_action_discretize_and_clip_on_a_batched_continuous_env():
    env = wrappers.ActionDiscretizeWrapper(_native("Pendulum-v1"), 5)
    assert env.action_spec() == array_spec.BoundedArraySpec((), np.int32, 0, 4)
    mapped = env._map_actions(np.array([0, 2, 4], np.int32), env._action_map)
    np.testing.assert_allclose(mapped, [[-2.0], [0.0], [2.0]])
    with pytest.raises(ValueError, match=r"incorrect shape.*\(3,\)"):
        env._map_actions(np.array([0, 2], np.int32), env._action_map)
    clipped = wrappers.ActionClipWrapper(_native("Pendulum-v1"))
    time_step = _steps(clipped, 2, np.full((B, 1), 100.0, np.float32))
    assert time_step.reward.shape == (B,)


def test_one_hot_observation_filter_history_and_masks_on_native_envs():
    one_hot = wrappers.OneHotActionWrapper(_native())
    assert one_hot.action_spec().shape == (2,)
    assert _steps(one_hot, 2, np.eye(2, dtype=np.int64)[[0, 1, 1]]).reward.shape == (B,)

    filtered = wrappers.ObservationFilterWrapper(_native(), [0, 2])
    spec = filtered.observation_spec()
    assert spec.shape == (2,)
    np.testing.assert_allclose(spec.maximum, [4.8, 0.41887903], rtol=1e-6)
    assert _steps(filtered, 1, np.zeros(B, np.int64)).observation.shape == (B, 2)

    history = wrappers.HistoryWrapper(_native(), history_length=3, include_actions=True)
    observation = _steps(history, 1, np.ones(B, np.int64)).observation
    assert observation["observation"].shape == (B, 3, 4)
    np.testing.assert_array_equal(observation["action"], [[0, 0, 1]] * B)

    masked = wrappers.ExtraDisabledActionsWrapper(_native(), 2)
    np.testing.assert_array_equal(masked.reset().observation[1], [[1, 1, 0, 0]] * B)


def test_fixed_length_pads_an_early_end_with_zero_reward_and_discount():
    env = wrappers.FixedLength(CountingEnv(steps_per_episode=2), 4)
    env.reset()
    step_types, rewards, discounts = [], [], []
    for _ in range(5):
        time_step = env.step(np.int32(0))
        step_types.append(int(time_step.step_type))
        rewards.append(float(time_step.reward))
        discounts.append(float(time_step.discount))
    assert step_types == [1, 2, 2, 2, 0]
    assert rewards == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert discounts == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_bad_specs_are_named_with_the_argument_and_value():
    obs = array_spec.BoundedArraySpec((3,), np.float32, -1.0, 1.0)
    float_action = array_spec.BoundedArraySpec((2,), np.float32, -1.0, 1.0)
    with pytest.raises(ValueError, match=r"idx=\[5\].*BoundedArraySpec\(shape=\(3,\)"):
        wrappers.ObservationFilterWrapper(RandomPyEnvironment(obs), [5])
    with pytest.raises(ValueError, match=r"num_extra_actions=2.*float32"):
        wrappers.ExtraDisabledActionsWrapper(RandomPyEnvironment(obs, float_action), 2)
    with pytest.raises(ValueError, match=r"num_actions=\[2, 3, 4\].*shape=\(2,\)"):
        wrappers.ActionDiscretizeWrapper(RandomPyEnvironment(obs, float_action), [2, 3, 4])
    with pytest.raises(ValueError, match=r"at least size 2.*num_actions=1"):
        wrappers.ActionDiscretizeWrapper(RandomPyEnvironment(obs, float_action), 1)
    with pytest.raises(ValueError, match="discrete action specs.*float32"):
        wrappers.ActionOffsetWrapper(RandomPyEnvironment(obs, float_action))
    with pytest.raises(ValueError, match=r"Times parameter \(1\)"):
        wrappers.ActionRepeat(RandomPyEnvironment(obs, float_action), 1)


def test_wrappers_forward_attributes_and_keep_batching():
    env = wrappers.RunStats(wrappers.TimeLimit(_native(), 9))
    assert env.batched and env.batch_size == B
    assert env.name == "CartPole-v1"  # NativeEnvironment's own attribute, forwarded twice
    assert env.wrapped_env().duration == 9

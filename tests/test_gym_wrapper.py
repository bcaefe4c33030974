"""GymWrapper and suite_gym (tfdrive.environments.gym_wrapper, suite_gym): legacy gym
(4-tuple steps) and Gymnasium envs under TF-Agents' arguments."""

import numpy as np
import pytest

from tfdrive.environments import gym_wrapper, suite_gym, wrappers

gymnasium = pytest.importorskip("gymnasium")


def test_gymnasium_env_truncation_keeps_the_discount():
    env = suite_gym.wrap_env(gymnasium.make("CartPole-v1", max_episode_steps=3), discount=0.9)
    assert isinstance(env, gym_wrapper.GymWrapper)  # no TimeLimit without max_episode_steps
    env.seed(5)
    first = env.reset()
    assert first.observation.dtype == np.float32 and env.get_info() == {}
    steps = [env.step(np.array(i % 2)) for i in range(3)]
    assert [int(s.step_type) for s in steps] == [1, 1, 2]
    assert float(steps[-1].discount) == pytest.approx(0.9)  # truncated, not terminated
    assert env.done


def test_wrap_env_adds_tf_agents_time_limit_and_env_wrappers():
    env = suite_gym.wrap_env(
        gymnasium.make("CartPole-v1"),
        max_episode_steps=2,
        env_wrappers=[wrappers.RunStats],
    )
    assert isinstance(env, wrappers.RunStats)
    assert env.wrapped_env().duration == 2
    env.reset()
    env.step(np.array(0))
    assert env.step(np.array(0)).is_last()


def test_legacy_gym_env_four_tuple_steps():
    gym = pytest.importorskip("gym")
    env = gym_wrapper.GymWrapper(gym.spec("CartPole-v1").make())
    assert env.get_info() is None
    env.reset()
    time_step = env.step(np.array(0, dtype=np.int64))
    assert time_step.is_mid() and env.get_info() == {}
    assert env.action_spec().dtype == np.int64 and env.action_spec().maximum == 1


def test_spec_from_gym_space_for_both_libraries_and_dtype_map_by_class_name():
    gym_spaces = gymnasium.spaces
    space = gym_spaces.Dict({"a": gym_spaces.Discrete(3, start=1), "b": gym_spaces.MultiBinary(2)})
    spec = gym_wrapper.spec_from_gym_space(space, {gym_spaces.Discrete: np.uint8}, name="obs")
    assert (spec["a"].minimum, spec["a"].maximum, spec["a"].dtype) == (1, 3, np.uint8)
    assert spec["b"].name == "obs/b" and spec["b"].shape == (2,)
    with pytest.raises(ValueError, match="is currently not supported"):
        gym_wrapper.spec_from_gym_space(gym_spaces.Text(5))

"""GymnasiumWrapper and suite_gymnasium.load."""

import collections

import gymnasium as gym
import numpy as np
import pytest

from tfdrive.environments import gymnasium_wrapper, suite_gymnasium
from tfdrive.environments.gymnasium_wrapper import GymnasiumWrapper, spec_from_gym_space
from tfdrive.environments.py_environment import PyEnvironment
from tfdrive.specs import array_spec
from tfdrive.trajectories.time_step import StepType


class ScriptedEnv(gym.Env):
    """Counts steps; terminates at `terminate_at`, truncates at `truncate_at`."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, terminate_at=3, truncate_at=None, render_mode=None):
        self.observation_space = gym.spaces.Dict(
            {
                "pos": gym.spaces.Box(-1.0, 1.0, (2,), np.float64),
                "count": gym.spaces.Discrete(100),
            }
        )
        self.action_space = gym.spaces.Discrete(2)
        self.terminate_at = terminate_at
        self.truncate_at = truncate_at
        self.render_mode = render_mode
        self.actions = []
        self.seeds = []
        self.count = 0

    def _obs(self):
        return {"count": self.count, "pos": np.full(2, self.count / 100.0)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.seeds.append(seed)
        self.count = 0
        return self._obs(), {"reset": True}

    def step(self, action):
        self.actions.append(action)
        self.count += 1
        terminated = self.count == self.terminate_at
        truncated = self.count == self.truncate_at
        return self._obs(), float(self.count), terminated, truncated, {"count": self.count}

    def render(self):
        return np.zeros((2, 3, 3), np.uint8)


def test_spec_from_discrete_and_box_match_tf_agents():
    assert spec_from_gym_space(gym.spaces.Discrete(3), name="a") == array_spec.BoundedArraySpec(
        (), np.int64, 0, 2
    )
    spec = spec_from_gym_space(gym.spaces.Discrete(3, start=2))
    assert (spec.minimum, spec.maximum) == (2, 4)
    box = spec_from_gym_space(gym.spaces.Box(-2.0, 2.0, (3,), np.float32), name="action")
    assert box == array_spec.BoundedArraySpec((3,), np.float32, -2.0, 2.0)
    assert box.name == "action" and box.minimum.shape == ()
    box = spec_from_gym_space(
        gym.spaces.Box(np.array([-1.0, -2.0]), np.array([1.0, 2.0]), dtype=np.float64)
    )
    assert box.dtype == np.float64
    np.testing.assert_array_equal(box.maximum, [1.0, 2.0])
    not_simplified = spec_from_gym_space(
        gym.spaces.Box(-1.0, 1.0, (2,), np.float32), simplify_box_bounds=False
    )
    assert not_simplified.minimum.shape == (2,)
    mapped = spec_from_gym_space(
        gym.spaces.Box(-1.0, 1.0, (2,), np.float64), dtype_map={gym.spaces.Box: np.float32}
    )
    assert mapped.dtype == np.float32


def test_spec_from_multi_discrete_and_multi_binary():
    md = spec_from_gym_space(gym.spaces.MultiDiscrete([3, 3]))
    assert md == array_spec.BoundedArraySpec((2,), np.int32, 0, 2)
    assert md.maximum.shape == ()
    md = spec_from_gym_space(gym.spaces.MultiDiscrete([2, 5]))
    np.testing.assert_array_equal(md.maximum, [1, 4])
    mb = spec_from_gym_space(gym.spaces.MultiBinary(4))
    assert mb == array_spec.BoundedArraySpec((4,), np.int32, 0, 1)
    assert spec_from_gym_space(gym.spaces.MultiBinary([2, 3])).shape == (2, 3)


def test_spec_from_dict_and_tuple_are_nested_and_named():
    space = gym.spaces.Dict(
        {
            "b": gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.MultiBinary(3))),
            "a": gym.spaces.Box(0.0, 1.0, (1,), np.float32),
        }
    )
    spec = spec_from_gym_space(space, name="observation")
    assert isinstance(spec, collections.OrderedDict)
    assert list(spec) == list(space.spaces)
    assert isinstance(spec["b"], tuple) and len(spec["b"]) == 2
    assert spec["b"][0].name == "observation/b/tuple_0"
    assert spec["b"][1].name == "observation/b/tuple_1"
    assert spec["a"].name == "observation/a"


def test_unsupported_space_raises():
    with pytest.raises(ValueError, match="The gym space .* is currently not supported."):
        spec_from_gym_space(gym.spaces.Text(5))


def test_load_cartpole_specs_and_steps():
    env = suite_gymnasium.load("CartPole-v1")
    assert isinstance(env, GymnasiumWrapper) and isinstance(env, PyEnvironment)
    assert env.batched is False and env.batch_size is None
    assert env.action_spec() == array_spec.BoundedArraySpec((), np.int64, 0, 1)
    assert env.observation_spec().shape == (4,) and env.observation_spec().dtype == np.float32
    ts = env.reset()
    assert ts.step_type == StepType.FIRST and ts.observation.dtype == np.float32
    ts = env.step(np.array(1, np.int64))
    assert ts.step_type == StepType.MID and ts.reward == 1.0 and ts.discount == 1.0
    assert ts.reward.dtype == np.float32
    assert env.get_info() == {}
    assert env.gym.spec.max_episode_steps == 500
    assert env.unwrapped.__class__.__name__ == "CartPoleEnv"  # forwarded to the gym env
    env.close()


def test_terminated_gives_last_with_discount_zero_then_auto_reset():
    gym_env = ScriptedEnv(terminate_at=2)
    env = GymnasiumWrapper(gym_env)
    assert env.step(np.array(1)).step_type == StepType.FIRST  # step before reset resets
    assert gym_env.actions == []
    assert env.step(np.array(1)).step_type == StepType.MID
    ts = env.step(np.array(0))
    assert ts.step_type == StepType.LAST and ts.discount == 0.0 and ts.reward == 2.0
    assert env.done
    ts = env.step(np.array(1))  # ignored: auto-reset
    assert ts.step_type == StepType.FIRST and ts.reward == 0.0 and ts.discount == 1.0
    assert gym_env.actions == [1, 0]
    assert all(isinstance(a, int) for a in gym_env.actions)


def test_truncated_gives_last_with_discount_one():
    env = GymnasiumWrapper(ScriptedEnv(terminate_at=None, truncate_at=2), discount=0.9)
    env.reset()
    assert env.step(np.array(0)).discount == np.float32(0.9)
    ts = env.step(np.array(0))
    assert ts.step_type == StepType.LAST and ts.discount == np.float32(0.9)
    env = suite_gymnasium.load("MountainCar-v0", max_episode_steps=3)
    env.reset()
    steps = [env.step(np.array(1)) for _ in range(4)]
    assert [int(s.step_type) for s in steps] == [1, 1, 2, 0]
    assert steps[2].discount == 1.0


def test_terminated_and_truncated_together_is_a_termination():
    env = GymnasiumWrapper(ScriptedEnv(terminate_at=1, truncate_at=1))
    env.reset()
    ts = env.step(np.array(0))
    assert ts.step_type == StepType.LAST and ts.discount == 0.0


def test_no_auto_reset_keeps_stepping():
    gym_env = ScriptedEnv(terminate_at=1)
    env = GymnasiumWrapper(gym_env, auto_reset=False)
    env.reset()
    env.step(np.array(0))
    assert env.step(np.array(1)).step_type == StepType.MID
    assert gym_env.actions == [0, 1]


def test_dict_observation_cast_to_spec_dtypes_and_info():
    env = GymnasiumWrapper(ScriptedEnv())
    ts = env.reset()
    assert env.get_info() == {"reset": True}
    assert isinstance(ts.observation, collections.OrderedDict)
    assert ts.observation["count"].dtype == np.int64
    assert ts.observation["pos"].dtype == np.float64
    env.step(np.array(1))
    assert env.get_info() == {"count": 1}
    array_spec.check_arrays_nest(env.step(np.array(0)).observation, env.observation_spec())


def test_seed_goes_through_the_next_reset():
    gym_env = ScriptedEnv()
    env = GymnasiumWrapper(gym_env)
    assert env.seed(7) == 7
    env.reset()
    env.reset()
    assert gym_env.seeds == [7, None]
    a, b = suite_gymnasium.load("CartPole-v1"), suite_gymnasium.load("CartPole-v1")
    a.seed(3)
    b.seed(3)
    np.testing.assert_array_equal(a.reset().observation, b.reset().observation)
    for _ in range(5):
        np.testing.assert_array_equal(
            a.step(np.array(1)).observation, b.step(np.array(1)).observation
        )


def test_render_passthrough():
    env = GymnasiumWrapper(ScriptedEnv(render_mode="rgb_array"))
    assert env.render().shape == (2, 3, 3)
    with pytest.raises(ValueError, match="render mode 'human' differs from the Gymnasium env's"):
        env.render("human")


def test_load_without_time_limit_and_wrappers():
    env = suite_gymnasium.load("CartPole-v1", max_episode_steps=0)
    assert "TimeLimit" not in repr(env.gym)
    env = suite_gymnasium.load("CartPole-v1", max_episode_steps=7)
    assert env.gym.spec.max_episode_steps == 7
    seen = []

    def gym_wrapper(e):
        seen.append(e)
        return gym.wrappers.RecordEpisodeStatistics(e)

    def env_wrapper(e):
        seen.append(e)
        return e

    env = suite_gymnasium.load(
        "CartPole-v1", gym_env_wrappers=[gym_wrapper], env_wrappers=[env_wrapper]
    )
    assert isinstance(env.gym, gym.wrappers.RecordEpisodeStatistics)
    assert seen[1] is env


def test_spec_dtype_map_and_module_exports():
    env = suite_gymnasium.load("CartPole-v1", spec_dtype_map={gym.spaces.Discrete: np.int32})
    assert env.action_spec().dtype == np.int32
    assert gymnasium_wrapper.__all__ == ["GymnasiumWrapper", "spec_from_gym_space"]


def test_tf_agents_named_modules_share_the_gymnasium_code():
    from tfdrive import environments
    from tfdrive.environments import gym_wrapper, suite_gym, wrappers

    # suite_gym follows TF-Agents: a GymWrapper inside TF-Agents' TimeLimit.
    assert issubclass(GymnasiumWrapper, gym_wrapper.GymWrapper)
    assert environments.GymWrapper is gym_wrapper.GymWrapper
    assert gym_wrapper.spec_from_gym_space is spec_from_gym_space
    env = suite_gym.load("CartPole-v1")
    assert isinstance(env, wrappers.TimeLimit) and env.duration == 500
    assert isinstance(env.wrapped_env(), gym_wrapper.GymWrapper)

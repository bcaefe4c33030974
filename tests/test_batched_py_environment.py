"""BatchedPyEnvironment: Rust stepping and stacking of Python environments."""

import collections

import gymnasium as gym
import numpy as np
import pytest

from tfdrive.environments import suite_gymnasium
from tfdrive.environments.batched_py_environment import BatchedPyEnvironment, unstack_actions
from tfdrive.environments.gymnasium_wrapper import GymnasiumWrapper
from tfdrive.environments.py_environment import PyEnvironment
from tfdrive.specs import array_spec
from tfdrive.trajectories import time_step as ts


class CountingEnv(PyEnvironment):
    """Observation = step count (float64 [2]); ends (termination) at `length` steps."""

    def __init__(self, length=3, offset=0.0, fail_at=None, obs_shape=(2,)):
        super().__init__(handle_auto_reset=True)
        self.length, self.offset, self.fail_at, self.obs_shape = length, offset, fail_at, obs_shape
        self.count = 0
        self.actions = []

    def observation_spec(self):
        return array_spec.ArraySpec((2,), np.float64, name="observation")

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int64, 0, 9, name="action")

    def _obs(self):
        return np.full(self.obs_shape, self.count + self.offset)

    def _reset(self):
        self.count = 0
        return ts.restart(self._obs())

    def _step(self, action):
        self.actions.append(action)
        self.count += 1
        if self.count == self.fail_at:
            raise RuntimeError("boom")
        if self.count >= self.length:
            return ts.termination(self._obs(), 1.5)
        return ts.transition(self._obs(), 0.5)

    def get_info(self):
        return {"count": np.int64(self.count)}

    def render(self, mode="rgb_array"):
        return np.full((1, 1, 3), self.count, np.uint8)


class DictEnv(CountingEnv):
    def observation_spec(self):
        return collections.OrderedDict(
            a=array_spec.ArraySpec((), np.int32, name="a"),
            b=array_spec.ArraySpec((3,), np.float32, name="b"),
        )

    def action_spec(self):
        return {
            "x": array_spec.ArraySpec((2,), np.float32),
            "y": array_spec.ArraySpec((), np.int64),
        }

    def _obs(self):
        return collections.OrderedDict(a=self.count, b=np.full(3, self.count + self.offset))


def test_batched_properties_and_specs():
    envs = [CountingEnv() for _ in range(3)]
    env = BatchedPyEnvironment(envs)
    assert env.batched is True and env.batch_size == 3
    assert env.envs is envs
    assert env.observation_spec() == envs[0].observation_spec()
    assert env.action_spec() == envs[0].action_spec()
    assert env.time_step_spec() == envs[0].time_step_spec()
    assert env._core.gymnasium_path is False


def test_shapes_dtypes_and_values():
    env = BatchedPyEnvironment([CountingEnv(offset=i * 10.0) for i in range(3)])
    first = env.reset()
    assert first.step_type.dtype == np.int32 and first.step_type.shape == (3,)
    assert first.reward.dtype == np.float32 and first.reward.shape == (3,)
    assert first.discount.dtype == np.float32 and first.discount.shape == (3,)
    assert first.observation.dtype == np.float64 and first.observation.shape == (3, 2)
    np.testing.assert_array_equal(first.observation[:, 0], [0.0, 10.0, 20.0])
    nxt = env.step(np.array([1, 2, 3]))
    np.testing.assert_array_equal(nxt.step_type, [1, 1, 1])
    np.testing.assert_array_equal(nxt.reward, [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(nxt.observation[:, 1], [1.0, 11.0, 21.0])
    assert [e.actions for e in env.envs] == [[1], [2], [3]]
    # Delivered arrays are fresh: the first time step is untouched.
    np.testing.assert_array_equal(first.observation[:, 0], [0.0, 10.0, 20.0])
    assert not np.shares_memory(first.observation, nxt.observation)


def test_per_env_auto_reset():
    env = BatchedPyEnvironment([CountingEnv(length=1), CountingEnv(length=2)])
    env.reset()
    a = env.step(np.array([0, 0]))
    np.testing.assert_array_equal(a.step_type, [2, 1])
    np.testing.assert_array_equal(a.discount, [0.0, 1.0])
    b = env.step(np.array([5, 6]))
    np.testing.assert_array_equal(b.step_type, [0, 2])
    np.testing.assert_array_equal(b.reward, [0.0, 1.5])
    c = env.step(np.array([7, 8]))
    np.testing.assert_array_equal(c.step_type, [2, 0])
    assert env.envs[0].actions == [0, 7]  # 5 was ignored by the reset
    assert env.envs[1].actions == [0, 6]


def test_step_before_reset_resets():
    env = BatchedPyEnvironment([CountingEnv(), CountingEnv()])
    np.testing.assert_array_equal(env.step(np.array([1, 1])).step_type, [0, 0])
    assert env.envs[0].actions == []


def test_exception_propagates_unchanged_naming_env_index():
    env = BatchedPyEnvironment([CountingEnv(), CountingEnv(fail_at=1), CountingEnv()])
    env.reset()
    with pytest.raises(RuntimeError, match="boom") as info:
        env.step(np.array([1, 1, 1]))
    assert info.value.__notes__ == ["raised by env 1 of a BatchedPyEnvironment of 3 envs"]
    assert info.traceback[-1].name == "_step"


def test_wrong_observation_shape_names_env_and_spec():
    env = BatchedPyEnvironment([CountingEnv(), CountingEnv(obs_shape=(3,))])
    with pytest.raises(
        ValueError,
        match=r"env 1 returned observation of shape \[3\], expected \[2\] per ArraySpec\(shape=\(2,\)",
    ):
        env.reset()


def test_action_batch_size_mismatch():
    env = BatchedPyEnvironment([CountingEnv(), CountingEnv()])
    env.reset()
    with pytest.raises(
        ValueError,
        match=r"Primary dimension of action items does not match batch size: 3 vs. 2",
    ):
        env.step(np.array([1, 1, 1]))


def test_nested_observations_and_actions():
    env = BatchedPyEnvironment([DictEnv(offset=i) for i in range(2)])
    first = env.reset()
    assert isinstance(first.observation, collections.OrderedDict)
    assert first.observation["a"].dtype == np.int32 and first.observation["a"].shape == (2,)
    assert first.observation["b"].dtype == np.float32 and first.observation["b"].shape == (2, 3)
    actions = {"x": np.zeros((2, 2), np.float32), "y": np.array([3, 4])}
    nxt = env.step(actions)
    np.testing.assert_array_equal(nxt.observation["b"][:, 0], [1.0, 2.0])
    assert env.envs[1].actions[0]["y"] == 4
    assert [a["y"] for a in unstack_actions(actions)] == [3, 4]


def test_get_info_render_close():
    env = BatchedPyEnvironment([CountingEnv(), CountingEnv()])
    env.reset()
    env.step(np.array([0, 0]))
    info = env.get_info()
    np.testing.assert_array_equal(info["count"], [1, 1])
    assert env.render().shape == (2, 1, 1, 3)
    env.close()


def test_constructor_errors():
    with pytest.raises(ValueError, match="envs must be a list or tuple"):
        BatchedPyEnvironment(CountingEnv())
    with pytest.raises(ValueError, match="All environments must have the same action spec"):
        BatchedPyEnvironment([CountingEnv(), DictEnv()])

    class OtherObs(CountingEnv):
        def observation_spec(self):
            return array_spec.ArraySpec((3,), np.float64)

    with pytest.raises(ValueError, match="All environments must have the same time_step_spec"):
        BatchedPyEnvironment([CountingEnv(), OtherObs()])
    from tfdrive.environments import native

    with pytest.raises(ValueError, match="Some of the envs are already batched"):
        BatchedPyEnvironment([native.make("CartPole-v1", 2)])


class EndingEnv(gym.Env):
    """Terminates at step `terminate_at`, truncates at `truncate_at`."""

    def __init__(self, terminate_at=None, truncate_at=None, fail=False):
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float64)
        self.action_space = gym.spaces.Discrete(3)
        self.terminate_at, self.truncate_at, self.fail = terminate_at, truncate_at, fail
        self.count = 0
        self.actions = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.count = 0
        return np.zeros(2), {"reset": 1}

    def step(self, action):
        if self.fail:
            raise KeyError("gym failure")
        self.actions.append(action)
        self.count += 1
        obs = np.full(2, float(self.count))
        return (
            obs,
            np.float64(2.5),
            self.count == self.terminate_at,
            self.count == self.truncate_at,
            {"n": self.count},
        )


def test_gymnasium_path_terminated_truncated_and_auto_reset():
    gyms = [EndingEnv(terminate_at=2), EndingEnv(truncate_at=2), EndingEnv()]
    env = BatchedPyEnvironment([GymnasiumWrapper(g, discount=0.5) for g in gyms])
    assert env._core.gymnasium_path is True
    first = env.reset()
    assert first.observation.dtype == np.float64
    np.testing.assert_array_equal(first.step_type, [0, 0, 0])
    np.testing.assert_array_equal(env.get_info()["reset"], [1, 1, 1])
    s1 = env.step(np.array([1, 2, 0]))
    np.testing.assert_array_equal(s1.step_type, [1, 1, 1])
    np.testing.assert_array_equal(s1.discount, np.float32([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(s1.reward, [2.5, 2.5, 2.5])
    s2 = env.step(np.array([1, 1, 1]))
    np.testing.assert_array_equal(s2.step_type, [2, 2, 1])
    np.testing.assert_array_equal(s2.discount, np.float32([0.0, 0.5, 0.5]))
    np.testing.assert_array_equal(env.get_info()["n"], [2, 2, 2])
    s3 = env.step(np.array([2, 2, 2]))
    np.testing.assert_array_equal(s3.step_type, [0, 0, 1])
    np.testing.assert_array_equal(s3.reward, [0.0, 0.0, 2.5])
    np.testing.assert_array_equal(s3.observation[:2], np.zeros((2, 2)))
    assert gyms[0].actions == [1, 1] and gyms[2].actions == [0, 1, 2]
    assert all(type(a) is int for a in gyms[0].actions)


def test_gymnasium_path_exception_names_env():
    env = BatchedPyEnvironment(
        [GymnasiumWrapper(EndingEnv()), GymnasiumWrapper(EndingEnv(fail=True))]
    )
    env.reset()
    with pytest.raises(KeyError, match="gym failure") as info:
        env.step(np.array([0, 0]))
    assert info.value.__notes__ == ["raised by env 1 of a BatchedPyEnvironment of 2 envs"]


def test_gymnasium_path_matches_generic_path():
    def make():
        envs = [suite_gymnasium.load("CartPole-v1") for _ in range(4)]
        for i, e in enumerate(envs):
            e.seed(i)
        return envs

    fast = BatchedPyEnvironment(make())
    slow_envs = make()
    slow = BatchedPyEnvironment(slow_envs)
    slow._core = type(slow._core)(
        slow_envs,
        [
            ("step_type", "", (), np.int32),
            ("reward", "", (), np.float32),
            ("discount", "", (), np.float32),
            ("observation", "", (4,), np.float32),
        ],
    )
    assert fast._core.gymnasium_path and not slow._core.gymnasium_path
    rng = np.random.default_rng(0)
    a, b = fast.reset(), slow.reset()
    for _ in range(100):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        actions = rng.integers(0, 2, 4)
        a, b = fast.step(actions), slow.step(actions)


class _ListObservationEnv(PyEnvironment):
    """Returns its observation as the Python list `observation` (a nest, as in tf.nest)."""

    def __init__(self, shape, observation):
        super().__init__()
        self._spec = array_spec.ArraySpec(shape, np.int64, "observation")
        self._observation = observation

    def observation_spec(self):
        return self._spec

    def action_spec(self):
        return array_spec.BoundedArraySpec((), np.int64, 0, 1)

    def _reset(self):
        return ts.restart(self._observation)

    def _step(self, action):
        return ts.transition(self._observation, 0.0)


@pytest.mark.parametrize(
    "shape, observation, want",
    [
        ((), [7], [7, 7, 7]),  # a one-leaf nest: its leaf (TF-Agents' batching)
        ((2,), [7, 8], [[7, 8]] * 3),  # a list of the spec's shape: an array
        ((), {"x": 7}, [7, 7, 7]),
    ],
)
def test_list_observations_follow_nest_semantics(shape, observation, want):
    env = BatchedPyEnvironment([_ListObservationEnv(shape, observation) for _ in range(3)])
    for time_step in (env.reset(), env.step(np.zeros(3, np.int64))):
        assert time_step.observation.dtype == np.int64
        assert time_step.observation.tolist() == want


def test_a_nest_of_two_leaves_for_a_one_leaf_spec_is_refused():
    env = BatchedPyEnvironment([_ListObservationEnv((), [7, 8]) for _ in range(2)])
    with pytest.raises(
        ValueError, match=r"env 0 returned observation of shape \[2\], expected \[\]"
    ):
        env.reset()

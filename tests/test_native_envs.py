"""Native vectorized classic-control envs (tfdrive.environments.native).

Each native env is checked against Gymnasium's, transition by transition:
from the same state with the same action, the next observation, reward,
termination and truncation must agree.
"""

import gymnasium as gym
import numpy as np
import pytest

from tfdrive.environments import native
from tfdrive.environments.py_environment import PyEnvironment
from tfdrive.specs import array_spec
from tfdrive.trajectories.time_step import StepType

FIRST, MID, LAST = 0, 1, 2

# name -> (batch steps to run, reset low, reset high) for the Gymnasium comparison.
CASES = {
    "CartPole-v1": 400,
    "Pendulum-v1": 230,
    "MountainCar-v0": 230,
    "MountainCarContinuous-v0": 1010,
    "Acrobot-v1": 520,
}


def _gym_state(env):
    return np.asarray(env.unwrapped.state, dtype=np.float64)


def _near_terminal_state(name, rng):
    """A Gymnasium state from which random actions often terminate (None: keep the reset)."""
    if name in ("MountainCar-v0", "MountainCarContinuous-v0"):
        return np.array([rng.uniform(0.25, 0.5), rng.uniform(0.0, 0.07)])
    if name == "Acrobot-v1":
        return np.concatenate([rng.uniform(-np.pi, np.pi, 2), rng.uniform(-3.0, 3.0, 2)])
    if name == "Pendulum-v1":
        return np.array([rng.uniform(-20.0, 20.0), rng.uniform(-8.0, 8.0)])
    return None


def _random_actions(spec, rng, n):
    if spec.dtype == np.int64:
        return rng.integers(0, int(spec.maximum) + 1, size=n).astype(np.int64)
    low, high = float(spec.minimum), float(spec.maximum)
    return rng.uniform(low, high, size=(n, 1)).astype(np.float32)


def _to_gym_action(spec, a):
    return int(a) if spec.dtype == np.int64 else np.asarray(a, dtype=np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_gymnasium_transition_by_transition(name):
    num_envs = 8
    env = native.make(name, num_envs, seed=3)
    gyms = [gym.make(name) for _ in range(num_envs)]
    rng = np.random.default_rng(0)
    spec = env.action_spec()
    env.reset()
    elapsed = [0] * num_envs
    needs_reset = [False] * num_envs
    for i, g in enumerate(gyms):
        g.reset(seed=100 + i)
        state = _near_terminal_state(name, rng) if i % 2 else None
        if state is not None:
            g.unwrapped.state = state
        env.set_env_state(i, _gym_state(g), 0)
    episodes = truncations = terminations = 0
    for _ in range(CASES[name]):
        for i, g in enumerate(gyms):
            if not needs_reset[i]:
                env.set_env_state(i, _gym_state(g), elapsed[i])
        actions = _random_actions(spec, rng, num_envs)
        ts = env.step(actions)
        assert ts.step_type.dtype == np.int32 and ts.step_type.shape == (num_envs,)
        assert ts.reward.dtype == np.float32 and ts.discount.dtype == np.float32
        assert ts.observation.dtype == np.float32
        for i, g in enumerate(gyms):
            if needs_reset[i]:
                obs, _ = g.reset(seed=int(rng.integers(1 << 30)))
                state = _near_terminal_state(name, rng) if i % 2 else None
                if state is not None:
                    g.unwrapped.state = state
                assert ts.step_type[i] == FIRST
                assert ts.reward[i] == 0.0 and ts.discount[i] == 1.0
                # Native resets draw from Gymnasium's reset distribution.
                assert g.observation_space.contains(ts.observation[i])
                needs_reset[i] = False
                elapsed[i] = 0
                env.set_env_state(i, _gym_state(g), 0)
                continue
            obs, reward, terminated, truncated, _ = g.step(_to_gym_action(spec, actions[i]))
            elapsed[i] += 1
            np.testing.assert_allclose(ts.observation[i], obs, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(ts.reward[i], np.float32(reward), rtol=1e-5, atol=1e-5)
            if terminated or truncated:
                assert ts.step_type[i] == LAST
                assert ts.discount[i] == (0.0 if terminated else 1.0)
                needs_reset[i] = True
                episodes += 1
                terminations += terminated
                truncations += truncated and not terminated
            else:
                assert ts.step_type[i] == MID
                assert ts.discount[i] == 1.0
    assert episodes >= num_envs
    if name != "Pendulum-v1":  # Pendulum never terminates.
        assert terminations > 0
    if name != "CartPole-v1":  # random CartPole episodes never last 500 steps
        assert truncations > 0


@pytest.mark.parametrize(
    "name, action_spec, obs_shape",
    [
        ("CartPole-v1", array_spec.BoundedArraySpec((), np.int64, 0, 1), (4,)),
        ("Pendulum-v1", array_spec.BoundedArraySpec((1,), np.float32, -2.0, 2.0), (3,)),
        ("MountainCar-v0", array_spec.BoundedArraySpec((), np.int64, 0, 2), (2,)),
        (
            "MountainCarContinuous-v0",
            array_spec.BoundedArraySpec((1,), np.float32, -1.0, 1.0),
            (2,),
        ),
        ("Acrobot-v1", array_spec.BoundedArraySpec((), np.int64, 0, 2), (6,)),
    ],
)
def test_specs_match_gymnasium_spaces(name, action_spec, obs_shape):
    env = native.make(name, 2)
    assert isinstance(env, PyEnvironment)
    assert env.batched is True and env.batch_size == 2
    assert env.action_spec() == action_spec
    assert env.action_spec().name == "action"
    obs_spec = env.observation_spec()
    assert obs_spec.name == "observation"
    assert obs_spec.shape == obs_shape and obs_spec.dtype == np.float32
    space = gym.make(name).observation_space
    big = np.finfo(np.float32).max
    np.testing.assert_array_equal(obs_spec.maximum, np.where(np.isinf(space.high), big, space.high))
    np.testing.assert_array_equal(obs_spec.minimum, np.where(np.isinf(space.low), -big, space.low))
    assert env.max_episode_steps == gym.spec(name).max_episode_steps
    assert env.time_step_spec().observation == obs_spec
    assert env.get_info() == {}


def test_reset_shapes_and_values():
    env = native.make("Acrobot-v1", 5, seed=1)
    ts = env.reset()
    np.testing.assert_array_equal(ts.step_type, np.full(5, StepType.FIRST, np.int32))
    np.testing.assert_array_equal(ts.reward, np.zeros(5, np.float32))
    np.testing.assert_array_equal(ts.discount, np.ones(5, np.float32))
    assert ts.observation.shape == (5, 6)
    assert env.current_time_step() is not ts
    np.testing.assert_array_equal(env.current_time_step().observation, ts.observation)


def test_step_before_reset_resets_and_ignores_action():
    env = native.make("CartPole-v1", 3)
    with pytest.raises(ValueError, match="Current timestep not initialized."):
        env.current_time_step()
    ts = env.step(np.array([7, 7, 7]))  # ignored, not even validated
    np.testing.assert_array_equal(ts.step_type, [FIRST] * 3)


def test_per_env_auto_reset_ignores_action():
    env = native.make("MountainCar-v0", 3)
    env.reset()
    env.set_env_state(1, [0.499, 0.05], 7)  # reaches the goal on the next step
    env.set_env_state(2, [-0.5, 0.0], 199)  # hits the 200-step limit
    ts = env.step(np.array([1, 2, 1]))
    np.testing.assert_array_equal(ts.step_type, [MID, LAST, LAST])
    np.testing.assert_array_equal(ts.discount, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ts.reward, [-1.0, -1.0, -1.0])
    ts = env.step(np.array([1, 0, 0]))
    np.testing.assert_array_equal(ts.step_type, [MID, FIRST, FIRST])
    np.testing.assert_array_equal(ts.reward, [-1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ts.discount, [1.0, 1.0, 1.0])
    assert ts.observation[1, 1] == 0.0 and -0.6 <= ts.observation[1, 0] <= -0.4
    assert env.get_env_state(1)[1] == 0
    assert env.get_env_state(0)[1] == 2


def test_delivered_arrays_are_never_reused():
    env = native.make("CartPole-v1", 4)
    first = env.reset()
    kept = first.observation.copy()
    second = env.step(np.zeros(4, np.int64))
    np.testing.assert_array_equal(first.observation, kept)
    assert not np.shares_memory(first.observation, second.observation)
    assert first.observation.flags.owndata or first.observation.base is not None


@pytest.mark.parametrize("name", native.NAMES)
def test_deterministic_across_thread_counts(name):
    envs = [native.make(name, 700, seed=11, num_threads=t) for t in (1, 2, 3)]
    assert [e.num_threads for e in envs] == [1, 2, 3]
    rng = np.random.default_rng(5)
    outs = [e.reset() for e in envs]
    for _ in range(60):
        for a, b in zip(outs, outs[1:], strict=False):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
        actions = _random_actions(envs[0].action_spec(), rng, 700)
        outs = [e.step(actions) for e in envs]


def test_seed_reproduces_and_differs():
    a = native.make("Pendulum-v1", 4, seed=1)
    b = native.make("Pendulum-v1", 4, seed=2)
    assert not np.array_equal(a.reset().observation, b.reset().observation)
    assert b.seed(1) == 1  # the next reset draws from seed 1's streams
    fresh = native.make("Pendulum-v1", 4, seed=1)
    np.testing.assert_array_equal(fresh.reset().observation, b.reset().observation)
    # Sub-environments draw from different streams.
    obs = a.reset().observation
    assert len({tuple(o) for o in obs}) == 4


CARTPOLE_SPEC = (
    r"action_spec BoundedArraySpec\(shape=\(\), dtype=dtype\('int64'\), name='action', "
    r"minimum=0, maximum=1\)"
)
PENDULUM_SPEC = (
    r"action_spec BoundedArraySpec\(shape=\(1,\), dtype=dtype\('float32'\), name='action', "
    r"minimum=-2.0, maximum=2.0\)"
)


def test_out_of_bounds_action_rejected_naming_spec():
    env = native.make("CartPole-v1", 3)
    env.reset()
    before = env.get_env_state(1)[0]
    with pytest.raises(
        ValueError, match=r"action 2 of env 1 is out of bounds \[0, 1\] of " + CARTPOLE_SPEC
    ):
        env.step(np.array([0, 2, 1]))
    with pytest.raises(ValueError, match=r"action -1 of env 0 is out of bounds"):
        env.step(np.array([-1, 0, 1]))
    np.testing.assert_array_equal(env.get_env_state(1)[0], before)
    p = native.make("Pendulum-v1", 2)
    p.reset()
    with pytest.raises(
        ValueError, match=r"action 2.5 of env 1 is out of bounds \[-2.0, 2.0\] of " + PENDULUM_SPEC
    ):
        p.step(np.array([[0.0], [2.5]], np.float32))
    with pytest.raises(ValueError, match=r"action NaN of env 0 is out of bounds"):
        p.step(np.array([[np.nan], [0.0]], np.float32))
    p.step(np.array([[-2.0], [2.0]], np.float32))  # bounds are inclusive


def test_wrong_shape_action_rejected_naming_spec():
    env = native.make("CartPole-v1", 3)
    env.reset()
    with pytest.raises(
        ValueError,
        match=r"action has shape \[2\], expected \[3\] \(batch_size \+ action_spec.shape\) for "
        + CARTPOLE_SPEC,
    ):
        env.step(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"action has shape \[3, 1\], expected \[3\]"):
        env.step(np.zeros((3, 1), np.int64))
    p = native.make("Pendulum-v1", 2)
    p.reset()
    with pytest.raises(
        ValueError, match=r"action has shape \[2\], expected \[2, 1\] .*" + PENDULUM_SPEC
    ):
        p.step(np.zeros(2, np.float32))


def test_wrong_dtype_action_rejected_naming_spec():
    env = native.make("CartPole-v1", 3)
    env.reset()
    with pytest.raises(
        TypeError, match=r"action has dtype int32, expected int64 for " + CARTPOLE_SPEC
    ):
        env.step(np.array([0, 1, 0], np.int32))
    with pytest.raises(TypeError, match=r"action has dtype float32, expected int64"):
        env.step(np.zeros(3, np.float32))
    p = native.make("Pendulum-v1", 2)
    p.reset()
    with pytest.raises(
        TypeError, match=r"action has dtype float64, expected float32 for " + PENDULUM_SPEC
    ):
        p.step(np.zeros((2, 1)))
    # Lists go through numpy.asarray: Python ints are int64.
    assert env.step([0, 1, 1]).step_type.shape == (3,)


def test_non_contiguous_actions_are_read():
    env = native.make("CartPole-v1", 3, seed=4)
    twin = native.make("CartPole-v1", 3, seed=4)
    env.reset()
    twin.reset()
    actions = np.array([[0, 9], [1, 9], [1, 9]], np.int64)[:, 0]
    assert not actions.flags.c_contiguous
    np.testing.assert_array_equal(
        env.step(actions).observation, twin.step(np.ascontiguousarray(actions)).observation
    )


def test_constructor_errors():
    with pytest.raises(
        ValueError, match=r'Unknown native environment "Foo-v0"; available: CartPole-v1, '
    ):
        native.make("Foo-v0", 2)
    with pytest.raises(ValueError, match="num_envs must be at least 1, got 0"):
        native.make("CartPole-v1", 0)
    with pytest.raises(ValueError, match="num_threads must be at least 1 or None, got 0"):
        native.make("CartPole-v1", 2, num_threads=0)
    with pytest.raises(IndexError, match="env index 5 out of range for 2 envs"):
        native.make("CartPole-v1", 2).get_env_state(5)
    with pytest.raises(ValueError, match="CartPole-v1 state has 4 values, got 2"):
        native.make("CartPole-v1", 2).set_env_state(0, [0.0, 0.0])


def test_default_threads_and_repr():
    env = native.make("CartPole-v1", 16)
    assert env.num_threads == 1
    assert native.make("CartPole-v1", 2047).num_threads == 1
    assert 1 <= native.make("CartPole-v1", 4096).num_threads <= 2
    assert repr(env) == "NativeEnvironment('CartPole-v1', num_envs=16, num_threads=1)"
    with native.make("CartPole-v1", 2) as e:
        assert e.batch_size == 2


def test_driven_by_py_driver_with_random_policy():
    from tfdrive.drivers.py_driver import PyDriver
    from tfdrive.policies import random_py_policy

    env = native.make("CartPole-v1", 4, seed=1)
    policy = random_py_policy.RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), outer_dims=(4,), seed=0
    )
    trajectories = []
    final, _ = PyDriver(env, policy, [trajectories.append], max_episodes=10).run(env.reset())
    assert sum(int(t.is_boundary().sum()) for t in trajectories) >= 10
    assert all(t.observation.shape == (4, 4) and t.action.dtype == np.int64 for t in trajectories)
    np.testing.assert_array_equal(env.current_time_step().step_type, final.step_type)
    # Every episode: FIRST, MIDs, LAST (reward 1 each step), then the boundary.
    for t in trajectories:
        np.testing.assert_array_equal(t.reward[t.is_boundary()], 0.0)
        np.testing.assert_array_equal(t.reward[~t.is_boundary()], 1.0)

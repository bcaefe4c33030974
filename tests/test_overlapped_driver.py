"""OverlappedPyDriver: groups of envs step while the policy computes another group's actions."""

from __future__ import annotations

import numpy as np
import pytest

from tfdrive.drivers.overlapped_driver import OverlappedPyDriver
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import native, suite_gymnasium
from tfdrive.environments.batched_py_environment import BatchedPyEnvironment
from tfdrive.environments.parallel_py_environment import ParallelPyEnvironment
from tfdrive.policies.py_policy import PyPolicy
from tfdrive.specs import array_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import nest


def cartpole(seed: int):
    env = suite_gymnasium.load("CartPole-v1")
    env.seed(seed)
    return env


class LeanPolicy(PyPolicy):
    """Pushes towards the pole's lean (deterministic per row); state counts calls per row."""

    def __init__(self, env):
        super().__init__(
            env.time_step_spec(),
            env.action_spec(),
            policy_state_spec=array_spec.ArraySpec((), np.int64),
            info_spec={"lean": array_spec.ArraySpec((), np.float32)},
        )

    def _get_initial_state(self, batch_size):
        return np.zeros(batch_size, np.int64)

    def _action(self, time_step, policy_state):
        lean = time_step.observation[:, 2].astype(np.float32)
        action = (lean > 0).astype(np.int64)
        return policy_step.PolicyStep(action, policy_state + 1, {"lean": lean})


class Recorder:
    def __init__(self):
        self.items = []

    def __call__(self, item):
        self.items.append(item)


def assert_nest_equal(a, b):
    nest.assert_same_structure(a, b)
    for x, y in zip(nest.flatten(a), nest.flatten(b)):
        np.testing.assert_array_equal(x, y)


def plain_run(seeds, rounds):
    env = BatchedPyEnvironment([cartpole(s) for s in seeds])
    policy, recorder = LeanPolicy(env), Recorder()
    PyDriver(env, policy, [recorder], max_steps=rounds * len(seeds)).run(
        env.reset(), policy.get_initial_state(len(seeds))
    )
    return recorder.items


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_same_trajectories_as_a_plain_driver_over_the_whole_batch(kind):
    seeds = [[0, 1], [2, 3]]
    if kind == "threads":
        groups = [BatchedPyEnvironment([cartpole(s) for s in g]) for g in seeds]
    else:
        groups = [ParallelPyEnvironment([lambda s=s: cartpole(s) for s in g]) for g in seeds]
    try:
        policy, recorder, transitions = LeanPolicy(groups[0]), Recorder(), Recorder()
        driver = OverlappedPyDriver(
            groups, policy, [recorder], transition_observers=[transitions], max_steps=120
        )
        time_steps, states = driver.run([g.reset() for g in groups])
        rounds = len(recorder.items)
        steps, _ = driver.last_run_counts
        assert 120 <= steps <= 120 + 2 * 4  # up to two rounds past the limit
        want = plain_run([0, 1, 2, 3], rounds + 5)
        for got, expected in zip(recorder.items, want):
            assert_nest_equal(got, expected)
        assert len(transitions.items) == rounds
        # Each group's state: one policy call per delivered round.
        assert [s.tolist() for s in states] == [[rounds, rounds], [rounds, rounds]]
        # The returned time steps are the last delivered next time steps, per group.
        last_next = transitions.items[-1][2]
        assert_nest_equal(time_steps[0], nest.map_structure(lambda x: x[:2], last_next))
        assert_nest_equal(time_steps[1], nest.map_structure(lambda x: x[2:], last_next))
    finally:
        if kind == "processes":
            for g in groups:
                g.close()


def test_native_env_groups_step_on_their_threads():
    groups = [native.make("CartPole-v1", num_envs=8, seed=s) for s in (0, 1)]
    policy = LeanPolicy(groups[0])
    recorder = Recorder()
    driver = OverlappedPyDriver(groups, policy, [recorder], max_episodes=10)
    driver.run([g.reset() for g in groups])
    assert driver.last_run_counts[1] >= 10
    assert all(t.observation.shape == (16, 4) for t in recorder.items)
    assert all(t.policy_info["lean"].dtype == np.float32 for t in recorder.items)
    # Without observers only the counts are taken: the same counts.
    bare_groups = [native.make("CartPole-v1", num_envs=8, seed=s) for s in (0, 1)]
    bare = OverlappedPyDriver(bare_groups, policy, max_episodes=10)
    bare.run([g.reset() for g in bare_groups])
    assert bare.last_run_counts == driver.last_run_counts
    steps = sum(int(np.sum(~t.is_boundary())) for t in recorder.items)
    assert driver.last_run_counts[0] == steps


class FailingEnv(BatchedPyEnvironment):
    def _step(self, action):
        raise ArithmeticError("env failed on purpose")


def test_errors():
    env = BatchedPyEnvironment([cartpole(0)])
    policy = LeanPolicy(env)
    with pytest.raises(ValueError, match="at least two env groups"):
        OverlappedPyDriver([env], policy, max_steps=1)
    with pytest.raises(ValueError, match=r"envs\[1\] is not batched"):
        OverlappedPyDriver([env, cartpole(1)], policy, max_steps=1)
    with pytest.raises(ValueError, match="max_steps"):
        OverlappedPyDriver([env, env], policy)
    failing = FailingEnv([cartpole(1)])
    driver = OverlappedPyDriver([env, failing], policy, max_steps=10)
    with pytest.raises(ArithmeticError, match="env failed on purpose"):
        driver.run([env.reset(), failing.reset()])

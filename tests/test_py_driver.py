"""PyDriver: TF-Agents' driver semantics (docs/SEMANTICS.md, "The driver")."""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback

import numpy as np
import pytest

from driver_mocks import AlternatingPolicy, BatchedCountingEnv, CountingEnv, Recorder
from tfdrive import _core
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts

F, M, L = 0, 1, 2


def _fields(traj):
    return (
        int(traj.step_type),
        int(traj.observation),
        int(traj.action),
        int(traj.policy_info),
        int(traj.next_step_type),
        float(traj.reward),
        float(traj.discount),
    )


# The reference sequence: first(0 -> 1), last(1 -> 2, discount 0), boundary(3 -> 1).
FIRST_T = (F, 0, 1, 2, M, 1.0, 1.0)
LAST_T = (M, 1, 2, 4, L, 1.0, 0.0)
BOUNDARY_T = (L, 3, 1, 2, F, 0.0, 1.0)


def _run(max_steps=None, max_episodes=None, **kwargs):
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [rec], max_steps=max_steps, max_episodes=max_episodes, **kwargs)
    final = driver.run(env.reset(), policy.get_initial_state())
    return driver, env, policy, rec, final


@pytest.mark.parametrize(
    "max_steps, max_episodes, delivered",
    [(None, 1, 3), (None, 2, 6), (2, 2, 2), (4, 2, 5), (4, 1, 3), (4, None, 5)],
)
def test_reference_sequence_counts(max_steps, max_episodes, delivered):
    _, _, _, rec, _ = _run(max_steps, max_episodes)
    assert len(rec.items) == delivered
    expected = [FIRST_T, LAST_T, BOUNDARY_T] * 2
    assert [_fields(t) for t in rec.items] == expected[:delivered]


def test_delivered_trajectories_are_tfdrive_trajectories_with_numpy_fields():
    _, _, _, rec, _ = _run(max_episodes=1)
    traj = rec.items[0]
    assert type(traj) is trajectory.Trajectory
    assert traj.step_type.dtype == np.int32
    assert traj.reward.dtype == np.float32
    assert traj.action.dtype == np.int32
    assert [bool(t.is_boundary()) for t in rec.items] == [False, False, True]
    assert [bool(t.is_last()) for t in rec.items] == [False, True, False]


def test_run_returns_last_time_step_and_last_output_state():
    driver, env, policy, rec, (time_step, state) = _run(max_steps=4, max_episodes=2)
    # 5 trajectories: first, last, boundary, first, last -> the env sits at LAST.
    assert int(time_step.step_type) == L
    assert time_step is env.current_time_step()
    # The policy's last call was on the MID step with state 3: output state 4.
    assert int(state) == 4
    assert driver.last_run_counts == (4, 1)


def test_consecutive_runs_continue_from_the_returned_step_and_state():
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [rec], max_steps=2)
    time_step, state = driver.run(env.reset(), policy.get_initial_state())
    time_step, state = driver.run(time_step, state)
    time_step, state = driver.run(time_step, state)
    got = [_fields(t) for t in rec.items]
    # Each run collects 2 steps; the boundary transition is not a step.
    assert got == [FIRST_T, LAST_T, BOUNDARY_T, FIRST_T, LAST_T, BOUNDARY_T, FIRST_T, LAST_T]
    assert driver.last_run_counts == (2, 1)


def test_initial_state_once_per_new_episode_after_the_first():
    env, policy = CountingEnv(), AlternatingPolicy()
    driver = PyDriver(env, policy, None, max_episodes=3)
    policy.get_initial_state()  # the caller's own call
    driver.run(env.reset(), np.int32(2))
    # Three episodes end in this run; the 2nd and 3rd start with a fresh
    # state, asked for with `env.batch_size or 1`; no call for the 1st.
    assert policy.initial_state_calls == [None, 1, 1]


def test_initial_state_calls_restart_with_each_run():
    env, policy = CountingEnv(), AlternatingPolicy()
    driver = PyDriver(env, policy, None, max_episodes=1)
    time_step, state = driver.run(env.reset(), np.int32(2))
    assert policy.initial_state_calls == []
    driver.run(time_step, state)
    assert policy.initial_state_calls == []


def test_transitions_carry_the_input_state():
    env, policy, rec, trans = CountingEnv(), AlternatingPolicy(), Recorder(), Recorder()
    driver = PyDriver(env, policy, [rec], transition_observers=[trans], max_steps=2)
    driver.run(env.reset(), np.int32(7))
    assert len(trans.items) == len(rec.items) == 2
    (ts0, as0, nts0), (ts1, as1, nts1) = trans.items
    assert type(as0) is policy_step.PolicyStep
    # The first action was computed from the caller's state 7 (reset to 2 by
    # the policy on FIRST, but the transition carries what went in).
    assert int(as0.state) == 7
    assert int(as1.state) == 3
    assert nts0 is ts1
    assert int(as0.action) == int(rec.items[0].action) == 1
    assert int(as0.info) == 2


def test_transition_observers_with_episodes_ending_on_last():
    env, policy, trans = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(
        env,
        policy,
        None,
        transition_observers=[trans],
        max_episodes=2,
        end_episode_on_boundary=False,
    )
    driver.run(env.reset(), np.int32(2))
    # Episodes end on LAST: first, last | boundary, first, last.
    kinds = [(int(t.step_type), int(n.step_type)) for t, _, n in trans.items]
    assert kinds == [(F, M), (M, L), (L, F), (F, M), (M, L)]
    assert driver.last_run_counts == (4, 2)


def test_observer_order_and_info_observers():
    env, policy = CountingEnv(), AlternatingPolicy()
    calls = []
    driver = PyDriver(
        env,
        policy,
        [lambda t: calls.append(("traj", type(t).__name__))],
        transition_observers=[lambda t: calls.append(("transition", len(t)))],
        info_observers=[
            lambda i: calls.append(("info1", i["mock"])),
            lambda i: calls.append(("info2", i["mock"])),
        ],
        max_steps=1,
    )
    driver.run(env.reset(), ())
    # get_info() is called once per info observer, after the other observers.
    assert calls == [("transition", 3), ("traj", "Trajectory"), ("info1", 1), ("info2", 2)]
    assert env.info_calls == 2


def test_observer_lists_are_read_at_each_run():
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [], max_steps=1)
    time_step, state = driver.run(env.reset(), ())
    driver.observers.append(rec)
    driver.run(time_step, state)
    assert len(rec.items) == 1


def test_properties():
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [rec], max_steps=1)
    assert driver.env is env
    assert driver.policy is policy
    assert driver.observers == [rec]
    assert driver.transition_observers == []
    assert driver.info_observers == []
    assert PyDriver(env, policy, None, max_steps=1).observers == []


@pytest.mark.parametrize(
    "max_steps, max_episodes",
    [(None, None), (0, 0), (0, None), (-1, None), (None, -3), (-1, -1)],
)
def test_no_positive_limit_is_rejected(max_steps, max_episodes):
    with pytest.raises(
        ValueError, match="^Either `max_steps` or `max_episodes` should be greater than 0.$"
    ):
        PyDriver(
            CountingEnv(), AlternatingPolicy(), [], max_steps=max_steps, max_episodes=max_episodes
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"observers": 5}, "observers must be a list of callables; got int 5"),
        ({"observers": "abc"}, "observers must be a list of callables; got str 'abc'"),
        ({"observers": [print, 3]}, r"observers\[1\] is not callable: 3"),
        ({"transition_observers": [None]}, r"transition_observers\[0\] is not callable: None"),
        ({"info_observers": ["x"]}, r"info_observers\[0\] is not callable: 'x'"),
    ],
)
def test_observers_that_are_not_callables_are_named(kwargs, message):
    observers = kwargs.pop("observers", None)
    with pytest.raises(TypeError, match=message):
        PyDriver(CountingEnv(), AlternatingPolicy(), observers, max_steps=1, **kwargs)


def test_a_negative_limit_beside_a_positive_one_runs_nothing():
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [rec], max_steps=-1, max_episodes=2)
    first = env.reset()
    time_step, state = driver.run(first, "unchanged")
    assert rec.items == [] and time_step is first and state == "unchanged"


# --- batched environments -------------------------------------------------


def test_batched_env_gets_one_batched_trajectory_per_iteration():
    env, policy, rec = (
        BatchedCountingEnv((3, 4)),
        AlternatingPolicy(np.full(2, 2, np.int32)),
        Recorder(),
    )
    driver = PyDriver(env, policy, [rec], max_steps=5)
    driver.run(env.reset(), np.full(2, 2, np.int32))
    # Env 0 steps 0 ->1 ->3(LAST) -> reset; env 1 steps 0 ->1 ->3 ->4(LAST).
    step_types = [t.step_type.tolist() for t in rec.items]
    next_step_types = [t.next_step_type.tolist() for t in rec.items]
    assert step_types == [[F, F], [M, M], [L, M]]
    assert next_step_types == [[M, M], [L, M], [F, L]]
    # Steps: 2 + 2 + 1 = 5 (the limit is reached exactly); no state resets.
    assert driver.last_run_counts == (5, 1)
    assert policy.initial_state_calls == []
    assert rec.items[0].observation.shape == (2,)


def test_batched_env_can_overshoot_the_step_limit():
    env, policy, rec = (
        BatchedCountingEnv((3, 3, 3)),
        AlternatingPolicy(np.full(3, 2, np.int32)),
        Recorder(),
    )
    driver = PyDriver(env, policy, [rec], max_steps=4)
    driver.run(env.reset(), np.full(3, 2, np.int32))
    assert len(rec.items) == 2
    assert driver.last_run_counts == (6, 0)


def test_batched_env_counts_episodes_over_the_batch():
    env, policy = BatchedCountingEnv((3, 4)), AlternatingPolicy(np.full(2, 2, np.int32))
    driver = PyDriver(env, policy, None, max_episodes=2)
    driver.run(env.reset(), np.full(2, 2, np.int32))
    assert driver.last_run_counts[1] >= 2


# --- errors ---------------------------------------------------------------


class Boom(Exception):
    pass


def _raise_on(n):
    calls = {"n": 0}

    def hook(*args):
        calls["n"] += 1
        if calls["n"] == n:
            raise Boom(f"call {n}")

    return hook


class FailingEnv(CountingEnv):
    def __init__(self, fail_at):
        super().__init__()
        self._hook = _raise_on(fail_at)

    def _step(self, action):
        self._hook()
        return super()._step(action)


class FailingPolicy(AlternatingPolicy):
    def __init__(self, fail_action_at=None, fail_initial_state=False):
        super().__init__()
        self._hook = _raise_on(fail_action_at) if fail_action_at else None
        self._fail_initial_state = fail_initial_state

    def _action(self, time_step, policy_state):
        if self._hook:
            self._hook()
        return super()._action(time_step, policy_state)

    def _get_initial_state(self, batch_size=None):
        if self._fail_initial_state and batch_size is not None:
            raise Boom("no initial state")
        return super()._get_initial_state(batch_size)


@pytest.mark.parametrize(
    "make, delivered",
    [
        (lambda: (FailingEnv(3), AlternatingPolicy(), []), 2),
        (lambda: (CountingEnv(), FailingPolicy(fail_action_at=4), []), 3),
        (lambda: (CountingEnv(), FailingPolicy(fail_initial_state=True), []), 3),
        (lambda: (CountingEnv(), AlternatingPolicy(), [_raise_on(2)]), 2),
    ],
    ids=["env.step", "policy.action", "get_initial_state", "observer"],
)
def test_callback_exceptions_reach_the_caller_unchanged(make, delivered):
    env, policy, extra = make()
    rec = Recorder()
    driver = PyDriver(env, policy, [rec, *extra], max_steps=10)
    with pytest.raises(Boom) as info:
        driver.run(env.reset(), np.int32(2))
    # The original exception, with the raising frame in its traceback.
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "hook" or frames[-1] == "_get_initial_state"
    assert [_fields(t) for t in rec.items] == [FIRST_T, LAST_T, BOUNDARY_T][:delivered]
    # Delivered trajectories stay intact and the driver runs again.
    before = [_fields(t) for t in rec.items]
    driver2 = PyDriver(CountingEnv(), AlternatingPolicy(), [Recorder()], max_steps=1)
    driver2.run(CountingEnv().reset(), ())
    assert [_fields(t) for t in rec.items] == before


def test_bad_step_type_is_named():
    class BadEnv(CountingEnv):
        def _step(self, action):
            return ts.TimeStep("mid", np.float32(1), np.float32(1), np.int32(1))

    env = BadEnv()
    driver = PyDriver(env, AlternatingPolicy(), None, max_steps=3)
    with pytest.raises(
        TypeError, match=r"next_time_step.step_type must be an integer array.*'mid'"
    ):
        driver.run(env.reset(), ())


def test_mismatched_batch_sizes_are_named():
    class BadEnv(CountingEnv):
        def _step(self, action):
            return ts.transition(np.zeros(3, np.int32), np.ones(3, np.float32), outer_dims=(3,))

    env = BadEnv()
    env.reset()
    driver = PyDriver(env, AlternatingPolicy(), None, max_steps=3)
    first = ts.restart(np.zeros(2, np.int32), batch_size=2)
    with pytest.raises(
        ValueError, match="time_step.step_type has 2 elements but next_time_step.step_type has 3"
    ):
        driver.run(first, np.full(2, 2, np.int32))


# --- interrupts -----------------------------------------------------------


def test_ctrl_c_from_a_timer_thread_stops_a_long_run_and_the_driver_runs_again():
    env, policy = CountingEnv(), AlternatingPolicy()

    class FirstSix:
        """Keeps the first six trajectories' fields and counts the rest."""

        def __init__(self):
            self.fields, self.count = [], 0

        def __call__(self, traj):
            self.count += 1
            if len(self.fields) < 6:
                self.fields.append(_fields(traj))

    seen = FirstSix()
    # A real SIGINT, as Ctrl-C sends; the run would take minutes without it.
    driver = PyDriver(env, policy, [seen], max_steps=20_000_000)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        driver.run(env.reset(), np.int32(2))
    timer.join()
    assert time.monotonic() - started < 5.0
    assert seen.count > 6
    # The delivered trajectories are complete and in sequence.
    assert seen.fields == [FIRST_T, LAST_T, BOUNDARY_T] * 2
    driver2 = PyDriver(env, policy, [], max_steps=2)
    time_step, _ = driver2.run(env.reset(), np.int32(2))
    assert int(time_step.step_type) == L


# --- the native counting function ----------------------------------------


def test_count_steps_native():
    assert _core.count_steps(np.int32(0), np.int32(1)) == (1, 0)
    assert _core.count_steps(np.asarray(2, np.int32), np.asarray(0, np.int32)) == (0, 1)
    st = np.array([0, 1, 2, 2], np.int32)
    nst = np.array([1, 2, 0, 0], np.int32)
    assert _core.count_steps(st, nst) == (2, 2)
    assert _core.count_steps(st, nst, end_episode_on_boundary=False) == (2, 1)
    assert _core.count_steps(st.astype(np.int64), [1, 2, 0, 0]) == (2, 2)
    assert _core.count_steps(st[::2], nst[::2]) == (1, 1)
    with pytest.raises(
        ValueError, match="step_type has 4 elements but next_time_step.step_type has 3"
    ):
        _core.count_steps(st, nst[:3])
    with pytest.raises(TypeError, match="step_type must be an integer array"):
        _core.count_steps(object(), nst)


# --- progress -------------------------------------------------------------


def test_progress_callable_gets_the_final_totals():
    env, policy = CountingEnv(), AlternatingPolicy()
    calls = []
    driver = PyDriver(env, policy, None, max_steps=5, progress=lambda s, e: calls.append((s, e)))
    driver.run(env.reset(), np.int32(2))
    # Runs this short report once, at the end, with what the run collected.
    assert calls == [(5, 2)]


def test_progress_bar_shows_steps_and_episodes(capsys):
    env, policy = CountingEnv(), AlternatingPolicy()
    driver = PyDriver(env, policy, None, max_steps=5, progress=True)
    driver.run(env.reset(), np.int32(2))
    err = capsys.readouterr().err
    assert "collect: 100%" in err and "5.00/5.00" in err and "episodes=2" in err


def test_progress_is_off_by_default(capsys):
    env, policy = CountingEnv(), AlternatingPolicy()
    PyDriver(env, policy, None, max_steps=5).run(env.reset(), np.int32(2))
    assert capsys.readouterr().err == ""


# --- run statistics -------------------------------------------------------


def test_last_run_stats_count_iterations_and_time_stages():
    env, policy, rec = CountingEnv(), AlternatingPolicy(), Recorder()
    driver = PyDriver(env, policy, [rec], transition_observers=[rec], max_episodes=2, timing=True)
    assert driver.last_run_stats is None and driver.last_run_counts == (0, 0)
    driver.run(env.reset(), np.int32(2))
    stats = driver.last_run_stats
    assert (stats.num_steps, stats.num_episodes, stats.iterations) == (4, 2, 6)
    stages = stats.stages
    assert set(stages) == {"policy", "env", "gil_wait", "assembly", "observers", "other"}
    assert stages["gil_wait"] == 0.0  # a Python env: the GIL is never released
    assert all(v >= 0.0 for v in stages.values())
    assert stages["policy"] > 0 and stages["env"] > 0
    assert sum(stages.values()) == pytest.approx(stats.seconds, rel=1e-6, abs=1e-9)
    assert "iterations=6" in repr(stats)


def test_stages_are_none_without_timing():
    env, policy = CountingEnv(), AlternatingPolicy()
    driver = PyDriver(env, policy, None, max_steps=2)
    driver.run(env.reset(), np.int32(2))
    assert driver.last_run_stats.stages is None
    assert driver.last_run_stats.iterations == 2


# --- native environments --------------------------------------------------


class _RandomIntPolicy:
    """Uniform actions in {0, 1} for a batch, from a seeded generator."""

    def __init__(self, batch, seed):
        self._rng = np.random.default_rng(seed)
        self._batch = batch

    def action(self, time_step, policy_state=()):
        return policy_step.PolicyStep(self._rng.integers(0, 2, self._batch, dtype=np.int64), (), ())

    def get_initial_state(self, batch_size=None):
        return ()


@pytest.mark.parametrize(
    "name, num_envs, iterations, releases_gil",
    [
        ("CartPole-v1", 3, 40, False),
        ("CartPole-v1", 100, 40, False),  # steps of microseconds keep the GIL
        ("Acrobot-v1", 40000, 4, True),  # steps of milliseconds release it
    ],
)
def test_native_env_is_stepped_natively_and_delivers_what_python_stepping_gives(
    name, num_envs, iterations, releases_gil
):
    from tfdrive.environments import native

    env = native.make(name, num_envs, seed=5, num_threads=1)
    rec = Recorder()
    policy = _RandomIntPolicy(num_envs, 1)
    driver = PyDriver(env, policy, [rec], max_steps=iterations * num_envs, timing=True)
    final, _ = driver.run(env.reset(), ())
    # The same env and actions, stepped through the Python PyEnvironment API.
    twin = native.make(name, num_envs, seed=5)
    policy = _RandomIntPolicy(num_envs, 1)
    time_step = twin.reset()
    for traj in rec.items:
        action = policy.action(time_step).action
        np.testing.assert_array_equal(traj.action, action)
        np.testing.assert_array_equal(traj.observation, time_step.observation)
        time_step = twin.step(action)
        np.testing.assert_array_equal(traj.next_step_type, time_step.step_type)
        np.testing.assert_array_equal(traj.reward, time_step.reward)
        np.testing.assert_array_equal(traj.discount, time_step.discount)
    np.testing.assert_array_equal(final.observation, time_step.observation)
    # The env's own record of the current step follows the native path.
    np.testing.assert_array_equal(env.current_time_step().observation, final.observation)
    # gil_wait is only ever counted when a step released the GIL.
    assert (driver.last_run_stats.stages["gil_wait"] > 0.0) == releases_gil


def test_native_env_action_errors_name_the_spec():
    from tfdrive.environments import native

    class FloatPolicy(_RandomIntPolicy):
        def action(self, time_step, policy_state=()):
            return policy_step.PolicyStep(np.zeros(self._batch, np.float32), (), ())

    env = native.make("CartPole-v1", 4)
    driver = PyDriver(env, FloatPolicy(4, 0), [], max_steps=10)
    with pytest.raises(TypeError, match="action"):
        driver.run(env.reset(), ())


def _doubling_wrapped_and_subclassed_envs():
    """A native CartPole whose rewards are doubled, by a subclass and by a forwarding wrapper."""
    from tfdrive.environments import native, py_environment

    class DoubledRewards(native.NativeEnvironment):
        def _step(self, action):
            step = super()._step(action)
            return step._replace(reward=step.reward * 2)

    class ForwardingWrapper(py_environment.PyEnvironment):
        """Like TF-Agents' wrappers: unknown attributes are read from the wrapped env."""

        def __init__(self, env):
            super().__init__(handle_auto_reset=False)
            self._env = env

        def __getattr__(self, name):
            return getattr(self.__dict__["_env"], name)

        @property
        def batched(self):
            return True

        @property
        def batch_size(self):
            return self._env.batch_size

        def observation_spec(self):
            return self._env.observation_spec()

        def action_spec(self):
            return self._env.action_spec()

        def _reset(self):
            return self._env.reset()

        def _step(self, action):
            step = self._env.step(action)
            return step._replace(reward=step.reward * 2)

    return [
        DoubledRewards("CartPole-v1", 3, seed=1),
        ForwardingWrapper(native.make("CartPole-v1", 3, seed=1)),
    ]


@pytest.mark.parametrize(
    "env", _doubling_wrapped_and_subclassed_envs(), ids=["subclass", "wrapper"]
)
def test_a_subclassed_or_wrapped_native_env_is_stepped_through_its_own_step(env):
    rec = Recorder()
    PyDriver(env, _RandomIntPolicy(3, 0), [rec], max_steps=30).run(env.reset(), ())
    rewards = np.concatenate([t.reward for t in rec.items])
    mids = np.concatenate([t.next_step_type for t in rec.items]) != ts.StepType.FIRST
    # Every reward a CartPole step gives is 1 (0 on reset): doubled to 2 here.
    assert set(rewards[mids].tolist()) == {2.0}

"""Driver overhead per iteration: tfdrive's Rust loop against Python loops.

The driver's own cost is what an iteration takes beyond `policy.action` and
`env.step`: total time per iteration minus the time of the same env and
policy called in a bare loop. Variants, interleaved in one process:
- `env+policy`: the bare loop (`policy.action` then `env.step`), the floor;
- `python loop`: TF-Agents' `PyDriver.run` semantics in pure Python on
  tfdrive's types (trajectory assembly, observers, counting with numpy);
- `tfdrive`: `tfdrive.drivers.py_driver.PyDriver`;
- `tf-agents`: `tf_agents.drivers.py_driver.PyDriver` (when importable, i.e.
  in the compat environment), on the same env and policy;
and the same three drivers on TF-Agents' own mocks
(`tf_agents.drivers.test_utils`), when TF-Agents is importable.

Each driver gets one trajectory observer that counts what it receives.

Run: python benches/bench_driver_overhead.py [--iterations N] [--repeats R] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tfdrive.benchmarks import common
from tfdrive.drivers.py_driver import PyDriver
from tfdrive.environments import py_environment
from tfdrive.specs import array_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts

_ACTION_SPEC = array_spec.BoundedArraySpec((), np.int32, 1, 2, name="action")
_OBS_SPEC = array_spec.ArraySpec((), np.int32, name="observation")


class CountingEnv(py_environment.PyEnvironment):
    """Adds the action to a counter; episodes end at 100."""

    def __init__(self):
        super().__init__()
        self._state = 0

    def observation_spec(self):
        return _OBS_SPEC

    def action_spec(self):
        return _ACTION_SPEC

    def _reset(self):
        self._state = 0
        return ts.restart(np.int32(0))

    def _step(self, action):
        if self._state >= 100:
            return self.reset()
        self._state += int(action)
        obs = np.int32(self._state)
        return ts.termination(obs, 1.0) if self._state >= 100 else ts.transition(obs, 1.0)


class NumpyPolicy:
    """A minimal PyPolicy-protocol policy: action 1, state and info ()."""

    _ACTION = np.int32(1)

    def action(self, time_step, policy_state=()):
        return policy_step.PolicyStep(self._ACTION, (), ())

    def get_initial_state(self, batch_size=None):
        return ()


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, traj):
        self.n += 1


def python_loop(env, policy, observers, max_steps, time_step, policy_state=()):
    """TF-Agents' `PyDriver.run`, line for line in spirit, on tfdrive's types."""
    num_steps = num_episodes = 0
    while num_steps < max_steps:
        if not env.batched and time_step.is_first() and num_episodes > 0:
            policy_state = policy.get_initial_state(env.batch_size or 1)
        action_step = policy.action(time_step, policy_state)
        next_time_step = env.step(action_step.action)
        with_state = action_step._replace(state=policy_state)
        traj = trajectory.from_transition(time_step, with_state, next_time_step)
        for observer in observers:
            observer(traj)
        num_episodes += np.sum(traj.is_boundary())
        num_steps += np.sum(~traj.is_boundary())
        time_step = next_time_step
        policy_state = action_step.state
    return time_step, policy_state


def bare_loop(env, policy, n, time_step, policy_state):
    """The env and policy calls a driver makes, and nothing else."""
    for _ in range(n):
        if int(time_step.step_type) == 0:  # a new episode: the driver asks for a fresh state
            policy_state = policy.get_initial_state(1)
        action_step = policy.action(time_step, policy_state)
        time_step = env.step(action_step.action)
        policy_state = action_step.state
    return time_step, policy_state


def scenario(name, env, policy, n, tf_agents_driver_cls=None, policy_state=()):
    """Variants over one env/policy pair: callables(n) returning the iterations run.

    Drivers stop after `n` steps, which takes more iterations when episodes
    are short (boundary transitions are no steps); the trajectory counter
    tells how many.
    """
    state = {"ts": env.reset(), "ps": policy_state}
    counter = Counter()
    tfdrive_driver = PyDriver(env, policy, [counter], max_steps=n)
    variants = {}

    def floor(k):
        state["ts"], state["ps"] = bare_loop(env, policy, k, state["ts"], state["ps"])
        return k

    def counted(run):
        def variant(k):
            before = counter.n
            state["ts"], state["ps"] = run(k, state["ts"], state["ps"])
            return counter.n - before

        return variant

    python = counted(lambda k, ts, ps: python_loop(env, policy, [counter], k, ts, ps))
    tfdrive_ = counted(lambda k, ts, ps: tfdrive_driver.run(ts, ps))

    variants["env+policy"] = floor
    variants["python loop"] = python
    variants["tfdrive"] = tfdrive_
    if tf_agents_driver_cls is not None:
        tfa = tf_agents_driver_cls(env, policy, [counter], max_steps=n)
        variants["tf-agents"] = counted(lambda k, ts, ps: tfa.run(ts, ps))
    return name, variants


def run(iterations: int = 20000, repeats: int = 7) -> dict:
    """Measures every scenario; returns `{name: {"table", "medians_us", "samples_us"}}`."""
    n = iterations
    try:
        from tf_agents.drivers import py_driver as tfa_py_driver
        from tf_agents.drivers import test_utils as tfa_test_utils
    except ImportError:
        tfa_py_driver = tfa_test_utils = None
    tfa_cls = tfa_py_driver.PyDriver if tfa_py_driver else None
    scenarios = [scenario("counting env + numpy policy", CountingEnv(), NumpyPolicy(), n, tfa_cls)]
    if tfa_test_utils is not None:
        env = tfa_test_utils.PyEnvironmentMock()
        policy = tfa_test_utils.PyPolicyMock(env.time_step_spec(), env.action_spec())
        scenarios.append(
            scenario("TF-Agents' own mocks", env, policy, n, tfa_cls, policy_state=np.int32(2))
        )

    results = {}
    for name, variants in scenarios:
        timed = {k: common.per_call_us(fn, n) for k, fn in variants.items()}
        for fn in variants.values():  # warm-up
            fn(min(n, 2000))
        samples = common.interleaved(timed, repeats)
        medians = {k: common.median(v) for k, v in samples.items()}
        floor = medians["env+policy"]
        rows = [["env+policy (floor)", floor, "-", "-"]]
        for k, us in medians.items():
            if k != "env+policy":
                rows.append([k, us, us - floor, f"{medians['tfdrive'] / us:.2f}"])
        table = common.table(
            ["variant", "µs / iteration", "driver overhead µs", "tfdrive time / this"], rows
        )
        title = f"{name} ({n} iterations x {repeats} repeats, medians)"
        results[name] = {
            "title": title,
            "table": table,
            "medians_us": medians,
            "samples_us": samples,
        }
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default="bench-results")
    args = parser.parse_args(argv)
    results = run(args.iterations, args.repeats)
    for result in results.values():
        print(f"\n### {result['title']}\n{result['table']}")
    print("\nmachine:", common.machine())
    suffix = "compat" if "TF-Agents' own mocks" in results else "dev"
    path = common.write_json(
        Path(args.out) / f"driver_overhead_{suffix}.json", {"results": results}
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

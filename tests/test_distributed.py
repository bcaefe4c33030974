"""tfdrive.distributed on a local Ray instance (2 CPUs) started by this module."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import threading
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from tfdrive.distributed import cluster, factories, spec_check  # noqa: E402
from tfdrive.distributed import collector as collector_lib  # noqa: E402
from tfdrive.distributed import weights as weights_lib  # noqa: E402
from tfdrive.distributed.collector import WorkerError, local_workers  # noqa: E402
from tfdrive.drivers.py_driver import PyDriver  # noqa: E402
from tfdrive.environments import native  # noqa: E402
from tfdrive.policies.random_py_policy import RandomPyPolicy  # noqa: E402
from tfdrive.replay_buffers.trajectory_buffer import TrajectoryBuffer  # noqa: E402
from tfdrive.utils import nest  # noqa: E402

NUM_ENVS = 4

# Half a CPU per actor: two collectors (four actors) fit on the 2 CPUs; a
# worker that cannot start fails the test in a minute, not in five.
DistributedCollector = functools.partial(
    collector_lib.DistributedCollector, num_cpus_per_worker=0.5, timeout_s=90
)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    # The workers unpickle this module's factories by value: it is not
    # importable in their processes.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024**2,
        log_to_driver=False,
        runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}},
    )
    yield
    ray.shutdown()
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@dataclasses.dataclass(frozen=True)
class RandomPolicyFactory:
    """A seeded numpy policy: workers start fast (no TensorFlow)."""

    seed: int = 7

    def __call__(self, env):
        return RandomPyPolicy(
            env.time_step_spec(), env.action_spec(), seed=self.seed, outer_dims=(env.batch_size,)
        )


class FaultyEnv:
    """A native CartPole batch whose `step` fails at step `fail_at` (exit or raise)."""

    def __init__(self, seed: int, fail_at: int, how: str):
        self._env = native.make("CartPole-v1", NUM_ENVS, seed=seed)
        self._steps = 0
        self._fail_at, self._how = fail_at, how

    batched = property(lambda self: True)
    batch_size = property(lambda self: NUM_ENVS)

    def reset(self):
        return self._env.reset()

    def step(self, action):
        self._steps += 1
        if self._steps == self._fail_at:
            if self._how == "exit":
                os._exit(3)
            raise ValueError(f"the env broke at step {self._steps}")
        return self._env.step(action)

    def time_step_spec(self):
        return self._env.time_step_spec()

    def action_spec(self):
        return self._env.action_spec()

    def get_info(self):
        return self._env.get_info()


@dataclasses.dataclass(frozen=True)
class FaultyEnvFactory:
    """Worker 0's first life (no `marker` file yet) fails at step `fail_at`; `always`: every life."""

    marker: str
    fail_at: int = 20
    how: str = "exit"
    always: bool = False

    def __call__(self, worker_index):
        if worker_index == 0 and (self.always or not os.path.exists(self.marker)):
            open(self.marker, "w").close()
            return FaultyEnv(worker_index, self.fail_at, self.how)
        return native.make("CartPole-v1", NUM_ENVS, seed=worker_index)


def cartpole(worker_index):
    return native.make("CartPole-v1", NUM_ENVS, seed=worker_index)


def local_rounds(env_factory, policy_factory, steps, rounds):
    """What plain PyDrivers collect, one per seed, round after round: {worker: [trajectory]}."""
    out = {}
    for i, share in enumerate(steps):
        env = env_factory(i)
        policy = policy_factory(env)
        buffer = TrajectoryBuffer(policy.trajectory_spec, NUM_ENVS, 10 * share)
        driver = PyDriver(env, policy, [buffer], max_steps=share)
        time_step, state = env.reset(), policy.get_initial_state(NUM_ENVS)
        out[i] = []
        for _ in range(rounds):
            buffer.clear()
            time_step, state = driver.run(time_step, state)
            out[i].append(buffer.gather_all())
    return out


def assert_same(a, b):
    for x, y in zip(nest.flatten(a), nest.flatten(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_two_actors_collect_what_two_local_drivers_collect():
    policy_factory = RandomPolicyFactory()
    with DistributedCollector(cartpole, policy_factory, 2, 2 * 301) as collector:
        assert collector.steps_per_worker == [301, 301]
        rounds = [collector.collect() for _ in range(3)]
    expected = local_rounds(cartpole, policy_factory, [301, 301], 3)
    for r, round_ in enumerate(rounds):
        assert [b.worker_index for b in round_.batches] == [0, 1]
        for batch in round_.batches:
            assert_same(batch.trajectory, expected[batch.worker_index][r])
            assert 301 <= batch.num_steps < 301 + NUM_ENVS
            assert batch.policy_version == 0 and batch.restarts == 0
            # Zero-copy from the object store: contiguous, read-only arrays.
            assert batch.trajectory.observation.flags.c_contiguous
    # Episode metrics agree with the steps: CartPole pays 1 per step.
    returns = np.concatenate([r.episode_returns for r in rounds])
    lengths = np.concatenate([r.episode_lengths for r in rounds])
    np.testing.assert_array_equal(returns, lengths)
    assert len(returns) == sum(r.num_episodes for r in rounds) > 0


def test_local_workers_match_the_actors_batches():
    workers = local_workers(cartpole, RandomPolicyFactory(), 2, 400)
    expected = local_rounds(cartpole, RandomPolicyFactory(), [200, 200], 2)
    for r in range(2):
        for worker in workers:
            assert_same(worker.collect().trajectory, expected[worker.worker_index][r])


def _biased(policy, action):
    """The policy's weights, with the actor's logits pushed far towards `action`."""
    arrays = weights_lib.to_numpy(policy)
    variables = weights_lib.assignable_variables(policy)
    # The actor's projection layer: the last [2] bias among the variables.
    index = max(i for i, v in enumerate(variables) if tuple(v.shape) == (2,) and "bias" in v.name)
    arrays[index] = np.where(np.arange(2) == action, 50.0, -50.0).astype(np.float32)
    arrays[index - 1] = np.zeros_like(arrays[index - 1])
    return arrays


@pytest.fixture(scope="module")
def ppo_collector():
    env_factory = factories.NativeEnvFactory("CartPole-v1", NUM_ENVS)
    policy_factory = factories.PPOPolicyFactory(hidden=(8,))
    with DistributedCollector(env_factory, policy_factory, 2, 200) as collector:
        yield collector, policy_factory(env_factory(0))


def test_weight_versions_are_monotonic_and_applied(ppo_collector):
    collector, learner_policy = ppo_collector
    start = collector.version
    for step, action in enumerate([1, 0, 1], start=1):
        version = collector.publish(_biased(learner_policy, action))
        assert version == start + step
        round_ = collector.collect()
        assert round_.policy_version == version
        for batch in round_.batches:
            assert batch.policy_version == version
            assert (batch.trajectory.action == action).all()


def test_asynchronous_batches_carry_the_newest_weights_they_had(ppo_collector):
    collector, learner_policy = ppo_collector
    first = collector.publish(_biased(learner_policy, 0))
    collector.start()
    seen = {0: [], 1: []}
    for _ in range(4):
        batch = collector.next()
        seen[batch.worker_index].append(batch.policy_version)
        assert (batch.trajectory.action == 0).all()
    second = collector.publish(_biased(learner_policy, 1))
    while min(len(v) for v in seen.values()) < 4 or second not in sum(seen.values(), []):
        batch = collector.next()
        seen[batch.worker_index].append(batch.policy_version)
        expected_action = 0 if batch.policy_version == first else 1
        assert (batch.trajectory.action == expected_action).all()
    collector.stop()
    for versions in seen.values():
        assert versions == sorted(versions) and set(versions) <= {first, second}
    with pytest.raises(RuntimeError, match="before start"):
        collector.next()


def test_published_weights_are_checked_against_the_policy(ppo_collector):
    collector, learner_policy = ppo_collector
    version = collector.version
    arrays = weights_lib.to_numpy(learner_policy)
    with pytest.raises(ValueError, match=r"variables: 3 variables where the policy has"):
        collector.publish(arrays[:3])
    arrays[0] = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError, match=r"array 0 .*shape \(5, 5\).* where the policy has"):
        collector.publish(arrays)
    with pytest.raises(TypeError, match="weights must be"):
        collector.publish(object())
    assert collector.version == version


def test_a_killed_actor_restarts_and_the_round_is_exact(tmp_path):
    env_factory = FaultyEnvFactory(str(tmp_path / "died"))
    with DistributedCollector(env_factory, RandomPolicyFactory(), 2, 600) as collector:
        round_ = collector.collect()
        assert collector.restarts == [1, 0]
        assert [b.restarts for b in round_.batches] == [1, 0]
        # The restarted worker's batch is a whole round from a fresh env.
        expected = local_rounds(cartpole, RandomPolicyFactory(), [300, 300], 1)
        for batch in round_.batches:
            assert_same(batch.trajectory, expected[batch.worker_index][0])
        # Killed by Ray between rounds: restarted on the next call.
        ray.kill(collector._actors[1], no_restart=False)
        round_ = collector.collect()
        assert all(b.num_steps >= 300 for b in round_.batches)
        # Counted when the round's call met the dying process (timing decides).
        assert collector.restarts[0] == 1 and collector.restarts[1] <= 1


def test_an_env_that_keeps_raising_reaches_the_user_with_its_traceback(tmp_path):
    env_factory = FaultyEnvFactory(str(tmp_path / "raised"), how="raise", always=True)
    collector = DistributedCollector(env_factory, RandomPolicyFactory(), 2, 200, max_restarts=1)
    actors = list(collector._actors)
    with pytest.raises(WorkerError, match="worker 0: its round raised after 1 restart") as info:
        collector.collect()
    assert info.value.worker_index == 0 and info.value.restarts == 1
    assert "the env broke at step 20" in info.value.remote_traceback
    assert "in step" in info.value.remote_traceback  # the frame that raised
    for actor in actors:
        assert_killed(actor)


def assert_killed(actor, seconds=20.0):
    """`actor` stops answering within `seconds` (ray.kill is asynchronous)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            ray.get(actor.info.remote(), timeout=seconds)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.1)
    raise AssertionError(f"{actor} is still alive: a leaked actor")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_workers must be an integer >= 1"):
        DistributedCollector(cartpole, RandomPolicyFactory(), 0, 100)
    with pytest.raises(ValueError, match="steps_per_round must be an integer >= 2"):
        DistributedCollector(cartpole, RandomPolicyFactory(), 2, 1)
    with pytest.raises(ValueError, match="timeout_s"):
        DistributedCollector(cartpole, RandomPolicyFactory(), 1, 10, timeout_s=0)
    with pytest.raises(TypeError, match="env_factory must be callable"):
        DistributedCollector("CartPole-v1", RandomPolicyFactory(), 1, 10)
    lock = threading.Lock()
    with pytest.raises(TypeError, match="policy_factory cannot be pickled"):
        DistributedCollector(cartpole, lambda env: lock, 1, 10)


def test_factories_that_return_no_env_or_policy_are_named():
    with pytest.raises(TypeError, match=r"worker 0 could not start: env_factory\(0\) returned int"):
        DistributedCollector(lambda i: 3, RandomPolicyFactory(), 1, 10)
    with pytest.raises(TypeError, match=r"policy_factory\(env\) returned int 42 in worker 0"):
        DistributedCollector(cartpole, lambda env: 42, 1, 10)


def mixed_envs(worker_index):
    name = "CartPole-v1" if worker_index == 0 else "Acrobot-v1"
    return native.make(name, NUM_ENVS, seed=worker_index)


def test_workers_with_different_specs_are_refused():
    with pytest.raises(ValueError, match="worker 1's time_step_spec differs from worker 0's"):
        DistributedCollector(mixed_envs, RandomPolicyFactory(), 2, 100)


def test_a_data_spec_the_workers_do_not_collect_is_refused():
    spec = RandomPolicyFactory()(cartpole(0)).trajectory_spec
    wrong = spec._replace(observation=spec.action)
    with pytest.raises(ValueError, match=r"does not match data_spec: observation is float32\[4\]"):
        DistributedCollector(cartpole, RandomPolicyFactory(), 1, 10, data_spec=wrong)


def test_a_batch_that_does_not_match_the_spec_is_described():
    spec = RandomPolicyFactory()(cartpole(0)).trajectory_spec
    batch = local_workers(cartpole, RandomPolicyFactory(), 1, 40)[0].collect().trajectory
    assert spec_check.batch_mismatch(batch, spec) is None
    bad = batch._replace(reward=batch.reward.astype(np.float64))
    assert spec_check.batch_mismatch(bad, spec) == (
        f"reward is float64{list(batch.reward.shape)} where float32[B, T] is expected"
    )


def test_a_second_cluster_address_is_refused():
    with pytest.raises(ValueError, match="already initialised in this process"):
        cluster.connect("127.0.0.1:9")
    assert cluster.connect() is ray
    assert cluster.connect(ray.get_runtime_context().gcs_address) is ray


def test_an_address_that_does_not_answer_fails_fast():
    with pytest.raises(ValueError, match="ray_address must be HOST:PORT"):
        cluster.check_address("nowhere", timeout_s=1)
    with pytest.raises(ConnectionError, match="no Ray head answers at ray_address '127.0.0.1:9'"):
        cluster.check_address("127.0.0.1:9", timeout_s=1)


def _ppo_clip_agent():
    try:
        from tfdrive.agents.ppo import ppo_clip_agent
    except ImportError:
        return None
    return ppo_clip_agent


def build_ppo_agent(time_step_spec, action_spec):
    """A small PPOClipAgent for CartPole; the learner and the workers build it alike."""
    import tensorflow as tf

    from tfdrive._keras import keras
    from tfdrive.networks import actor_distribution_network, value_network

    tf.random.set_seed(0)
    actor = actor_distribution_network.ActorDistributionNetwork(
        time_step_spec.observation, action_spec, fc_layer_params=(32,), activation_fn=tf.nn.tanh
    )
    value = value_network.ValueNetwork(
        time_step_spec.observation, fc_layer_params=(32,), activation_fn=tf.nn.tanh
    )
    agent = _ppo_clip_agent().PPOClipAgent(
        time_step_spec,
        action_spec,
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        actor_net=actor,
        value_net=value,
        num_epochs=4,
        use_gae=True,
        train_step_counter=tf.Variable(0, dtype=tf.int64),
    )
    agent.initialize()
    return agent


def test_ppo_trains_through_the_distributed_collector():
    if _ppo_clip_agent() is None:
        pytest.skip("tfdrive.agents.ppo.ppo_clip_agent is not there yet")
    import tensorflow as tf

    from tfdrive.specs import tensor_spec

    env_factory = factories.NativeEnvFactory("CartPole-v1", 8)
    env = env_factory(0)
    agent = build_ppo_agent(
        tensor_spec.from_spec(env.time_step_spec()), tensor_spec.from_spec(env.action_spec())
    )
    policy_factory = factories.AgentCollectPolicy(build_ppo_agent)
    with DistributedCollector(
        env_factory, policy_factory, 2, 2 * 8 * 64, data_spec=agent.collect_data_spec
    ) as collector:
        means = []
        for _ in range(8):
            round_ = collector.collect(weights=agent.collect_policy)
            for batch in round_.batches:
                agent.train(tf.nest.map_structure(tf.convert_to_tensor, batch.trajectory))
            if round_.num_episodes:
                means.append(float(round_.episode_returns.mean()))
    assert np.mean(means[-3:]) > 1.5 * np.mean(means[:2]), means


@dataclasses.dataclass(frozen=True)
class SavedPolicyFactory:
    """Every worker loads the policy saved at `path`."""

    path: str

    def __call__(self, env):
        return self.path


def test_a_saved_policy_collects_and_takes_published_weights(tmp_path):
    from tfdrive.policies import policy_saver

    env = cartpole(0)
    policy = factories.PPOPolicyFactory(hidden=(8,))(env)
    policy_saver.PolicySaver(policy, batch_size=None).save(str(tmp_path / "policy"))
    with DistributedCollector(
        cartpole, SavedPolicyFactory(str(tmp_path / "policy")), 1, 100
    ) as collector:
        assert collector.collect().batches[0].num_steps >= 100
        collector.publish(_biased(policy, 1))
        batch = collector.collect().batches[0]
        assert batch.policy_version == 1 and (batch.trajectory.action == 1).all()


@pytest.mark.parametrize("agent_name", ["ppo", "dqn"])
def test_train_learners_collect_on_workers(agent_name):
    if agent_name == "ppo" and _ppo_clip_agent() is None:
        pytest.skip("tfdrive.agents.ppo.ppo_clip_agent is not there yet")
    recipes = pytest.importorskip("tfdrive.train.recipes")
    import tensorflow as tf

    from tfdrive.distributed import learners
    from tfdrive.specs import tensor_spec

    recipe = (
        dataclasses.replace(
            recipes.default_recipe(agent_name, "CartPole-v1"), num_envs=4, num_epochs=1
        )
        if agent_name == "ppo"
        else dataclasses.replace(
            recipes.default_recipe(agent_name, "CartPole-v1"), num_envs=4, learning_starts=100
        )
    )
    env = native.make("CartPole-v1", recipe.num_envs)
    agent = recipes.build_agent(
        recipe,
        tensor_spec.from_spec(env.time_step_spec()),
        tensor_spec.from_spec(env.action_spec()),
        tf.Variable(0, dtype=tf.int64),
    )
    learner = learners.make_learner(
        agent, recipe, "CartPole-v1", num_workers=2, timeout_s=90, num_cpus_per_worker=0.5
    )
    try:
        results = [learner.round() for _ in range(3)]
    finally:
        learner.close()
    assert all(r.env_steps >= recipe.num_envs for r in results)
    assert sum(r.train_steps for r in results) > 0
    assert int(agent.train_step_counter.numpy()) > 0
    assert learner.collector.version >= 2


def test_asynchronous_collection_survives_a_dying_worker(tmp_path):
    env_factory = FaultyEnvFactory(str(tmp_path / "died"), fail_at=30)
    with DistributedCollector(env_factory, RandomPolicyFactory(), 2, 400) as collector:
        collector.start()
        # Ray notices a dead process in about 2 s; worker 1 keeps delivering meanwhile.
        batches, deadline = [collector.next()], time.monotonic() + 60
        while time.monotonic() < deadline and {b.worker_index for b in batches} != {0, 1}:
            batches.append(collector.next())
        collector.stop()
        assert collector.restarts == [1, 0]
        assert all(b.num_steps >= 200 for b in batches)
        assert {b.worker_index for b in batches} == {0, 1}
        assert [b.restarts for b in batches if b.worker_index == 0][0] == 1
        assert collector.collect().num_steps >= 400


def gymnasium_cartpole(worker_index):
    from tfdrive.environments import suite_gymnasium

    env = suite_gymnasium.load("CartPole-v1")
    env.seed(worker_index)
    return env


def unbatched_random_policy(env):
    return RandomPyPolicy(env.time_step_spec(), env.action_spec(), seed=1)


def test_an_unbatched_gymnasium_env_gives_one_row_batches():
    pytest.importorskip("gymnasium")
    worker = local_workers(gymnasium_cartpole, unbatched_random_policy, 1, 100)[0]
    for _ in range(2):
        batch = worker.collect()
        rows, steps = batch.shape
        assert rows == 1 and steps >= 100 and batch.num_steps == 100
        assert batch.trajectory.observation.shape == (1, steps, 4)
        np.testing.assert_array_equal(batch.episode_returns, batch.episode_lengths)
        assert len(batch.episode_returns) == batch.num_episodes


def test_tfdrive_train_with_workers(tmp_path, capsys, monkeypatch):
    """`tfdrive train --workers 2` collects on Ray actors (the local instance this module started)."""
    import json

    from tfdrive import cli
    from tfdrive.distributed import learners

    # This module's 2-CPU instance may still hold other tests' actors: these
    # two ask for no CPU so that Ray schedules them anyway.
    make_learner = learners.make_learner
    monkeypatch.setattr(
        learners,
        "make_learner",
        lambda *args, **kwargs: make_learner(*args, **{**kwargs, "num_cpus_per_worker": 0}),
    )

    args = ["train", "--agent", "ppo", "--steps", "4000", "--eval-every", "4000", "--workers", "2"]
    args += ["--eval-episodes", "3", "--out", str(tmp_path / "run"), "--quiet", "--json"]
    assert cli.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env_steps"] >= 4000 and len(result["history"]) >= 2

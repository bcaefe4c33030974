"""tfdrive.train: the train loop learns, writes its outputs, resumes, and rejects bad input."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfdrive.train import evaluation, loop, recipes  # noqa: E402

# A DQN small enough to learn CartPole visibly in a few thousand steps.
SMALL_DQN = dataclasses.replace(
    recipes.default_recipe("dqn", "CartPole-v1"),
    q_layers=(64, 64),
    learning_rate=1e-3,
    learning_starts=500,
    epsilon_decay_steps=1000,
)


@pytest.fixture(scope="module")
def dqn_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("train") / "dqn")
    result = loop.train(
        "dqn",
        "CartPole-v1",
        steps=6000,
        eval_every=2000,
        eval_episodes=20,
        recipe=SMALL_DQN,
        out=out,
        seed=0,
        stop_when_solved=False,
    )
    return result


def test_dqn_learns_cartpole_in_seconds(dqn_run):
    returns = [p.mean_return for p in dqn_run.history]
    # Random play lasts about 20 steps; a fixed seed and a wide margin.
    assert returns[0] < 30
    assert max(returns[1:]) > 2.5 * returns[0]
    assert dqn_run.env_steps >= 6000 and dqn_run.train_steps > 1000
    assert [p.env_steps for p in dqn_run.history] == sorted(p.env_steps for p in dqn_run.history)


def test_ppo_learns_cartpole_in_seconds(tmp_path):
    # Few epochs keep the train graph (traced once) small; a fixed seed and a wide margin.
    recipe = dataclasses.replace(
        recipes.default_recipe("ppo", "CartPole-v1"), num_envs=16, collect_steps=64, num_epochs=4
    )
    result = loop.train(
        "ppo",
        "CartPole-v1",
        steps=16_384,
        eval_every=8192,
        eval_episodes=20,
        recipe=recipe,
        out=str(tmp_path / "ppo"),
        stop_when_solved=False,
    )
    returns = [p.mean_return for p in result.history]
    assert len(returns) == 3
    assert returns[-1] > 2.5 * returns[0]
    assert result.train_steps == 16 * 4  # rounds x epochs


def test_outputs_are_written(dqn_run):
    paths = dqn_run.paths
    events = os.listdir(paths["tensorboard"])
    assert any(name.startswith("events.out.tfevents") for name in events)
    with open(paths["learning_curve"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert tf.train.latest_checkpoint(paths["checkpoint"]) is not None
    with open(paths["result"]) as f:
        summary = json.load(f)
    assert summary["agent"] == "dqn" and summary["env_steps"] == dqn_run.env_steps
    assert summary["final_return"] == dqn_run.final_return
    with open(paths["history"]) as f:
        assert len(json.load(f)) == len(dqn_run.history)


def test_tensorboard_holds_eval_and_train_scalars(dqn_run):
    tags = set()
    for name in os.listdir(dqn_run.paths["tensorboard"]):
        for event in tf.compat.v1.train.summary_iterator(
            os.path.join(dqn_run.paths["tensorboard"], name)
        ):
            tags.update(value.tag for value in event.summary.value)
    assert {"eval/mean_return", "train/loss", "train/env_steps_per_s"} <= tags


def test_saved_policy_loads_and_acts(dqn_run):
    import tensorflow_probability as tfp

    from tfdrive.environments import native
    from tfdrive.policies import py_tf_eager_policy

    tfp.distributions.Distribution  # noqa: B018  (registers the specs the model holds)
    policy = py_tf_eager_policy.SavedModelPyTFEagerPolicy(
        dqn_run.paths["policy"], load_specs_from_pbtxt=True, batch_time_steps=False
    )
    env = native.make("CartPole-v1", 5, seed=3)
    action = policy.action(env.reset()).action
    assert action.shape == (5,) and set(np.unique(action)) <= {0, 1}
    # The saved policy is the trained one, not the initial one.
    returns = evaluation.evaluate(policy, native.make("CartPole-v1", 20, seed=7))
    assert returns.mean() > 2 * dqn_run.history[0].mean_return


def test_rerun_with_the_same_out_resumes(dqn_run, tmp_path):
    import shutil

    out = str(tmp_path / "resumed")
    shutil.copytree(dqn_run.out, out)
    result = loop.train(
        "dqn",
        "CartPole-v1",
        steps=7000,
        eval_every=2000,
        eval_episodes=20,
        recipe=SMALL_DQN,
        out=out,
        stop_when_solved=False,
    )
    assert result.resumed
    assert result.history[: len(dqn_run.history)] == dqn_run.history
    assert dqn_run.env_steps < result.env_steps < dqn_run.env_steps + 1100
    assert result.train_steps > dqn_run.train_steps
    assert result.seconds > dqn_run.seconds


def test_evaluation_counts_one_whole_episode_per_env():
    from tfdrive.environments import native
    from tfdrive.policies import random_py_policy

    env = native.make("Pendulum-v1", 6, seed=0)
    policy = random_py_policy.RandomPyPolicy(
        env.time_step_spec(), env.action_spec(), seed=0, outer_dims=(6,)
    )
    returns = evaluation.evaluate(policy, env)
    assert returns.shape == (6,) and np.all(returns < 0)  # 200 steps of costs each


def test_trains_on_gymnasium_envs(tmp_path):
    pytest.importorskip("gymnasium")
    result = loop.train(
        "dqn",
        "CartPole-v1",
        backend="gymnasium",
        num_envs=2,
        steps=300,
        eval_episodes=2,
        recipe=dataclasses.replace(SMALL_DQN, learning_starts=100, batch_size=16),
        out=str(tmp_path / "gym"),
    )
    assert result.backend == "gymnasium" and result.num_envs == 2
    assert result.env_steps >= 300 and result.train_steps > 0
    assert all(p.mean_return > 0 for p in result.history)


def test_train_envs_clip_continuous_actions_to_the_bounds():
    from tfdrive.train import environments

    env = environments.make("Pendulum-v1", 2, clip_actions=True)
    env.reset()
    time_step = env.step(np.array([[5.0], [-5.0]], np.float32))  # native envs reject these
    assert time_step.reward.shape == (2,)
    discrete = environments.make("CartPole-v1", 2, clip_actions=True)
    assert type(discrete).__name__ == "NativeEnvironment"  # nothing to clip


def test_first_episode_returns_ignore_later_episodes():
    from tfdrive.trajectories import trajectory

    def step(reward, next_step_type):
        return trajectory.Trajectory(
            step_type=np.zeros(2, np.int32),
            observation=np.zeros((2, 1), np.float32),
            action=np.zeros(2, np.int64),
            policy_info=(),
            next_step_type=np.array(next_step_type, np.int32),
            reward=np.array(reward, np.float32),
            discount=np.ones(2, np.float32),
        )

    returns = evaluation.FirstEpisodeReturns(2)
    returns(step([1.0, 2.0], [1, 2]))  # env 1 ends its first episode
    assert not returns.done
    returns(step([3.0, 5.0], [2, 2]))  # env 0 ends; env 1's second step is not counted
    assert returns.done and returns.returns.tolist() == [4.0, 2.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"agent": "sac"}, "unknown agent 'sac'; expected one of: ppo, dqn"),
        ({"agent": "dqn", "env": "Pendulum-v1"}, "dqn needs a discrete action space"),
        ({"env": "NoSuchEnv-v0"}, "'NoSuchEnv-v0' is not a native environment"),
        ({"backend": "gpu"}, "unknown backend 'gpu'"),
        ({"steps": 0}, "steps must be a positive integer, got 0"),
        ({"eval_episodes": 0}, "eval_episodes must be a positive integer, got 0"),
    ],
)
def test_bad_input_is_a_clear_value_error(tmp_path, kwargs, message):
    kwargs = {"agent": "dqn", "env": "CartPole-v1", "steps": 100, **kwargs}
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        loop.train(out=str(tmp_path / "run"), **kwargs)


def test_an_out_dir_of_another_run_is_refused(dqn_run):
    with pytest.raises(ValueError, match="holds a dqn run on CartPole-v1"):
        loop.train("dqn", "Acrobot-v1", steps=100, out=dqn_run.out)


def test_recipes_cover_both_agents():
    assert recipes.default_recipe("ppo", "CartPole-v1").agent == "ppo"
    assert recipes.default_recipe("dqn", "Acrobot-v1") == recipes.DQNRecipe()
    assert recipes.default_recipe("ppo", "Pendulum-v1").default_steps == 2_000_000
    assert loop.solved_return("CartPole-v1") == 475.0


def test_a_nan_loss_stops_training_with_a_clear_error():
    import types

    from tfdrive.train import learners

    learner = learners.OnPolicyLearner.__new__(learners.OnPolicyLearner)
    learner.recipe = recipes.PPORecipe()
    learner.agent = types.SimpleNamespace(train_step_counter=tf.Variable(7, dtype=tf.int64))
    # As after the first call: the traced train step, here one returning a NaN loss.
    learner._train_graph = lambda experience, weights: types.SimpleNamespace(
        loss=tf.constant(float("nan"))
    )
    message = "the ppo loss became nan at train step 7; lower the learning rate"
    with pytest.raises(FloatingPointError, match=message):
        learner._train_on({"x": np.zeros(2, np.float32)})


def test_learning_rate_decays_linearly_over_the_run():
    recipe = dataclasses.replace(
        recipes.PPORecipe(num_envs=4, collect_steps=5, num_epochs=3), final_learning_rate=1e-4
    )
    # 95 env steps -> 5 rounds of 20 (the last one overshoots) -> 15 gradient steps.
    schedule = recipes.learning_rate_for(recipe, total_env_steps=95)
    got = [float(schedule(step)) for step in (0, 5, 15, 30)]
    np.testing.assert_allclose(got, [1e-3, 1e-3 - 9e-4 / 3, 1e-4, 1e-4], rtol=1e-6)
    # No decay without a final rate or without the run's length.
    assert recipes.learning_rate_for(recipes.PPORecipe(), 95) == 1e-3
    assert recipes.learning_rate_for(recipe, None) == 1e-3
    assert recipes.learning_rate_for(recipes.DQNRecipe(), 95) == 5e-4


def test_the_agent_steps_its_learning_rate_down_per_gradient_step():
    from tfdrive.specs import tensor_spec
    from tfdrive.train import environments

    recipe = dataclasses.replace(
        recipes.PPORecipe(num_envs=2, collect_steps=4, num_epochs=2), final_learning_rate=0.0
    )
    env = environments.make("CartPole-v1", 2)
    agent = recipes.build_agent(
        recipe,
        tensor_spec.from_spec(env.time_step_spec()),
        tensor_spec.from_spec(env.action_spec()),
        tf.Variable(0, dtype=tf.int64),
        total_env_steps=16,  # 2 rounds -> 4 gradient steps
    )
    config = agent._optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "PolynomialDecay"
    assert {k: config["config"][k] for k in ("initial_learning_rate", "decay_steps", "power")} == {
        "initial_learning_rate": 1e-3,
        "decay_steps": 4,
        "power": 1.0,
    }
    assert config["config"]["end_learning_rate"] == 0.0

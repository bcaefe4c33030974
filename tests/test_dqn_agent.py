"""DqnAgent end to end: experience from tfdrive's native CartPole, then training.

Covers what TF-Agents' DQN suite does not: experience collected by a real
(vectorized) environment, converted to `[B, 2]` trajectories, and a few
hundred train steps whose loss on a fixed batch stays finite and falls.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfdrive._keras import keras  # noqa: E402
from tfdrive.agents.dqn import dqn_agent  # noqa: E402
from tfdrive.environments import native  # noqa: E402
from tfdrive.networks import q_network  # noqa: E402
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.trajectories import trajectory  # noqa: E402


def _cartpole_windows(num_envs=8, num_steps=40, seed=0):
    """`[N, 2]` trajectories of consecutive steps under uniformly random actions."""
    env = native.make("CartPole-v1", num_envs, seed=seed)
    rng = np.random.default_rng(seed)
    time_step = env.reset()
    frames = []
    for _ in range(num_steps):
        action = rng.integers(0, 2, size=num_envs).astype(env.action_spec().dtype)
        next_time_step = env.step(action)
        frames.append(
            trajectory.Trajectory(
                step_type=time_step.step_type,
                observation=time_step.observation,
                action=action,
                policy_info=(),
                next_step_type=next_time_step.step_type,
                reward=next_time_step.reward,
                discount=next_time_step.discount,
            )
        )
        time_step = next_time_step
    # [B, T] per field, then every (t, t + 1) window of every env.
    sequence = trajectory.Trajectory(
        *[() if isinstance(f[0], tuple) else np.stack(f, axis=1) for f in zip(*frames)]
    )
    windows = [
        tf.nest.map_structure(lambda x, t=t: x[:, t : t + 2], sequence)
        for t in range(num_steps - 1)
    ]
    batch = tf.nest.map_structure(lambda *xs: np.concatenate(xs, axis=0), *windows)
    return env, tf.nest.map_structure(tf.convert_to_tensor, batch)


def test_dqn_trains_on_native_cartpole():
    tf.random.set_seed(0)
    env, experience = _cartpole_windows()
    observation_spec = tensor_spec.from_spec(env.observation_spec())
    action_spec = tensor_spec.from_spec(env.action_spec())
    net = q_network.QNetwork(observation_spec, action_spec, fc_layer_params=(32,))
    agent = dqn_agent.DqnAgent(
        ts.time_step_spec(observation_spec),
        action_spec,
        q_network=net,
        optimizer=keras.optimizers.Adam(learning_rate=1e-2),
        gamma=0.9,
        # A fixed target: training on a fixed batch is then plain regression.
        target_update_period=10_000,
        train_step_counter=tf.Variable(0, dtype=tf.int64),
    )
    agent.initialize()
    assert agent.train_sequence_length == 2

    initial = float(agent.loss(experience).loss)
    losses = [float(agent.train(experience).loss) for _ in range(300)]
    final = float(agent.loss(experience).loss)

    assert np.all(np.isfinite(losses))
    assert int(agent.train_step_counter) == 300
    assert final < 0.5 * initial
    assert np.mean(losses[-20:]) < np.mean(losses[:20])

    # The greedy policy acts on the environment's time steps.
    time_step = tf.nest.map_structure(tf.convert_to_tensor, env.reset())
    action = agent.policy.action(time_step).action
    assert action.shape == (8,)
    assert set(np.unique(action.numpy())) <= {0, 1}

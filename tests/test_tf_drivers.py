"""TF drivers with TF observers (metrics, a TFUniformReplayBuffer), in and out of tf.function.

`CountingTFEnv`: two envs counting in a variable; each step adds the action
(always 1 here) to the state; the step reaching 3 is LAST, the next one
restarts at 0 (a boundary, not a step). Episodes: FIRST(0), MID(1), MID(2),
LAST(3): three steps and one boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from driver_mocks import CountingEnv
from tfdrive.drivers import dynamic_episode_driver, dynamic_step_driver, tf_driver
from tfdrive.metrics import tf_metrics
from tfdrive.policies import fixed_policy
from tfdrive.replay_buffers import tf_uniform_replay_buffer
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import time_step as ts

BATCH = 2


class CountingTFEnv:
    """A minimal batched TF environment (the structure TF drivers use)."""

    def __init__(self):
        self._state = tf.Variable(tf.zeros([BATCH], tf.int32))
        self._step_type = tf.Variable(tf.fill([BATCH], ts.StepType.FIRST))
        self.batch_size = BATCH
        self.batched = True

    def observation_spec(self):
        return tensor_spec.TensorSpec((), tf.int32, "observation")

    def action_spec(self):
        return tensor_spec.BoundedTensorSpec((), tf.int32, 1, 2, "action")

    def time_step_spec(self):
        return ts.time_step_spec(self.observation_spec())

    def _time_step(self):
        last = tf.equal(self._step_type, ts.StepType.LAST)
        first = tf.equal(self._step_type, ts.StepType.FIRST)
        return ts.TimeStep(
            step_type=tf.identity(self._step_type),
            reward=tf.where(first, 0.0, 1.0),
            discount=tf.where(last, 0.0, 1.0),
            observation=tf.identity(self._state),
        )

    def current_time_step(self):
        return self._time_step()

    def reset(self):
        self._state.assign(tf.zeros([BATCH], tf.int32))
        self._step_type.assign(tf.fill([BATCH], ts.StepType.FIRST))
        return self._time_step()

    def step(self, action):
        was_last = tf.equal(self._step_type, ts.StepType.LAST)
        state = tf.where(was_last, 0, self._state + action)
        self._state.assign(state)
        step_type = tf.where(
            was_last,
            ts.StepType.FIRST,
            tf.where(state >= 3, ts.StepType.LAST, ts.StepType.MID),
        )
        self._step_type.assign(step_type)
        return self._time_step()


def setup():
    env = CountingTFEnv()
    policy = fixed_policy.FixedPolicy(np.int32(1), env.time_step_spec(), env.action_spec())
    metrics = [
        tf_metrics.EnvironmentSteps(),
        tf_metrics.NumberOfEpisodes(),
        tf_metrics.AverageReturnMetric(batch_size=BATCH),
        tf_metrics.AverageEpisodeLengthMetric(batch_size=BATCH),
    ]
    buffer = tf_uniform_replay_buffer.TFUniformReplayBuffer(
        policy.trajectory_spec, batch_size=BATCH, max_length=20
    )
    return env, policy, metrics, buffer


@pytest.mark.parametrize("in_function", [False, True])
def test_dynamic_step_driver_feeds_tf_observers(in_function):
    env, policy, metrics, buffer = setup()
    driver = dynamic_step_driver.DynamicStepDriver(
        env, policy, observers=metrics + [buffer.add_batch], num_steps=6
    )
    run = tf.function(driver.run) if in_function else driver.run
    env.reset()
    time_step, _ = run()
    # 6 steps over 2 envs: each env runs one 3-step episode (FIRST, MID, MID -> LAST).
    assert [int(m.result()) for m in metrics[:2]] == [6, 2]
    assert float(metrics[2].result()) == 3.0 and float(metrics[3].result()) == 3.0
    np.testing.assert_array_equal(time_step.step_type, [ts.StepType.LAST] * BATCH)
    np.testing.assert_array_equal(buffer.gather_all().observation, [[0, 1, 2]] * BATCH)


@pytest.mark.parametrize("in_function", [False, True])
def test_episode_driver_and_tf_driver_count_episodes(in_function):
    env, policy, metrics, _ = setup()
    driver = dynamic_episode_driver.DynamicEpisodeDriver(env, policy, metrics, num_episodes=4)
    run = tf.function(driver.run) if in_function else driver.run
    run()
    # An episode counts at its boundary: two per env take 8 iterations, 6 steps each.
    assert [int(m.result()) for m in metrics[:2]] == [12, 4]
    env, policy, metrics, _ = setup()
    driver = tf_driver.TFDriver(
        env, policy, metrics, max_steps=4, disable_tf_function=not in_function
    )
    driver.run(env.reset(), ())
    assert int(metrics[0].result()) == 4


def test_a_python_environment_is_rejected_naming_it():
    _, policy, _, _ = setup()
    for make in (
        lambda env: dynamic_step_driver.DynamicStepDriver(env, policy),
        lambda env: dynamic_episode_driver.DynamicEpisodeDriver(env, policy),
        lambda env: tf_driver.TFDriver(env, policy, [], max_steps=1),
    ):
        with pytest.raises(ValueError, match="needs a TF environment.*CountingEnv"):
            make(CountingEnv())

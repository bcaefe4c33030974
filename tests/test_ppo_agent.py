"""PPO agents beyond TF-Agents' suite: learning, bad experience, exact loss values.

* A two-armed contextual bandit: PPOClipAgent must learn to prefer the arm
  that pays within a few dozen train calls.
* Experience that does not match the agent's data spec fails with an error
  naming the field; `check_numerics` stops a NaN loss by name.
* Returns, GAE advantages and the clipped surrogate and value losses on
  hand-built batches, against NumPy references.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
tfp = pytest.importorskip("tensorflow_probability")

from tfdrive._keras import keras  # noqa: E402
from tfdrive.agents.ppo import ppo_agent  # noqa: E402
from tfdrive.agents.ppo.ppo_clip_agent import PPOClipAgent  # noqa: E402
from tfdrive.agents.ppo.ppo_kl_penalty_agent import PPOKLPenaltyAgent  # noqa: E402
from tfdrive.networks import actor_distribution_network, value_network  # noqa: E402
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.trajectories import trajectory  # noqa: E402
from tfdrive.utils import common  # noqa: E402

OBS = tensor_spec.TensorSpec([2], tf.float32)
ARMS = tensor_spec.BoundedTensorSpec([], tf.int32, 0, 1)
TS_SPEC = ts.time_step_spec(OBS)


def _agent(agent_class=PPOClipAgent, **kwargs):
    actor = actor_distribution_network.ActorDistributionNetwork(OBS, ARMS, fc_layer_params=(8,))
    value = value_network.ValueNetwork(OBS, fc_layer_params=(8,))
    kwargs.setdefault("optimizer", keras.optimizers.Adam(learning_rate=1e-2))
    kwargs.setdefault("train_step_counter", tf.Variable(0, dtype=tf.int64))
    return agent_class(TS_SPEC, ARMS, actor_net=actor, value_net=value, **kwargs)


def _bandit_experience(agent, batch_size=32):
    """`[B, 2]` one-step episodes: FIRST -> LAST pays 1 for arm 1, then a boundary step."""
    observation = tf.random.normal([batch_size, 2])
    first = ts.restart(observation, batch_size=batch_size)
    action_step = agent.collect_policy.action(first)
    reward = tf.cast(tf.equal(action_step.action, 1), tf.float32)

    def two_steps(at_first, at_boundary):
        return tf.stack([at_first, at_boundary], axis=1)

    ones = tf.ones([batch_size], tf.float32)
    step_type = tf.fill([batch_size], ts.StepType.FIRST)
    last = tf.fill([batch_size], ts.StepType.LAST)
    return trajectory.Trajectory(
        step_type=two_steps(step_type, last),
        observation=two_steps(observation, observation),
        action=two_steps(action_step.action, action_step.action),
        policy_info=tf.nest.map_structure(two_steps, action_step.info, action_step.info),
        next_step_type=two_steps(last, step_type),
        reward=two_steps(reward, tf.zeros_like(reward)),
        discount=two_steps(tf.zeros_like(ones), ones),
    )


def _probability_of_arm_1(agent):
    observation = tf.random.normal([256, 2])
    distribution = agent.collect_policy.distribution(ts.restart(observation, 256)).action
    return float(tf.reduce_mean(distribution.probs_parameter()[:, 1]))


def test_ppo_clip_agent_learns_the_paying_arm():
    tf.random.set_seed(7)
    agent = _agent(importance_ratio_clipping=0.2, num_epochs=4, normalize_observations=False)
    train = common.function(agent.train)
    before = _probability_of_arm_1(agent)
    for _ in range(30):
        loss_info = train(_bandit_experience(agent))
        assert np.isfinite(loss_info.loss.numpy())
    after = _probability_of_arm_1(agent)
    assert after > max(before + 0.3, 0.85), (before, after)
    assert int(agent.train_step_counter.numpy()) == 30 * 4


def test_ppo_kl_penalty_agent_learns_and_adapts_beta():
    tf.random.set_seed(3)
    agent = _agent(
        PPOKLPenaltyAgent,
        num_epochs=4,
        initial_adaptive_kl_beta=1.0,
        adaptive_kl_target=0.01,
        adaptive_kl_tolerance=0.3,
    )
    train = common.function(agent.train)
    before = _probability_of_arm_1(agent)
    for _ in range(30):
        train(_bandit_experience(agent))
    assert _probability_of_arm_1(agent) > before + 0.2
    assert float(agent._adaptive_kl_beta.numpy()) != 1.0


def test_kl_penalty_agent_requires_a_cutoff_factor_with_a_cutoff_coef():
    with pytest.raises(ValueError, match="kl_cutoff_factor"):
        _agent(
            PPOKLPenaltyAgent,
            num_epochs=1,
            initial_adaptive_kl_beta=1.0,
            adaptive_kl_target=0.01,
            adaptive_kl_tolerance=0.3,
            kl_cutoff_coef=10.0,
        )


# Bad experience.


@pytest.fixture(scope="module")
def agent_and_experience():
    tf.random.set_seed(0)
    agent = _agent(num_epochs=1)
    return agent, _bandit_experience(agent, batch_size=4)


def test_missing_policy_info_field_is_named(agent_and_experience):
    agent, experience = agent_and_experience
    with pytest.raises(ValueError, match=r"experience\.policy_info.*'dist_params'"):
        agent.train(experience._replace(policy_info={}))


def test_wrong_structure_is_named(agent_and_experience):
    agent, experience = agent_and_experience
    observation = (experience.observation, experience.observation)
    with pytest.raises(ValueError, match=r"experience\.observation"):
        agent.train(experience._replace(observation=observation))


def test_wrong_dtype_is_named(agent_and_experience):
    agent, experience = agent_and_experience
    with pytest.raises(TypeError, match=r"experience\.reward.*float64.*float32"):
        agent.train(experience._replace(reward=tf.cast(experience.reward, tf.float64)))


def test_missing_time_dim_is_named_not_broadcast(agent_and_experience):
    agent, experience = agent_and_experience
    with pytest.raises(ValueError, match=r"experience\.reward"):
        agent.train(experience._replace(reward=experience.reward[:, 0]))


def test_mismatched_outer_dims_are_named(agent_and_experience):
    agent, experience = agent_and_experience
    with pytest.raises(ValueError, match=r"experience\.discount.*outer dims"):
        agent.train(experience._replace(discount=tf.ones([4, 3])))


def test_wrong_inner_shape_is_named(agent_and_experience):
    agent, experience = agent_and_experience
    info = {"dist_params": {"logits": tf.zeros([4, 2, 3])}}
    with pytest.raises(ValueError, match=r"experience\.policy_info\.dist_params\.logits"):
        agent.train(experience._replace(policy_info=info))


def test_nan_loss_with_check_numerics_names_the_loss():
    tf.random.set_seed(0)
    agent = _agent(num_epochs=1, check_numerics=True, normalize_rewards=False)
    experience = _bandit_experience(agent, batch_size=4)
    reward = tf.fill(experience.reward.shape, np.nan)
    with pytest.raises(tf.errors.InvalidArgumentError, match="value_estimation_loss"):
        agent.train(experience._replace(reward=reward))


def test_train_without_optimizer_raises(agent_and_experience):
    _, experience = agent_and_experience
    agent = _agent(optimizer=None, num_epochs=1)
    with pytest.raises(ValueError, match="Optimizer is undefined"):
        agent.train(experience)


# Exact values.


def _plain_agent(**kwargs):
    """No normalization: losses depend only on the given tensors and weights."""
    kwargs.setdefault("normalize_observations", False)
    kwargs.setdefault("normalize_rewards", False)
    return _agent(ppo_agent.PPOAgent, **kwargs)


def _numpy_returns(rewards, discounts, final_value):
    returns = np.zeros_like(rewards)
    next_return = final_value
    for t in reversed(range(rewards.shape[1])):
        next_return = rewards[:, t] + discounts[:, t] * next_return
        returns[:, t] = next_return
    return returns


def _numpy_gae(rewards, discounts, values, td_lambda):
    """GAE with the value of the last step as the bootstrap (as TF-Agents)."""
    next_values = np.concatenate([values[:, 1:], values[:, -1:]], axis=1)
    deltas = rewards + discounts * next_values - values
    advantages = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[0], np.float32)
    for t in reversed(range(rewards.shape[1])):
        running = deltas[:, t] + discounts[:, t] * td_lambda * running
        advantages[:, t] = running
    return advantages


@pytest.mark.parametrize("use_gae", [False, True])
def test_returns_and_advantages_match_numpy(use_gae):
    agent = _plain_agent(use_gae=use_gae, lambda_value=0.9, discount_factor=0.5)
    rewards = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 1.0, 3.0]], np.float32)
    discounts = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
    step_types = np.array([[1, 2, 0, 1], [1, 1, 1, 1]], np.int32)
    values = np.array([[0.5, 1.0, 2.0, -1.0, 4.0], [1.0, 1.0, 1.0, 1.0, 2.0]], np.float32)
    next_time_steps = ts.TimeStep(
        step_type=tf.constant(step_types),
        reward=tf.constant(rewards),
        discount=tf.constant(discounts),
        observation=tf.zeros([2, 4, 2]),
    )
    returns, advantages = agent.compute_return_and_advantage(next_time_steps, tf.constant(values))
    # Discounts are zeroed at LAST steps, then scaled by the discount factor.
    effective = 0.5 * discounts * (step_types != 2)
    expected_returns = _numpy_returns(rewards, effective, values[:, -1])
    np.testing.assert_allclose(returns.numpy(), expected_returns, rtol=1e-6)
    if use_gae:
        expected = _numpy_gae(rewards, effective, values[:, :-1], 0.9)
    else:
        expected = expected_returns - values[:, :-1]
    np.testing.assert_allclose(advantages.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clipping", [0.0, 0.2])
def test_policy_gradient_loss_matches_numpy(clipping):
    agent = _plain_agent(importance_ratio_clipping=clipping)
    logits = np.array([[0.0, 1.0], [2.0, -1.0], [0.5, 0.5], [-1.0, 3.0]], np.float32)
    actions = np.array([1, 0, 1, 0], np.int32)
    sample_log_probs = np.array([-0.2, -0.5, -0.9, -3.0], np.float32)
    advantages = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    weights = np.array([1.0, 1.0, 0.0, 1.0], np.float32)
    loss = agent.policy_gradient_loss(
        ts.restart(tf.zeros([4, 2]), batch_size=4),
        tf.constant(actions),
        tf.constant(sample_log_probs),
        tf.constant(advantages),
        tfp.distributions.Categorical(logits=tf.constant(logits)),
        tf.constant(weights),
    )
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    ratio = np.exp(log_probs[np.arange(4), actions] - sample_log_probs)
    objective = ratio * advantages
    if clipping:
        objective = np.minimum(objective, np.clip(ratio, 1 - clipping, 1 + clipping) * advantages)
    np.testing.assert_allclose(loss.numpy(), np.mean(-objective * weights), rtol=1e-5)


@pytest.mark.parametrize("value_clipping", [None, 0.5])
def test_value_estimation_loss_matches_numpy(value_clipping):
    agent = _plain_agent(value_pred_loss_coef=0.25, value_clipping=value_clipping)
    # The value network is dense 8 (relu) -> 1: set its weights by hand.
    kernel_1 = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)
    bias_1 = np.linspace(0, 0.7, 8, dtype=np.float32)
    kernel_2 = np.linspace(1, -0.5, 8, dtype=np.float32).reshape(8, 1)
    bias_2 = np.array([0.3], np.float32)
    agent._value_net.set_weights([kernel_1, bias_1, kernel_2, bias_2])
    observations = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, 0.0]], np.float32)
    returns = np.array([1.0, -2.0, 4.0], np.float32)
    old_values = np.array([0.0, 0.5, 1.0], np.float32)
    weights = np.array([1.0, 0.5, 1.0], np.float32)
    loss = agent.value_estimation_loss(
        ts.restart(tf.constant(observations), batch_size=3),
        tf.constant(returns),
        tf.constant(weights),
        old_value_predictions=tf.constant(old_values),
    )
    values = (np.maximum(observations @ kernel_1 + bias_1, 0) @ kernel_2 + bias_2)[:, 0]
    error = (returns - values) ** 2
    if value_clipping:
        clipped = old_values + np.clip(values - old_values, -value_clipping, value_clipping)
        error = np.maximum(error, (returns - clipped) ** 2)
    np.testing.assert_allclose(loss.numpy(), 0.25 * np.mean(error * weights), rtol=1e-5)


def test_adaptive_kl_beta_moves_by_a_factor_of_1_5():
    agent = _plain_agent(
        initial_adaptive_kl_beta=2.0, adaptive_kl_target=0.1, adaptive_kl_tolerance=0.5
    )
    assert agent.update_adaptive_kl_beta(tf.constant([0.1])).numpy() == pytest.approx(2.0)
    assert agent.update_adaptive_kl_beta(tf.constant([0.2])).numpy() == pytest.approx(3.0)
    assert agent.update_adaptive_kl_beta(tf.constant([0.01])).numpy() == pytest.approx(2.0)
    # The cutoff penalty: coef * (mean KL - factor * target)^2 above the cutoff.
    agent = _plain_agent(kl_cutoff_factor=2.0, kl_cutoff_coef=10.0, adaptive_kl_target=0.1)
    loss = agent.kl_cutoff_loss(tf.constant([0.1, 0.5]))
    assert loss.numpy() == pytest.approx(10.0 * (0.3 - 0.2) ** 2)


def test_loss_matches_the_first_epoch_of_train_and_updates_nothing():
    tf.random.set_seed(1)
    agent = _agent(importance_ratio_clipping=0.2, num_epochs=3)
    experience = _bandit_experience(agent, batch_size=8)
    weights_before = [w.numpy() for w in agent._actor_net.trainable_weights]
    loss_info = agent.loss(experience)
    assert int(agent.train_step_counter.numpy()) == 0
    for before, after in zip(weights_before, agent._actor_net.trainable_weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    one_epoch = _agent(importance_ratio_clipping=0.2, num_epochs=1)
    for source, target in zip(
        agent._actor_net.variables + agent._value_net.variables,
        one_epoch._actor_net.variables + one_epoch._value_net.variables,
        strict=True,
    ):
        target.assign(source)
    train_info = one_epoch.train(experience)
    np.testing.assert_allclose(loss_info.loss.numpy(), train_info.loss.numpy(), rtol=1e-5)


def test_preprocess_sequence_fills_returns_and_advantages():
    tf.random.set_seed(2)
    agent = _agent(
        num_epochs=1, compute_value_and_advantage_in_train=False, normalize_rewards=False
    )
    assert set(agent.collect_data_spec.policy_info) == {"dist_params", "value_prediction"}
    assert set(agent.training_data_spec.policy_info) == {
        "dist_params",
        "value_prediction",
        "return",
        "advantage",
    }
    experience = _bandit_experience(agent, batch_size=4)
    processed = agent.preprocess_sequence(experience)
    assert processed.policy_info["return"].shape == (4, 2)
    np.testing.assert_array_equal(processed.policy_info["return"][:, 1].numpy(), np.zeros(4))
    np.testing.assert_allclose(
        processed.policy_info["return"][:, 0].numpy(), experience.reward[:, 0].numpy()
    )
    loss_info = agent.train(processed)
    assert np.isfinite(loss_info.loss.numpy())


def test_debug_summaries_are_written(tmp_path):
    tf.random.set_seed(4)
    agent = _agent(
        ppo_agent.PPOAgent,
        num_epochs=2,
        importance_ratio_clipping=0.2,
        debug_summaries=True,
        summarize_grads_and_vars=True,
    )
    experience = _bandit_experience(agent, batch_size=4)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        agent.train(experience)
    writer.flush()
    tags = set()
    for path in tmp_path.iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    expected = {
        "Losses/policy_gradient_loss",
        "Losses/value_estimation_loss",
        "Losses/kl_penalty_loss",
        "Losses/total_abs_loss",
        "LearningRate/learning_rate",
        "epoch_0/clip_fraction",
        "epoch_1/value_estimation_loss",
        "adaptive_kl_beta",
    }
    assert expected <= tags, sorted(tags)
    assert any(tag.endswith("_gradient") for tag in tags), sorted(tags)


def test_weights_apply_per_sequence_or_per_step(agent_and_experience):
    agent, experience = agent_and_experience
    # Zero weights on every sequence: nothing to learn from.
    info = agent.loss(experience, weights=tf.zeros([4]))
    assert info.extra.policy_gradient_loss.numpy() == 0.0
    assert info.extra.value_estimation_loss.numpy() == 0.0
    per_sequence = agent.loss(experience, weights=tf.constant([1.0, 0.0, 2.0, 1.0]))
    per_step = agent.loss(
        experience, weights=tf.constant([[1.0, 1.0], [0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])
    )
    np.testing.assert_allclose(per_sequence.loss.numpy(), per_step.loss.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="`weights`"):
        agent.loss(experience, weights=tf.ones([2]))
    with pytest.raises(ValueError, match="`weights`"):
        agent.loss(experience, weights=tf.ones([4, 3]))


def test_minibatches_of_preprocessed_sequences():
    """Values in collect: preprocess whole sequences once, then train on any window."""
    tf.random.set_seed(5)
    agent = _agent(
        num_epochs=2,
        compute_value_and_advantage_in_train=False,
        update_normalizers_in_train=False,
    )
    processed = agent.preprocess_sequence(_bandit_experience(agent, batch_size=6))
    normalizer_before = [v.numpy() for v in agent._observation_normalizer.variables]
    for window in (np.s_[:3, :], np.s_[3:, :1], np.s_[:, :1]):
        minibatch = tf.nest.map_structure(lambda t, w=window: t[w], processed)
        assert np.isfinite(agent.train(minibatch).loss.numpy())
    assert int(agent.train_step_counter.numpy()) == 6
    # The normalizers move only when asked to.
    for before, after in zip(normalizer_before, agent._observation_normalizer.variables):
        np.testing.assert_array_equal(before, after.numpy())
    agent.update_observation_normalizer(processed.observation)
    agent.update_reward_normalizer(processed.reward)
    assert any(
        not np.array_equal(before, after.numpy())
        for before, after in zip(normalizer_before, agent._observation_normalizer.variables)
    )


@pytest.mark.parametrize("greedy_eval", [True, False])
def test_greedy_eval_policy(greedy_eval):
    tf.random.set_seed(6)
    agent = _agent(greedy_eval=greedy_eval, normalize_observations=False)
    time_step = ts.restart(tf.random.normal([64, 2]), batch_size=64)
    modes = agent.collect_policy.distribution(time_step).action.mode()
    actions = agent.policy.action(time_step).action
    assert (type(agent.policy).__name__ == "GreedyPolicy") is greedy_eval
    assert agent.policy.info_spec == ()
    if greedy_eval:
        np.testing.assert_array_equal(actions.numpy(), modes.numpy())

"""Differential tests: tfdrive's PPO agents against TF-Agents 0.19's.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26):
`cd tests && python -m pytest compat/test_ppo_agent_differential.py -p no:warnings`.

Both agents get networks with the same weights (tfdrive's networks take
TF-Agents' weights: the variables line up one to one), the same
hyperparameters and the same hand-built experience (`[B, T]`, with an
episode boundary in the middle). After one `train` call the loss info (total,
policy gradient, value, L2, entropy, KL, clip fraction), the updated weights
and the updated policies (observation normalizer included) must agree to
float tolerance; with `compute_value_and_advantage_in_train=False`, so must
the returns and advantages `preprocess_sequence` fills in.
"""

import functools

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
from tf_agents.agents.ppo import ppo_agent as tfa_ppo_agent  # noqa: E402
from tf_agents.agents.ppo import ppo_clip_agent as tfa_ppo_clip_agent  # noqa: E402
from tf_agents.agents.ppo import ppo_kl_penalty_agent as tfa_ppo_kl_penalty_agent  # noqa: E402
from tf_agents.networks import actor_distribution_network as tfa_adn  # noqa: E402
from tf_agents.networks import actor_distribution_rnn_network as tfa_adrn  # noqa: E402
from tf_agents.networks import value_network as tfa_vn  # noqa: E402
from tf_agents.networks import value_rnn_network as tfa_vrn  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402
from tf_agents.trajectories import trajectory as tfa_trajectory  # noqa: E402

from tfdrive.agents.ppo import ppo_agent, ppo_clip_agent, ppo_kl_penalty_agent  # noqa: E402
from tfdrive.networks import (  # noqa: E402
    actor_distribution_network,
    actor_distribution_rnn_network,
    value_network,
    value_rnn_network,
)
from tfdrive.specs import tensor_spec  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.trajectories import trajectory  # noqa: E402

OBS = tensor_spec.TensorSpec((3,), tf.float32)
DISCRETE = tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2)
CONTINUOUS = tensor_spec.BoundedTensorSpec((2,), tf.float32, [-1.0, 0.0], [1.0, 2.0])
BATCH, STEPS = 3, 6
RTOL, ATOL = 1e-4, 1e-5


def _copy_weights(source, target):
    target.create_variables()
    assert [v.shape for v in source.variables] == [v.shape for v in target.variables]
    for s, t in zip(source.variables, target.variables, strict=True):
        t.assign(s)


def _network_pairs(action_spec, recurrent):
    """`((tfa_actor, tfa_value), (actor, value))` with equal weights."""
    if recurrent:
        kwargs = dict(input_fc_layer_params=(8,), lstm_size=(6,), output_fc_layer_params=(5,))
        tfa_nets = (
            tfa_adrn.ActorDistributionRnnNetwork(OBS, action_spec, **kwargs),
            tfa_vrn.ValueRnnNetwork(OBS, **kwargs),
        )
        nets = (
            actor_distribution_rnn_network.ActorDistributionRnnNetwork(OBS, action_spec, **kwargs),
            value_rnn_network.ValueRnnNetwork(OBS, **kwargs),
        )
    else:
        tfa_nets = (
            tfa_adn.ActorDistributionNetwork(OBS, action_spec, fc_layer_params=(16, 8)),
            tfa_vn.ValueNetwork(OBS, fc_layer_params=(16, 8)),
        )
        nets = (
            actor_distribution_network.ActorDistributionNetwork(
                OBS, action_spec, fc_layer_params=(16, 8)
            ),
            value_network.ValueNetwork(OBS, fc_layer_params=(16, 8)),
        )
    for tfa_net, net in zip(tfa_nets, nets, strict=True):
        tfa_net.create_variables()
        _copy_weights(tfa_net, net)
    return tfa_nets, nets


def _experience_arrays(agent, action_spec, rng):
    """Numpy fields of a `[B, T]` trajectory matching `agent.collect_data_spec`.

    Row 0 ends an episode at step 2 (LAST, then a boundary into FIRST); the
    others run through. Distribution parameters are valid (positive scales).
    """
    step_type = np.ones((BATCH, STEPS), np.int32)
    step_type[:, 0] = 0
    step_type[0, 2], step_type[0, 3] = 2, 0
    next_step_type = np.concatenate([step_type[:, 1:], np.ones((BATCH, 1), np.int32)], axis=1)
    discount = (next_step_type != 2).astype(np.float32)
    if action_spec.dtype.is_integer:
        action = rng.integers(0, 3, size=(BATCH, STEPS)).astype(action_spec.dtype.as_numpy_dtype)
    else:
        action = rng.uniform(
            action_spec.minimum, action_spec.maximum, size=(BATCH, STEPS, 2)
        ).astype(np.float32)

    def parameter(path, spec):
        shape = (BATCH, STEPS) + tuple(spec.shape)
        if path[-1] == "scale":
            return rng.uniform(0.3, 1.0, size=shape).astype(np.float32)
        return (rng.normal(size=shape) * 0.5).astype(np.float32)

    info_spec = agent.collect_data_spec.policy_info
    info = {
        "dist_params": {
            key: parameter((key,), spec) for key, spec in info_spec["dist_params"].items()
        }
    }
    if "value_prediction" in info_spec:
        info["value_prediction"] = rng.normal(size=(BATCH, STEPS)).astype(np.float32)
    return dict(
        step_type=step_type,
        observation=(rng.normal(size=(BATCH, STEPS, 3)) * 2).astype(np.float32),
        action=action,
        policy_info=info,
        next_step_type=next_step_type,
        reward=rng.normal(size=(BATCH, STEPS)).astype(np.float32),
        discount=discount,
    )


def _assert_close(got, want, rtol=RTOL, atol=ATOL):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


CASES = {
    # name: (tfdrive class, TF-Agents class, action spec, recurrent, extra kwargs)
    "clip_ff_discrete": (ppo_clip_agent.PPOClipAgent, tfa_ppo_clip_agent.PPOClipAgent,
                         DISCRETE, False, dict(importance_ratio_clipping=0.2, entropy_regularization=0.01,
                                               normalize_rewards=False)),
    "clip_ff_continuous": (ppo_clip_agent.PPOClipAgent, tfa_ppo_clip_agent.PPOClipAgent,
                           CONTINUOUS, False, dict(importance_ratio_clipping=0.2, use_gae=True,
                                                   use_td_lambda_return=True, value_clipping=0.5,
                                                   reward_norm_clipping=0.5)),
    "clip_rnn_continuous": (ppo_clip_agent.PPOClipAgent, tfa_ppo_clip_agent.PPOClipAgent,
                            CONTINUOUS, True, dict(importance_ratio_clipping=0.2, use_gae=True,
                                                   normalize_observations=False)),
    "clip_rnn_discrete": (ppo_clip_agent.PPOClipAgent, tfa_ppo_clip_agent.PPOClipAgent,
                          DISCRETE, True, dict(importance_ratio_clipping=0.1,
                                               aggregate_losses_across_replicas=False,
                                               update_normalizers_in_train=False)),
    "kl_ff_continuous": (ppo_agent.PPOAgent, tfa_ppo_agent.PPOAgent, CONTINUOUS, False,
                         dict(kl_cutoff_factor=0.5, adaptive_kl_target=0.01, policy_l2_reg=1e-3,
                              value_function_l2_reg=1e-3, gradient_clipping=1.0,
                              log_prob_clipping=3.0, entropy_regularization=0.05,
                              check_numerics=True, debug_summaries=True)),
    "klpenalty_ff_discrete": (ppo_kl_penalty_agent.PPOKLPenaltyAgent,
                              tfa_ppo_kl_penalty_agent.PPOKLPenaltyAgent, DISCRETE, False,
                              dict(initial_adaptive_kl_beta=0.5, adaptive_kl_target=0.02,
                                   adaptive_kl_tolerance=0.3, kl_cutoff_factor=2.0,
                                   kl_cutoff_coef=100.0, reward_norm_clipping=3.0)),
}  # fmt: skip


def _agent_pair(case, in_train, num_epochs=2, optimizer=None):
    """`(agent, tfa_agent, nets, tfa_nets)` configured alike with equal weights.

    `optimizer` makes each agent's optimizer (default: v1 Adam, 1e-2).
    """
    optimizer = optimizer or (lambda: tf.compat.v1.train.AdamOptimizer(1e-2))
    agent_class, tfa_agent_class, action_spec, recurrent, kwargs = CASES[case]
    tf.random.set_seed(0)
    tfa_nets, nets = _network_pairs(action_spec, recurrent)
    common = dict(
        num_epochs=num_epochs,
        compute_value_and_advantage_in_train=in_train,
        discount_factor=0.9,
        **kwargs,
    )
    tfa_agent = tfa_agent_class(
        tfa_ts.time_step_spec(OBS),
        action_spec,
        optimizer=optimizer(),
        actor_net=tfa_nets[0],
        value_net=tfa_nets[1],
        train_step_counter=tf.Variable(0, dtype=tf.int64),
        **common,
    )
    agent = agent_class(
        ts.time_step_spec(OBS),
        action_spec,
        optimizer=optimizer(),
        actor_net=nets[0],
        value_net=nets[1],
        train_step_counter=tf.Variable(0, dtype=tf.int64),
        **common,
    )
    return agent, tfa_agent, nets, tfa_nets


def _assert_trained_alike(
    agent, tfa_agent, nets, tfa_nets, experience, tfa_experience, train=None, tfa_train=None,
    rtol=RTOL, atol=ATOL,
):  # fmt: skip
    """One `train` call each: same loss info, counters and updated weights.

    `train` and `tfa_train` default to the agents' own `train`.
    """
    close = functools.partial(_assert_close, rtol=rtol, atol=atol)
    initial = [v.numpy() for v in nets[0].trainable_variables]
    loss_info = (train or agent.train)(experience)
    tfa_loss_info = (tfa_train or tfa_agent.train)(tfa_experience)
    close(loss_info.loss, tfa_loss_info.loss)
    assert loss_info.extra._fields == tfa_loss_info.extra._fields
    for name in loss_info.extra._fields:
        close(getattr(loss_info.extra, name), getattr(tfa_loss_info.extra, name))
    assert int(agent.train_step_counter.numpy()) == int(tfa_agent.train_step_counter.numpy())

    for net, tfa_net in zip(nets, tfa_nets, strict=True):
        for variable, tfa_variable in zip(net.variables, tfa_net.variables, strict=True):
            close(variable.numpy(), tfa_variable.numpy())
    changed = [
        not np.allclose(before, after.numpy())
        for before, after in zip(initial, nets[0].trainable_variables, strict=True)
    ]
    assert any(changed), "train did not update the actor"
    if tfa_agent._adaptive_kl_beta is not None:
        close(agent._adaptive_kl_beta.numpy(), tfa_agent._adaptive_kl_beta.numpy())


@pytest.mark.parametrize("in_train", [True, False], ids=["value_in_train", "value_in_collect"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_train_matches_tf_agents(case, in_train):
    agent, tfa_agent, nets, tfa_nets = _agent_pair(case, in_train)
    fields = tf.nest.map_structure(
        tf.constant, _experience_arrays(agent, CASES[case][2], np.random.default_rng(1))
    )
    experience = trajectory.Trajectory(**fields)
    tfa_experience = tfa_trajectory.Trajectory(**fields)
    if not in_train:
        experience = agent.preprocess_sequence(experience)
        tfa_experience = tfa_agent.preprocess_sequence(tfa_experience)
        for key in ("return", "advantage", "value_prediction"):
            _assert_close(experience.policy_info[key], tfa_experience.policy_info[key])

    _assert_trained_alike(agent, tfa_agent, nets, tfa_nets, experience, tfa_experience)
    assert int(agent.train_step_counter.numpy()) == 2

    # The updated policies agree, normalized observations included.
    observation = fields["observation"][:, 0]
    time_step = ts.restart(observation, batch_size=BATCH)
    tfa_time_step = tfa_ts.restart(observation, batch_size=BATCH)
    state = agent.collect_policy.get_initial_state(BATCH)
    tfa_state = tfa_agent.collect_policy.get_initial_state(BATCH)
    info = agent.collect_policy.distribution(time_step, state).info
    tfa_info = tfa_agent.collect_policy.distribution(tfa_time_step, tfa_state).info
    tf.nest.map_structure(_assert_close, info, tfa_info)


@pytest.mark.parametrize("case", ["clip_ff_continuous", "clip_rnn_discrete", "kl_ff_continuous"])
def test_minibatches_match_tf_agents(case):
    """Preprocessed once, then trained window by window (values computed in collect)."""
    agent, tfa_agent, nets, tfa_nets = _agent_pair(case, in_train=False)
    fields = tf.nest.map_structure(
        tf.constant, _experience_arrays(agent, CASES[case][2], np.random.default_rng(2))
    )
    experience = agent.preprocess_sequence(trajectory.Trajectory(**fields))
    tfa_experience = tfa_agent.preprocess_sequence(tfa_trajectory.Trajectory(**fields))
    for window in (np.s_[:2, 1:4], np.s_[1:, :1], np.s_[:, 3:]):
        _assert_trained_alike(
            agent,
            tfa_agent,
            nets,
            tfa_nets,
            tf.nest.map_structure(lambda t, w=window: t[w], experience),
            tf.nest.map_structure(lambda t, w=window: t[w], tfa_experience),
        )


@pytest.mark.parametrize("optimizer", ["v1_adam", "keras_adam"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_traced_epochs_match_tf_agents(case, optimizer):
    """Inside `tf.function` tfdrive runs the middle epochs in a graph loop; the
    result must still be TF-Agents' unrolled epochs, twice in a row (the second
    call reuses the trace and the optimizer's slots)."""
    from tfdrive._keras import keras

    make_optimizer = {
        "v1_adam": lambda: tf.compat.v1.train.AdamOptimizer(1e-2),
        "keras_adam": lambda: keras.optimizers.Adam(1e-2),
    }[optimizer]
    agent, tfa_agent, nets, tfa_nets = _agent_pair(
        case, in_train=True, num_epochs=5, optimizer=make_optimizer
    )
    train, tfa_train = tf.function(agent.train), tf.function(tfa_agent.train)
    for seed in (3, 4):
        fields = tf.nest.map_structure(
            tf.constant, _experience_arrays(agent, CASES[case][2], np.random.default_rng(seed))
        )
        _assert_trained_alike(
            agent,
            tfa_agent,
            nets,
            tfa_nets,
            trajectory.Trajectory(**fields),
            tfa_trajectory.Trajectory(**fields),
            train,
            tfa_train,
            # Ten Adam steps at 1e-2 (two calls of 5 epochs) compound float32
            # rounding, and the loop's graph may fuse kernels differently from
            # the unrolled one: one weight in 192 has drifted by 6e-5 (1.5e-4
            # relative) in a CI run. A real difference in the maths moves
            # weights by orders of magnitude more.
            rtol=1e-3,
            atol=1e-4,
        )
    assert int(agent.train_step_counter.numpy()) == 10
    graph = train.get_concrete_function(trajectory.Trajectory(**fields)).graph
    epoch_loops = [
        op.name
        for op in graph.get_operations()
        if op.type in ("While", "StatelessWhile") and "epochs/" in op.name
    ]
    assert len(epoch_loops) == 1, f"the epochs were unrolled: {epoch_loops}"

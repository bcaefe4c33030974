"""DQN and Double DQN agents (TF-Agents' `agents.dqn.dqn_agent`).

Mnih et al. (2015), "Human-level control through deep reinforcement learning",
and van Hasselt et al. (2015), "Deep Reinforcement Learning with Double
Q-learning".

The loss regresses `Q(s, a)` towards the TD target
`reward_scale_factor * r + gamma * discount * Q_target(s', a*)`, where `a*` is
the target network's greedy action (DQN) or the online network's (DDQN). With
`n_step_update = n`, experience is `[B, n + 1]` and the reward is the
discounted n-step return (see `data_converter.AsNStepTransition`).
"""

from __future__ import annotations

import collections
from typing import Any, Callable

import tensorflow as tf

from tfdrive import _gin
from tfdrive.agents import data_converter, tf_agent
from tfdrive.networks import utils as network_utils
from tfdrive.policies import boltzmann_policy, epsilon_greedy_policy, greedy_policy, q_policy
from tfdrive.specs import tensor_spec
from tfdrive.utils import common, eager_utils, nest_utils, summaries

__all__ = ["DdqnAgent", "DqnAgent", "DqnLossInfo", "compute_td_targets"]


class DqnLossInfo(collections.namedtuple("DqnLossInfo", ("td_loss", "td_error"))):
    """`LossInfo.extra` of DQN agents.

    Attributes:
      td_loss: per-example loss, `[B]` (summed over time for `[B, T]` input).
      td_error: per-example TD error `target - Q(s, a)`, `[B]` or `[B, T]`.
    """


def compute_td_targets(next_q_values: Any, rewards: Any, discounts: Any) -> tf.Tensor:
    """`rewards + discounts * next_q_values`, with gradients stopped."""
    return tf.stop_gradient(rewards + discounts * next_q_values)


@_gin.configurable
class DqnAgent(tf_agent.TFAgent):
    """A DQN agent: Q-learning with a (periodically updated) target network.

    Args:
      time_step_spec: a `TimeStep` of specs.
      action_spec: a scalar `BoundedTensorSpec` of integer actions with minimum 0.
      q_network: a `Network` mapping observations to `[num_actions]` Q-values.
      optimizer: the optimizer (TF1 `tf.compat.v1.train` or Keras 2).
      observation_and_action_constraint_splitter: splits an observation into
        `(network_observation, action_mask)`; policies then only pick allowed
        actions.
      epsilon_greedy: exploration probability of `collect_policy` (a float or a
        callable returning one); exclusive with `boltzmann_temperature`.
      n_step_update: the number of steps of the TD target (`T = n + 1`).
      boltzmann_temperature: collect by sampling the Boltzmann distribution of
        the Q-values at this temperature (set `epsilon_greedy=None`).
      emit_log_probability: policies emit the log-probability of actions.
      target_q_network: the target network; a copy of `q_network` by default.
        It must share no variables with `q_network`.
      target_update_tau: soft update factor of the target network.
      target_update_period: update the target network every this many steps.
      td_errors_loss_fn: element-wise loss of `(td_targets, q_values)`;
        Huber by default.
      gamma: discount factor of future rewards.
      reward_scale_factor: multiplies rewards.
      gradient_clipping: clip each gradient to this norm (None: no clipping).
      debug_summaries: write debug summaries.
      summarize_grads_and_vars: summarize gradients and variables.
      train_step_counter: the step variable `train` increments.
      training_data_spec: the training data spec, when it differs from the
        collected data's.
      name: the module name.

    Raises:
      ValueError: the action spec is not one scalar spec with minimum 0, both
        `epsilon_greedy` and `boltzmann_temperature` are set, or a network's
        output is not `[num_actions]` floats.
      NotImplementedError: `n_step_update != 1` with a stateful (RNN) network.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        q_network: Any,
        optimizer: Any,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
        epsilon_greedy: Any = 0.1,
        n_step_update: int = 1,
        boltzmann_temperature: Any = None,
        emit_log_probability: bool = False,
        target_q_network: Any = None,
        target_update_tau: Any = 1.0,
        target_update_period: int = 1,
        td_errors_loss_fn: Callable[[Any, Any], Any] | None = None,
        gamma: Any = 1.0,
        reward_scale_factor: Any = 1.0,
        gradient_clipping: Any = None,
        debug_summaries: bool = False,
        summarize_grads_and_vars: bool = False,
        train_step_counter: tf.Variable | None = None,
        training_data_spec: Any = None,
        name: str | None = None,
    ):
        tf.Module.__init__(self, name=name)
        action_spec = tensor_spec.from_spec(action_spec)
        self._check_action_spec(action_spec)
        if epsilon_greedy is not None and boltzmann_temperature is not None:
            raise ValueError(
                f"Configured both epsilon_greedy value {epsilon_greedy} and temperature "
                f"{boltzmann_temperature}, however only one of them can be used for exploration."
            )
        self._observation_and_action_constraint_splitter = (
            observation_and_action_constraint_splitter
        )
        self._q_network = q_network
        net_observation_spec = self._network_observation(time_step_spec.observation)
        q_network.create_variables(net_observation_spec)
        if target_q_network:
            target_q_network.create_variables(net_observation_spec)
        self._target_q_network = common.maybe_copy_target_network_with_checks(
            self._q_network,
            target_q_network,
            input_spec=net_observation_spec,
            name="TargetQNetwork",
        )
        self._check_network_output(self._q_network, "q_network")
        self._check_network_output(self._target_q_network, "target_q_network")

        self._epsilon_greedy = epsilon_greedy
        self._n_step_update = n_step_update
        self._boltzmann_temperature = boltzmann_temperature
        self._optimizer = optimizer
        self._td_errors_loss_fn = td_errors_loss_fn or common.element_wise_huber_loss
        self._gamma = gamma
        self._reward_scale_factor = reward_scale_factor
        self._gradient_clipping = gradient_clipping
        self._update_target = self._get_target_updater(target_update_tau, target_update_period)

        policy, collect_policy = self._setup_policy(
            time_step_spec, action_spec, boltzmann_temperature, emit_log_probability
        )
        if q_network.state_spec and n_step_update != 1:
            raise NotImplementedError(
                "DqnAgent does not currently support n-step updates with stateful networks "
                f"(i.e., RNNs), but n_step_update = {n_step_update}"
            )
        # Stateful networks train on whole sequences of any length.
        train_sequence_length = None if q_network.state_spec else n_step_update + 1
        super().__init__(
            time_step_spec,
            action_spec,
            policy,
            collect_policy,
            train_sequence_length=train_sequence_length,
            debug_summaries=debug_summaries,
            summarize_grads_and_vars=summarize_grads_and_vars,
            train_step_counter=train_step_counter,
            training_data_spec=training_data_spec,
        )
        if q_network.state_spec:
            self._as_transition = data_converter.AsTransition(
                self.data_context, squeeze_time_dim=False
            )
        else:
            self._as_transition = data_converter.AsNStepTransition(
                self.data_context, gamma=gamma, n=n_step_update
            )

    def _network_observation(self, observation: Any) -> Any:
        """The part of an observation (or its spec) that the Q-network reads."""
        if self._observation_and_action_constraint_splitter is None:
            return observation
        network_observation, _ = self._observation_and_action_constraint_splitter(observation)
        return network_observation

    def _check_action_spec(self, action_spec: Any) -> None:
        flat_action_spec = tf.nest.flatten(action_spec)
        if len(flat_action_spec) > 1 or flat_action_spec[0].shape.rank > 0:
            raise ValueError(
                f"Only scalar actions are supported now, but action spec is: {action_spec}"
            )
        spec = flat_action_spec[0]
        if spec.minimum != 0:
            raise ValueError(f"Action specs should have minimum of 0, but saw: {spec}")
        self._num_actions = spec.maximum - spec.minimum + 1

    def _check_network_output(self, net: Any, label: str) -> None:
        """Raises ValueError unless `net` outputs `[num_actions]` floats."""
        network_utils.check_single_floating_network_output(
            net.create_variables(), expected_output_shape=(self._num_actions,), label=label
        )

    def _setup_policy(
        self, time_step_spec, action_spec, boltzmann_temperature, emit_log_probability
    ) -> tuple[Any, Any]:
        """Greedy `policy`, exploring `collect_policy` and the target's greedy policy."""
        splitter = self._observation_and_action_constraint_splitter
        policy = q_policy.QPolicy(
            time_step_spec,
            action_spec,
            q_network=self._q_network,
            emit_log_probability=emit_log_probability,
            observation_and_action_constraint_splitter=splitter,
        )
        if boltzmann_temperature is not None:
            collect_policy = boltzmann_policy.BoltzmannPolicy(
                policy, temperature=self._boltzmann_temperature
            )
        else:
            collect_policy = epsilon_greedy_policy.EpsilonGreedyPolicy(
                policy, epsilon=self._epsilon_greedy
            )
        target_policy = q_policy.QPolicy(
            time_step_spec,
            action_spec,
            q_network=self._target_q_network,
            observation_and_action_constraint_splitter=splitter,
        )
        self._target_greedy_policy = greedy_policy.GreedyPolicy(target_policy)
        return greedy_policy.GreedyPolicy(policy), collect_policy

    def _initialize(self) -> Any:
        return common.soft_variables_update(
            self._q_network.variables, self._target_q_network.variables, tau=1.0
        )

    def _get_target_updater(self, tau: Any = 1.0, period: int = 1) -> Any:
        """Soft-updates the target network every `period` train steps.

        Non-trainable variables (e.g. batch-norm statistics) are copied.
        """
        with tf.name_scope("update_targets"):

            def update():
                return common.soft_variables_update(
                    self._q_network.variables,
                    self._target_q_network.variables,
                    tau,
                    tau_non_trainable=1.0,
                )

            return common.Periodically(update, period, "periodic_update_targets")

    def _train(self, experience: Any, weights: Any) -> tf_agent.LossInfo:
        with tf.GradientTape() as tape:
            loss_info = self._loss(
                experience,
                td_errors_loss_fn=self._td_errors_loss_fn,
                gamma=self._gamma,
                reward_scale_factor=self._reward_scale_factor,
                weights=weights,
                training=True,
            )
        tf.debugging.check_numerics(loss_info.loss, "Loss is inf or nan")
        variables_to_train = self._q_network.trainable_weights
        non_trainable_weights = self._q_network.non_trainable_weights
        assert list(variables_to_train), "No variables in the agent's q_network."
        grads = tape.gradient(loss_info.loss, variables_to_train)
        grads_and_vars = list(zip(grads, variables_to_train, strict=True))
        if self._gradient_clipping is not None:
            grads_and_vars = eager_utils.clip_gradient_norms(
                grads_and_vars, self._gradient_clipping
            )
        if self._summarize_grads_and_vars:
            eager_utils.add_variables_summaries(
                grads_and_vars + [(None, v) for v in non_trainable_weights],
                self.train_step_counter,
            )
            eager_utils.add_gradients_summaries(grads_and_vars, self.train_step_counter)
        self._optimizer.apply_gradients(grads_and_vars)
        self.train_step_counter.assign_add(1)
        self._update_target()
        return loss_info

    def _td_loss(self, q_values, next_q_values, rewards, discounts) -> tuple[Any, Any]:
        """Element-wise `(td_loss, td_error)` of the TD targets."""
        td_targets = compute_td_targets(next_q_values, rewards=rewards, discounts=discounts)
        td_error = td_targets - q_values
        td_loss = self._td_errors_loss_fn(td_targets, q_values)
        return td_loss, td_error

    def _loss(  # type: ignore[override]  # TF-Agents' DqnAgent._loss signature
        self,
        experience: Any,
        td_errors_loss_fn: Callable[[Any, Any], Any] | None = None,
        gamma: Any = 1.0,
        reward_scale_factor: Any = 1.0,
        weights: Any = None,
        training: bool = False,
    ) -> tf_agent.LossInfo:
        """The TD loss of a batch of experience.

        Args:
          experience: a `[B, n + 1]` `Trajectory` (`[B, T]` with an RNN), or a
            `Transition`.
          td_errors_loss_fn: element-wise loss; replaces the agent's when given.
          gamma: discount factor of the TD target.
          reward_scale_factor: multiplies rewards.
          weights: optional scalar or `[B]` weights of the per-example losses.
          training: passed to the Q-network.

        Returns:
          `LossInfo(total_loss, DqnLossInfo(td_loss, td_error))`; transitions
          ending an episode (`time_step.is_last()`) are masked out.

        Raises:
          ValueError: the experience does not match the agent's specs.
        """
        time_steps, policy_steps, next_time_steps = self._as_transition(experience)
        self._td_errors_loss_fn = td_errors_loss_fn or self._td_errors_loss_fn
        with tf.name_scope("loss"):
            q_values = self._compute_q_values(time_steps, policy_steps.action, training=training)
            next_q_values = self._compute_next_q_values(next_time_steps, policy_steps.info)
            rewards = reward_scale_factor * next_time_steps.reward
            discounts = gamma * next_time_steps.discount
            td_loss, td_error = self._td_loss(q_values, next_q_values, rewards, discounts)

            # A LAST -> FIRST step links two episodes: it is no transition.
            valid_mask = tf.cast(~time_steps.is_last(), tf.float32)
            td_error = valid_mask * td_error
            td_loss = valid_mask * td_loss
            if nest_utils.is_batched_nested_tensors(
                time_steps, self.time_step_spec, num_outer_dims=2
            ):
                # Sequences (RNN): one loss per batch entry, summed over time.
                td_loss = tf.reduce_sum(input_tensor=td_loss, axis=1)

            agg_loss = common.aggregate_losses(
                per_example_loss=td_loss,
                sample_weight=weights,
                regularization_loss=self._q_network.losses,
            )
            total_loss = agg_loss.total_loss
            self._summarize_loss(agg_loss, q_values, next_q_values, td_error, td_loss)
            return tf_agent.LossInfo(total_loss, DqnLossInfo(td_loss=td_loss, td_error=td_error))

    def _summarize_loss(self, agg_loss, q_values, next_q_values, td_error, td_loss) -> None:
        if not eager_utils.summaries_recorded():
            return
        step = self.train_step_counter
        common.summarize_scalar_dict(
            {
                "td_loss": agg_loss.weighted,
                "reg_loss": agg_loss.regularization,
                "total_loss": agg_loss.total_loss,
            },
            step=step,
            name_scope="Losses/",
        )
        if self._summarize_grads_and_vars:
            with tf.name_scope("Variables/"):
                for var in self._q_network.trainable_weights:
                    summaries.histogram(var.name.replace(":", "_"), var, step)
        if self._debug_summaries:
            for name, tensor in (
                ("td_error", td_error),
                ("td_loss", td_loss),
                ("q_values", q_values),
                ("next_q_values", next_q_values),
                ("diff_q_values", q_values - next_q_values),
            ):
                common.generate_tensor_summaries(name, tensor, step)

    def _compute_q_values(self, time_steps: Any, actions: Any, training: bool = False) -> Any:
        """`Q(s, a)` of the online network for the taken actions, `[B]` (or `[B, T]`)."""
        q_values, _ = self._q_network(
            self._network_observation(time_steps.observation),
            step_type=time_steps.step_type,
            training=training,
        )
        multi_dim_actions = self._action_spec.shape.rank > 0
        return common.index_with_actions(
            q_values, tf.cast(actions, dtype=tf.int32), multi_dim_actions=multi_dim_actions
        )

    def _next_q_values_of(self, greedy_policy_: Any, next_time_steps: Any) -> Any:
        """Target-network Q-values of the actions `greedy_policy_` picks in `s'`."""
        next_target_q_values, _ = self._target_q_network(
            self._network_observation(next_time_steps.observation),
            step_type=next_time_steps.step_type,
        )
        batch_size = next_target_q_values.shape[0] or tf.shape(next_target_q_values)[0]
        dummy_state = greedy_policy_.get_initial_state(batch_size)
        # The greedy policies are stateless here (no RNN with n-step updates).
        next_actions = greedy_policy_.action(next_time_steps, dummy_state).action
        multi_dim_actions = tf.nest.flatten(self._action_spec)[0].shape.rank > 0
        return common.index_with_actions(
            next_target_q_values, next_actions, multi_dim_actions=multi_dim_actions
        )

    def _compute_next_q_values(self, next_time_steps: Any, info: Any) -> Any:
        """`Q_target(s', argmax_a Q_target(s', a))`."""
        del info
        return self._next_q_values_of(self._target_greedy_policy, next_time_steps)


@_gin.configurable
class DdqnAgent(DqnAgent):
    """Double DQN: the online network picks `a*`, the target network scores it.

    Same arguments as `DqnAgent`.
    """

    def _compute_next_q_values(self, next_time_steps: Any, info: Any) -> Any:
        """`Q_target(s', argmax_a Q(s', a))`."""
        del info
        return self._next_q_values_of(self._policy, next_time_steps)

"""Default agents, networks and hyperparameters for `tfdrive.train` (one recipe per agent and env).

A recipe is a frozen dataclass of everything the train loop needs besides
the environment: the batch of environments, the networks' layer sizes, the
agent's hyperparameters and the collect/train schedule. `default_recipe`
picks the tuned one for an (agent, env) pair, with a generic fallback;
`build_agent` turns a recipe into a tfdrive agent for given specs.

    recipe = default_recipe("ppo", "CartPole-v1")
    recipe = dataclasses.replace(recipe, learning_rate=3e-4)  # adjust one field
    agent = build_agent(recipe, time_step_spec, action_spec, train_step_counter)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Union

__all__ = [
    "AGENTS",
    "DQNRecipe",
    "PPORecipe",
    "Recipe",
    "build_agent",
    "default_recipe",
    "learning_rate_for",
]

#: The agents `tfdrive train` knows.
AGENTS = ("ppo", "dqn")


@dataclasses.dataclass(frozen=True)
class PPORecipe:
    """PPO with clipped ratios (`PPOClipAgent`), trained on-policy in rounds.

    Each round collects `collect_steps` steps on each of `num_envs` envs (a
    `[num_envs, collect_steps]` batch), then trains `num_epochs` full-batch
    gradient steps on it, as TF-Agents' PPO examples do.

    With `final_learning_rate` set, the learning rate falls linearly from
    `learning_rate` to it over the run's gradient steps (see
    `learning_rate_for`), so the last rounds refine the policy instead of
    moving it around: the return at the end of a run then reflects what was
    learned, not where a constant step size happened to leave the policy.
    """

    num_envs: int = 64
    collect_steps: int = 32
    actor_layers: tuple[int, ...] = (64, 64)
    value_layers: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-3
    num_epochs: int = 10
    discount_factor: float = 0.99
    lambda_value: float = 0.95
    importance_ratio_clipping: float = 0.2
    entropy_regularization: float = 0.0
    value_pred_loss_coef: float = 0.5
    normalize_observations: bool = False
    normalize_rewards: bool = False
    gradient_clipping: float | None = 0.5
    final_learning_rate: float | None = None
    default_steps: int = 500_000

    @property
    def agent(self) -> str:
        return "ppo"

    @property
    def agent_kwargs(self) -> dict[str, Any]:
        """The `PPOClipAgent` arguments this recipe sets (tfdrive's or TF-Agents' class)."""
        return dict(
            importance_ratio_clipping=self.importance_ratio_clipping,
            lambda_value=self.lambda_value,
            discount_factor=self.discount_factor,
            entropy_regularization=self.entropy_regularization,
            value_pred_loss_coef=self.value_pred_loss_coef,
            num_epochs=self.num_epochs,
            use_gae=True,
            normalize_rewards=self.normalize_rewards,
            normalize_observations=self.normalize_observations,
            gradient_clipping=self.gradient_clipping,
        )

    @property
    def steps_per_round(self) -> int:
        return self.num_envs * self.collect_steps


@dataclasses.dataclass(frozen=True)
class DQNRecipe:
    """DQN (`DqnAgent`) with a replay buffer of n-step windows and decaying epsilon.

    Each round collects `collect_steps` steps on each of `num_envs` envs
    into the replay buffer (after `learning_starts` env steps, exploration
    at epsilon 1 until then), then runs `train_steps` gradient steps, each on
    `batch_size` windows of `n_step_update + 1` consecutive steps drawn
    uniformly. Epsilon falls linearly from `epsilon_start` to `epsilon_end`
    over `epsilon_decay_steps` gradient steps.
    """

    num_envs: int = 4
    collect_steps: int = 1
    q_layers: tuple[int, ...] = (128, 128)
    learning_rate: float = 5e-4
    batch_size: int = 128
    replay_capacity: int = 50_000
    learning_starts: int = 1_000
    train_steps: int = 1
    n_step_update: int = 3
    gamma: float = 0.99
    epsilon_start: float = 1.0
    epsilon_end: float = 0.02
    epsilon_decay_steps: int = 10_000
    target_update_period: int = 100
    gradient_clipping: float | None = 10.0
    default_steps: int = 200_000

    @property
    def agent(self) -> str:
        return "dqn"

    @property
    def steps_per_round(self) -> int:
        return self.num_envs * self.collect_steps


Recipe = Union[PPORecipe, DQNRecipe]

# Tuned per env where the generic defaults are not enough; keys are (agent, env id).
_TUNED: dict[tuple[str, str], Recipe] = {
    ("ppo", "CartPole-v1"): PPORecipe(),
    ("dqn", "CartPole-v1"): DQNRecipe(),
    ("ppo", "Pendulum-v1"): PPORecipe(
        num_envs=64,
        collect_steps=50,
        learning_rate=1e-3,
        num_epochs=10,
        discount_factor=0.95,
        normalize_observations=True,
        normalize_rewards=True,
        final_learning_rate=0.0,
        default_steps=2_000_000,
    ),
}


def default_recipe(agent: str, env: str) -> Recipe:
    """The recipe `tfdrive train` uses for `agent` ('ppo' or 'dqn') on env id `env`.

    Raises:
      ValueError: for an unknown agent.
    """
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; expected one of: {', '.join(AGENTS)}")
    tuned = _TUNED.get((agent, env))
    if tuned is not None:
        return tuned
    return PPORecipe() if agent == "ppo" else DQNRecipe()


def learning_rate_for(recipe: Recipe, total_env_steps: int | None) -> Any:
    """The learning rate of `recipe` for a run of `total_env_steps` env steps.

    Returns:
      `recipe.learning_rate` (a float), or, for a PPO recipe with
      `final_learning_rate` and a known run length, a Keras
      `PolynomialDecay` (power 1) from `learning_rate` to
      `final_learning_rate` over the run's `rounds * num_epochs` gradient
      steps, indexed by the optimizer's `iterations`.
    """
    if (
        not isinstance(recipe, PPORecipe)
        or recipe.final_learning_rate is None
        or total_env_steps is None
    ):
        return recipe.learning_rate
    final = recipe.final_learning_rate
    from tfdrive._keras import keras

    rounds = -(-total_env_steps // recipe.steps_per_round)
    return keras.optimizers.schedules.PolynomialDecay(
        recipe.learning_rate,
        decay_steps=max(rounds * recipe.num_epochs, 1),
        end_learning_rate=final,
        power=1.0,
    )


def _optimizer(learning_rate: Any) -> Any:
    from tfdrive._keras import keras

    return keras.optimizers.Adam(learning_rate=learning_rate)


def _build_slots(optimizer: Any, *networks: Any) -> None:
    """Creates the optimizer's slot variables for `networks` now.

    Otherwise the first `apply_gradients` creates them inside the compiled
    train step, and `tf.function` then traces the whole step twice.
    """
    variables = [v for net in networks for v in net.trainable_variables]
    if hasattr(optimizer, "build"):
        optimizer.build(variables)


def build_agent(
    recipe: Recipe,
    time_step_spec: Any,
    action_spec: Any,
    train_step_counter: Any,
    total_env_steps: int | None = None,
) -> Any:
    """A tfdrive agent for `recipe`, initialised, on the given tensor specs.

    Args:
      recipe: a `PPORecipe` or `DQNRecipe`.
      time_step_spec: a `TimeStep` of `TensorSpec`s (the env's, converted).
      action_spec: a `BoundedTensorSpec`; DQN needs a scalar integer one.
      train_step_counter: an int64 `tf.Variable` the agent increments per
        gradient step.
      total_env_steps: the run's length in env steps, for a recipe whose
        learning rate decays over the run (`learning_rate_for`); without it
        the learning rate stays at `recipe.learning_rate`.

    Returns:
      A `PPOClipAgent` or `DqnAgent` whose `initialize()` has run.

    Raises:
      ValueError: DQN with an action spec that is not a scalar discrete one.
    """
    if isinstance(recipe, DQNRecipe):
        agent = _build_dqn(recipe, time_step_spec, action_spec, train_step_counter)
    else:
        learning_rate = learning_rate_for(recipe, total_env_steps)
        agent = _build_ppo(recipe, time_step_spec, action_spec, train_step_counter, learning_rate)
    agent.initialize()
    return agent


def _build_ppo(
    recipe: PPORecipe, time_step_spec: Any, action_spec: Any, counter: Any, learning_rate: Any
) -> Any:
    import tensorflow as tf

    from tfdrive.agents.ppo import ppo_clip_agent
    from tfdrive.networks import actor_distribution_network, value_network

    observation_spec = time_step_spec.observation
    actor_net = actor_distribution_network.ActorDistributionNetwork(
        observation_spec,
        action_spec,
        fc_layer_params=recipe.actor_layers,
        activation_fn=tf.nn.tanh,
    )
    value_net = value_network.ValueNetwork(
        observation_spec, fc_layer_params=recipe.value_layers, activation_fn=tf.nn.tanh
    )
    optimizer = _optimizer(learning_rate)
    agent = ppo_clip_agent.PPOClipAgent(
        time_step_spec,
        action_spec,
        optimizer=optimizer,
        actor_net=actor_net,
        value_net=value_net,
        **recipe.agent_kwargs,
        train_step_counter=counter,
    )
    _build_slots(optimizer, actor_net, value_net)
    return agent


def _build_dqn(recipe: DQNRecipe, time_step_spec: Any, action_spec: Any, counter: Any) -> Any:
    import tensorflow as tf

    from tfdrive.agents.dqn import dqn_agent
    from tfdrive.networks import q_network

    dtype = tf.as_dtype(action_spec.dtype)
    if not dtype.is_integer or action_spec.shape.rank != 0:
        raise ValueError(
            "dqn needs a discrete action space (a scalar integer action spec); "
            f"this environment's action spec is {action_spec} (use --agent ppo)"
        )
    net = q_network.QNetwork(
        time_step_spec.observation, action_spec, fc_layer_params=recipe.q_layers
    )
    start, end = recipe.epsilon_start, recipe.epsilon_end
    decay = float(max(recipe.epsilon_decay_steps, 1))

    def epsilon() -> Any:
        # Evaluated inside the collect policy's graph: follows the counter.
        progress = tf.minimum(tf.cast(counter, tf.float32) / decay, 1.0)
        return start + (end - start) * progress

    optimizer = _optimizer(recipe.learning_rate)
    agent = dqn_agent.DqnAgent(
        time_step_spec,
        action_spec,
        q_network=net,
        optimizer=optimizer,
        epsilon_greedy=epsilon,
        n_step_update=recipe.n_step_update,
        target_update_period=recipe.target_update_period,
        gamma=recipe.gamma,
        gradient_clipping=recipe.gradient_clipping,
        train_step_counter=counter,
    )
    _build_slots(optimizer, net)
    return agent

"""`EpsilonGreedyPolicy`: a uniformly random action with probability epsilon, else the greedy one."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive.policies import greedy_policy, random_tf_policy, tf_policy
from tfdrive.policies import utils as policy_utilities
from tfdrive.trajectories import policy_step
from tfdrive.utils import nest_utils

__all__ = ["EpsilonGreedyPolicy"]


@configurable
class EpsilonGreedyPolicy(tf_policy.TFPolicy):
    """Mixes the greedy version of a policy with a uniformly random policy.

    For each batch entry, `action` takes a uniformly random action (within
    the action spec, honoring the wrapped policy's action mask and
    `exploration_mask`) with probability epsilon, and the mode of the
    wrapped policy's distribution otherwise.

    Args:
      policy: A `TFPolicy` (tfdrive's or TF-Agents') whose distributions
        implement ``mode()``. Its `observation_and_action_constraint_splitter`
        and `accepts_per_arm_features`, when it has them, apply to the random
        actions too.
      epsilon: The probability of the random action: a float, a scalar
        tensor or variable, or a callable returning one (read at each
        `action`).
      exploration_mask: Optional ``[num_actions]`` 0/1 vector: the actions the
        random branch may choose.
      info_fields_to_inherit_from_greedy: Names of info fields (of a
        namedtuple info) always taken from the greedy step, even where the
        random action was chosen.
      name: The `tf.Module` name; defaults to the class name.

    Specs and `emit_log_probability` are the wrapped policy's. With
    `emit_log_probability`, ``info.log_probability`` is the log-probability
    of the chosen action under the mixture's chosen branch plus the log of
    choosing that branch (``log(1 - epsilon)`` greedy, ``log(epsilon)``
    random). Infos with a ``bandit_policy_type`` tensor get
    `BanditPolicyType.UNIFORM` where the random action was taken.
    `distribution` is not supported.

    Raises (from `action`):
      ValueError: If the time step has more than one outer (batch)
        dimension, or only one of the greedy and random steps has an info.
    """

    def __init__(
        self,
        policy: Any,
        epsilon: float | tf.Tensor | Callable[[], Any],
        exploration_mask: Sequence[int] | None = None,
        info_fields_to_inherit_from_greedy: Sequence[str] = (),
        name: str | None = None,
    ):
        splitter = getattr(policy, "observation_and_action_constraint_splitter", None)
        accepts_per_arm_features = getattr(policy, "accepts_per_arm_features", False)
        self._greedy_policy = greedy_policy.GreedyPolicy(policy)
        self._epsilon = epsilon
        self._exploration_mask = exploration_mask
        self.info_fields_to_inherit_from_greedy = info_fields_to_inherit_from_greedy
        self._random_policy = random_tf_policy.RandomTFPolicy(
            policy.time_step_spec,
            policy.action_spec,
            emit_log_probability=policy.emit_log_probability,
            observation_and_action_constraint_splitter=splitter,
            accepts_per_arm_features=accepts_per_arm_features,
            stationary_mask=exploration_mask,
            info_spec=policy.info_spec,
        )
        super().__init__(
            policy.time_step_spec,
            policy.action_spec,
            policy.policy_state_spec,
            policy.info_spec,
            emit_log_probability=policy.emit_log_probability,
            observation_and_action_constraint_splitter=splitter,
            name=name,
        )

    @property
    def wrapped_policy(self) -> Any:
        """The policy whose greedy actions this one takes."""
        return self._greedy_policy.wrapped_policy

    def _variables(self) -> Sequence[Any]:
        return self._greedy_policy.variables()

    def _get_epsilon(self) -> Any:
        return self._epsilon() if callable(self._epsilon) else self._epsilon

    def _action(
        self, time_step: Any, policy_state: Any, seed: Any = None
    ) -> policy_step.PolicyStep:
        seed_stream = tfp.util.SeedStream(seed=seed, salt="epsilon_greedy")
        greedy_step = self._greedy_policy.action(time_step, policy_state)
        random_step = self._random_policy.action(time_step, (), seed_stream())

        outer_shape = nest_utils.get_outer_shape(time_step, self._time_step_spec)
        rng = tf.random.uniform(outer_shape, maxval=1.0, seed=seed_stream(), name="epsilon_rng")
        # True where the greedy action is kept (probability 1 - epsilon).
        greedy = tf.greater_equal(rng, self._get_epsilon())
        if int(outer_shape.shape[0]) >= 2:
            raise ValueError("Only supports batched time steps with a single batch dimension")

        # v1 `where` selects whole rows with a [B] condition, whatever the action's rank.
        action = tf.nest.map_structure(
            lambda g, r: tf.compat.v1.where(greedy, g, r),
            greedy_step.action,
            random_step.action,
        )

        if greedy_step.info:
            if not random_step.info:
                raise ValueError("Incompatible info field")
            # Info leaves may differ in shape, so each is selected on its own.
            info = tf.nest.map_structure(
                lambda g, r: nest_utils.where(greedy, g, r), greedy_step.info, random_step.info
            )
            if self._emit_log_probability:
                info = policy_step.set_log_probability(
                    info, self._mixture_log_probability(greedy, info.log_probability)
                )
            if policy_utilities.has_bandit_policy_type(info, check_for_tensor=True):
                took_random = tf.reshape(tf.logical_not(greedy), tf.shape(info.bandit_policy_type))
                info = policy_utilities.set_bandit_policy_type(
                    info,
                    policy_utilities.bandit_policy_uniform_mask(
                        info.bandit_policy_type, mask=took_random
                    ),
                )
            if self.info_fields_to_inherit_from_greedy:
                info = info._replace(
                    **{
                        field: getattr(greedy_step.info, field)
                        for field in self.info_fields_to_inherit_from_greedy
                    }
                )
        else:
            if random_step.info:
                raise ValueError("Incompatible info field")
            info = ()

        # The random branch is stateless: the next state is the greedy policy's
        # whichever action was taken (the state must not depend on the action).
        return policy_step.PolicyStep(action, greedy_step.state, info)

    def _mixture_log_probability(self, greedy: tf.Tensor, log_probability: Any) -> Any:
        """Adds the log-probability of the chosen branch to each branch's own."""
        epsilon = self._get_epsilon()
        random_branch = tf.nest.map_structure(
            lambda t: tf.math.log(tf.zeros_like(t) + epsilon), log_probability
        )
        greedy_branch = tf.nest.map_structure(
            lambda t: tf.math.log(tf.ones_like(t) - epsilon), random_branch
        )
        branch = nest_utils.where(greedy, greedy_branch, random_branch)
        return tf.nest.map_structure(lambda a, b: a + b, branch, log_probability)

    def _distribution(self, time_step: Any, policy_state: Any) -> Any:
        raise NotImplementedError("EpsilonGreedyPolicy does not support distributions yet.")

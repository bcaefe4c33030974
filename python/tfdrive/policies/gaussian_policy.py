"""`GaussianPolicy`: adds independent Gaussian noise to a policy's continuous actions."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step

__all__ = ["GaussianPolicy"]


class GaussianPolicy(tf_policy.TFPolicy):
    """Exploration by ``action + N(0, scale^2)`` noise.

    Args:
      wrapped_policy: A `TFPolicy` (tfdrive's or TF-Agents') with floating
        point action specs only.
      scale: The noise's standard deviation (same for every action entry).
      clip: Whether `action` clips the noisy actions to the spec's bounds.
      name: The `tf.Module` name; defaults to the class name.

    Time step, action, state and info specs are the wrapped policy's; the
    noise has each action spec's shape and dtype: one draw per `action`
    call, shared by every batch entry. `distribution` is not supported.

    Raises:
      ValueError: If an action spec is not floating point.
    """

    def __init__(
        self,
        wrapped_policy: Any,
        scale: float = 1.0,
        clip: bool = True,
        name: str | None = None,
    ):
        def check_continuous(spec: Any) -> None:
            if not tensor_spec.is_continuous(spec):
                raise ValueError("Gaussian Noise is applicable only to continuous actions.")

        tf.nest.map_structure(check_continuous, wrapped_policy.action_spec)
        super().__init__(
            wrapped_policy.time_step_spec,
            wrapped_policy.action_spec,
            wrapped_policy.policy_state_spec,
            wrapped_policy.info_spec,
            clip=clip,
            name=name,
        )
        self._wrapped_policy = wrapped_policy

        def noise(spec: Any) -> tfp.distributions.Normal:
            return tfp.distributions.Normal(
                loc=tf.zeros(spec.shape, dtype=spec.dtype),
                scale=tf.ones(spec.shape, dtype=spec.dtype) * scale,
            )

        self._noise_distribution = tf.nest.map_structure(noise, self._action_spec)

    def _variables(self) -> list:
        return self._wrapped_policy.variables()

    def _action(
        self, time_step: Any, policy_state: Any, seed: Any = None
    ) -> policy_step.PolicyStep:
        seed_stream = tfp.util.SeedStream(seed=seed, salt="gaussian_noise")
        step = self._wrapped_policy.action(time_step, policy_state, seed_stream())
        # One noise sample of the spec's shape, broadcast over the batch.
        actions = tf.nest.map_structure(
            lambda action, noise: action + noise.sample(seed=seed_stream()),
            step.action,
            self._noise_distribution,
        )
        return policy_step.PolicyStep(actions, step.state, step.info)

    def _distribution(self, time_step: Any, policy_state: Any) -> Any:
        raise NotImplementedError("Distributions are not implemented yet.")

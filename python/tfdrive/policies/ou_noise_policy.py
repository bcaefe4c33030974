"""`OUNoisePolicy`: adds Ornstein-Uhlenbeck noise to a policy's continuous actions."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive.policies import tf_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common

__all__ = ["OUNoisePolicy"]


class OUNoisePolicy(tf_policy.TFPolicy):
    """Exploration by temporally correlated noise, as in DDPG.

    Each action leaf gets the next value of its own zero-mean
    Ornstein-Uhlenbeck process (`common.OUProcess`, a non-trainable
    variable shaped like the action spec, shared by every batch entry):
    ``x <- (1 - ou_damping) * x + N(0, ou_stddev^2)``, then
    ``action + x``. The processes (and their variables) are created on the
    first `action` call.

    Args:
      wrapped_policy: A `TFPolicy` (tfdrive's or TF-Agents') with floating
        point action specs only.
      ou_stddev: The standard deviation of each step's Gaussian increment.
      ou_damping: How fast the noise decays towards 0, in ``[0, 1]`` (1 gives
        uncorrelated Gaussian noise).
      clip: Whether `action` clips the noisy actions to the spec's bounds.
      name: The `tf.Module` name; defaults to the class name.

    Time step, action, state and info specs are the wrapped policy's.
    `distribution` is not supported.

    Raises:
      ValueError: If an action spec is not floating point.
    """

    def __init__(
        self,
        wrapped_policy: Any,
        ou_stddev: float = 1.0,
        ou_damping: float = 1.0,
        clip: bool = True,
        name: str | None = None,
    ):
        def check_continuous(spec: Any) -> None:
            if not tensor_spec.is_continuous(spec):
                raise ValueError("OU Noise is applicable only to continuous actions.")

        tf.nest.map_structure(check_continuous, wrapped_policy.action_spec)
        super().__init__(
            wrapped_policy.time_step_spec,
            wrapped_policy.action_spec,
            wrapped_policy.policy_state_spec,
            wrapped_policy.info_spec,
            clip=clip,
            name=name,
        )
        self._ou_stddev = ou_stddev
        self._ou_damping = ou_damping
        self._ou_process = None
        self._wrapped_policy = wrapped_policy

    def _variables(self) -> list:
        return self._wrapped_policy.variables()

    def _action(
        self, time_step: Any, policy_state: Any, seed: Any = None
    ) -> policy_step.PolicyStep:
        seed_stream = tfp.util.SeedStream(seed=seed, salt="ou_noise")

        def new_process(spec: Any) -> Any:
            return common.OUProcess(
                lambda: tf.zeros(spec.shape, dtype=spec.dtype),
                self._ou_damping,
                self._ou_stddev,
                seed=seed_stream(),
            )

        if self._ou_process is None:
            self._ou_process = tf.nest.map_structure(new_process, self._action_spec)

        step = self._wrapped_policy.action(time_step, policy_state, seed_stream())
        actions = tf.nest.map_structure(
            lambda action, process: action + process(), step.action, self._ou_process
        )
        return policy_step.PolicyStep(actions, step.state, step.info)

    def _distribution(self, time_step: Any, policy_state: Any) -> Any:
        raise NotImplementedError("Distributions are not implemented yet.")

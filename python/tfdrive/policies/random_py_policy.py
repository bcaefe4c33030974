"""`RandomPyPolicy`: uniformly random actions drawn with a seeded numpy RNG."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from tfdrive.policies import py_policy
from tfdrive.specs import array_spec
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest_utils

__all__ = ["RandomPyPolicy"]


def _as_tensor(action: np.ndarray) -> Any:
    """`action` as a `tf.Tensor`, the type TF-Agents' masked sampling returns.

    The draw itself stays on the policy's seeded numpy RNG; without TensorFlow
    installed the numpy array is returned.
    """
    try:
        import tensorflow as tf
    except ImportError:
        return action
    return tf.convert_to_tensor(action)


def _check_maskable(action_spec: Any) -> None:
    """Raises `NotImplementedError` unless `action_spec` is one bounded spec shaped () or (1,).

    Checked by structure (bounds, shape, dtype), so TF-Agents' `BoundedArraySpec`
    qualifies as well as tfdrive's.
    """
    is_bounded_leaf = not isinstance(action_spec, (list, tuple, dict)) and all(
        hasattr(action_spec, a) for a in ("shape", "dtype", "minimum", "maximum")
    )
    if not is_bounded_leaf:
        raise NotImplementedError(
            "RandomPyPolicy only supports action constraints for BoundedArraySpec action specs."
        )
    if tuple(action_spec.shape) not in ((), (1,)):
        raise NotImplementedError(
            "RandomPyPolicy only supports action constraints for action specs "
            "shaped as () or (1,) or their equivalent list forms."
        )


class RandomPyPolicy(py_policy.PyPolicy):
    """Samples actions uniformly from the action spec's bounds.

    Integer specs give integers in ``[minimum, maximum]`` (inclusive), float
    specs floats in ``[minimum, maximum)``. Info arrays are sampled from
    `info_spec` the same way. The input policy state is returned unchanged.

    Args:
      time_step_spec: The `TimeStep` spec; None means `ts.time_step_spec()`.
        When `outer_dims` is None, the outer dims of each call come from
        comparing the observation with this spec (e.g. ``[B]`` for a batched
        environment, ``()`` for an unbatched one).
      action_spec: A nest of `BoundedArraySpec`s.
      policy_state_spec: A nest of `ArraySpec`s (state is passed through).
      info_spec: A nest of `ArraySpec`s; info is random samples of it.
      seed: Seed of the `np.random.RandomState` used for all draws.
      outer_dims: Fixed outer dims (e.g. ``(B,)``) for every sample, or None.
      observation_and_action_constraint_splitter: Callable returning
        ``(observation, mask)``; actions are then drawn uniformly among the
        entries where ``mask`` (shape ``outer_dims + [num_actions]``, or
        ``[num_actions]`` for one mask shared by the batch) is nonzero, and
        returned as a `tf.Tensor` like TF-Agents' (a numpy array when
        TensorFlow is not installed). Only for a single `BoundedArraySpec`
        shaped ``()`` or ``(1,)``.

    Raises:
      NotImplementedError: A splitter with an action spec that is not a
        single `BoundedArraySpec` shaped ``()`` or ``(1,)``.
    """

    def __init__(
        self,
        time_step_spec: Any,
        action_spec: Any,
        policy_state_spec: Any = (),
        info_spec: Any = (),
        seed: int | None = None,
        outer_dims: Sequence[int] | None = None,
        observation_and_action_constraint_splitter: Callable[[Any], Any] | None = None,
    ):
        self._seed = seed
        self._outer_dims = outer_dims
        if observation_and_action_constraint_splitter is not None:
            _check_maskable(py_policy.to_array_spec_nest(action_spec))
        self._rng = np.random.RandomState(seed)
        if time_step_spec is None:
            time_step_spec = ts.time_step_spec()
        super().__init__(
            time_step_spec=time_step_spec,
            action_spec=action_spec,
            policy_state_spec=policy_state_spec,
            info_spec=info_spec,
            observation_and_action_constraint_splitter=observation_and_action_constraint_splitter,
        )

    def _masked_action(self, mask: Any, outer_dims: Sequence[int]) -> np.ndarray:
        mask = np.asarray(mask).astype(bool)
        if mask.ndim - 1 < len(outer_dims):
            # One mask shared by every batch entry: one draw per entry.
            mask = np.broadcast_to(mask, tuple(outer_dims) + mask.shape[-1:])
        spec = self._action_spec
        flat = mask.reshape(-1, mask.shape[-1])
        if not flat.any(axis=-1).all():
            raise ValueError(
                "Every action mask must allow at least one action; got an all-zero mask."
            )
        # One uniform draw per row, mapped onto the allowed indices.
        counts = flat.sum(axis=-1)
        picks = np.floor(self._rng.uniform(size=counts.shape) * counts).astype(np.int64)
        cumulative = np.cumsum(flat, axis=-1)
        index = (cumulative <= picks[:, None]).sum(axis=-1)
        action = (index + spec.minimum).astype(spec.dtype).reshape(mask.shape[:-1])
        if len(spec.shape) == 1:
            action = action[..., np.newaxis]
        return action

    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        del seed  # The policy's own RNG is used.
        outer_dims = self._outer_dims
        if outer_dims is None:
            if self.time_step_spec.observation:
                outer_dims = nest_utils.get_outer_array_shape(
                    time_step.observation, self.time_step_spec.observation
                )
            else:
                outer_dims = ()
        splitter = self.observation_and_action_constraint_splitter
        if splitter is not None:
            _, mask = splitter(time_step.observation)
            random_action = _as_tensor(self._masked_action(mask, outer_dims))
        else:
            random_action = array_spec.sample_spec_nest(
                self._action_spec, self._rng, outer_dims=outer_dims
            )
        info = array_spec.sample_spec_nest(self._info_spec, self._rng, outer_dims=outer_dims)
        return policy_step.PolicyStep(random_action, policy_state, info)

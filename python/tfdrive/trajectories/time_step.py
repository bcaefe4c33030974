"""`TimeStep`: what an environment emits at every step, and its helpers.

A `TimeStep` holds `step_type` (a `StepType` value), `reward`, `discount`
(in [0, 1]) and `observation`. The helpers `restart`, `transition`,
`termination` and `truncation` build one from numpy values or, when the
observation is a tensor, from tensors. Numpy paths need only numpy;
TensorFlow is imported only when a tensor is passed in.
"""

import pprint
from typing import Any, NamedTuple

import numpy as np

from tfdrive import _tf
from tfdrive.specs import array_spec
from tfdrive.utils import nest
from tfdrive.utils.nest_utils import is_tensor

__all__ = [
    "StepType",
    "TimeStep",
    "restart",
    "termination",
    "time_step_spec",
    "transition",
    "truncation",
]


def _as_array(a, t=np.float32):
    """`np.asarray(a, t)` (float32 by default), refusing values that become NaN.

    Raises:
      ValueError: the converted array contains NaN (e.g. `a` is None), with the
        offending value in the message.
    """
    if t is None:
        t = np.float32
    r = np.asarray(a, dtype=t)
    if (r != r) if r.ndim == 0 else np.isnan(np.sum(r)):
        raise ValueError(
            "Received a time_step input that converted to a nan array."
            " Did you accidentally set some input value to None?.\n"
            f"Got:\n{a}"
        )
    return r


def _get_np_dtype(spec):
    """The numpy dtype of an array or tensor spec; None for anything else."""
    if isinstance(spec, array_spec.ArraySpec) or array_spec._class_named(spec, "ArraySpec"):
        return np.dtype(spec.dtype)
    tf = _tf.loaded()
    if tf is not None and isinstance(spec, tf.TensorSpec):
        return np.dtype(spec.dtype.as_numpy_dtype)
    return None


class TimeStep(
    NamedTuple(
        "TimeStep",
        [("step_type", Any), ("reward", Any), ("discount", Any), ("observation", Any)],
    )
):
    """One step of an environment: `(step_type, reward, discount, observation)`.

    Attributes:
      step_type: int32 `StepType` values, scalar or shaped `[B]`.
      reward: float32 array/tensor shaped like `step_type` (or a nest, per the
        reward spec).
      discount: float32 in [0, 1], shaped like `step_type`.
      observation: an array/tensor or a nest of them, with the same outer
        dimensions.

    The first step of an episode is `StepType.FIRST`, the final one
    `StepType.LAST`, all others `StepType.MID`.
    """

    __slots__ = ()

    def is_first(self):
        """Element-wise `step_type == FIRST` (bool array, or bool tensor)."""
        if is_tensor(self.step_type):
            return _tf.loaded().equal(self.step_type, StepType.FIRST)
        return np.equal(self.step_type, StepType.FIRST)

    def is_mid(self):
        """Element-wise `step_type == MID` (bool array, or bool tensor)."""
        if is_tensor(self.step_type):
            return _tf.loaded().equal(self.step_type, StepType.MID)
        return np.equal(self.step_type, StepType.MID)

    def is_last(self):
        """Element-wise `step_type == LAST` (bool array, or bool tensor)."""
        if is_tensor(self.step_type):
            return _tf.loaded().equal(self.step_type, StepType.LAST)
        return np.equal(self.step_type, StepType.LAST)

    def __hash__(self):
        # Hashes the flattened leaves: fails (TypeError) on numpy arrays.
        return hash(tuple(nest.flatten(self)))

    def __repr__(self):
        return "TimeStep(\n" + pprint.pformat(dict(self._asdict()), sort_dicts=False) + ")"


class StepType:
    """Where a `TimeStep` lies in an episode; constants are 0-d int32 arrays."""

    # The first step of an episode (returned by reset).
    FIRST = np.asarray(0, dtype=np.int32)
    # Any step that is neither first nor last.
    MID = np.asarray(1, dtype=np.int32)
    # The final step of an episode.
    LAST = np.asarray(2, dtype=np.int32)

    def __new__(cls, value):
        """`StepType(v)` returns the constant equal to `v`.

        Raises:
          ValueError: `v` is not 0, 1 or 2.
        """
        if value == cls.FIRST:
            return cls.FIRST
        if value == cls.MID:
            return cls.MID
        if value == cls.LAST:
            return cls.LAST
        raise ValueError(f"No known conversion for `{value!r}` into a StepType")


def _as_multi_dim(maybe_scalar):
    if maybe_scalar is None:
        return ()
    if is_tensor(maybe_scalar) and maybe_scalar.shape.rank > 0:
        return maybe_scalar
    if np.asarray(maybe_scalar).ndim > 0:
        return maybe_scalar
    return (maybe_scalar,)


def restart(observation, batch_size=None, reward_spec=None):
    """A FIRST `TimeStep`: reward 0, discount 1.

    Args:
      observation: an array/tensor or a nest of them.
      batch_size: optional int (or int tensor) B; the step is then batched.
      reward_spec: optional nest of specs; the reward is zeros of those specs
        (with a leading B when batched) instead of a float32 scalar.

    Returns:
      Numpy observations: step_type `StepType.FIRST` (or int32 `[B]`), reward
      float32 0.0 (or `[B]`), discount float32 1.0 (or `[B]`). Tensor
      observations: the same values as tensors (`tf.fill`).
    """
    first_observation = nest.flatten(observation)[0]
    if not is_tensor(first_observation):
        if batch_size is not None:
            if reward_spec is None:
                reward = np.zeros(batch_size, dtype=np.float32)
            else:
                reward = nest.map_structure(
                    lambda r: np.zeros([batch_size] + list(r.shape), _get_np_dtype(r)),
                    reward_spec,
                )
            discount = np.ones(batch_size, dtype=np.float32)
            step_type = np.tile(StepType.FIRST, batch_size)
            return TimeStep(step_type, reward, discount, observation)
        if reward_spec is None:
            return TimeStep(StepType.FIRST, _as_array(0.0), _as_array(1.0), observation)
        reward = nest.map_structure(
            lambda r: np.zeros(r.shape, dtype=_get_np_dtype(r)), reward_spec
        )
        return TimeStep(StepType.FIRST, reward, _as_array(1.0), observation)

    tf = _tf.tf()
    shape = _as_multi_dim(batch_size)
    step_type = tf.fill(shape, StepType.FIRST, name="step_type")
    if reward_spec is None:
        reward = tf.fill(shape, _as_array(0.0), name="reward")
    else:
        reward = tf.nest.map_structure(
            lambda r: tf.fill(
                tf.concat([shape, r.shape], axis=-1),
                _as_array(0.0, _get_np_dtype(r)),
                name="reward",
            ),
            reward_spec,
        )
    discount = tf.fill(shape, _as_array(1.0), name="discount")
    return TimeStep(step_type, reward, discount, observation)


def _tensor_outer_shape(reward, outer_dims):
    tf = _tf.tf()
    if outer_dims is not None:
        return outer_dims
    first_reward = tf.nest.flatten(reward)[0]
    if first_reward.shape.rank == 0:
        return []
    return [tf.compat.dimension_value(first_reward.shape[0]) or tf.shape(input=first_reward)[0]]


def _to_reward_tensors(reward):
    tf = _tf.tf()
    return tf.nest.map_structure(
        lambda r: tf.convert_to_tensor(value=r, dtype=r.dtype, name="reward"), reward
    )


def _mid_or_last(step_type_value, observation, reward, discount, outer_dims):
    """Shared body of `transition` and `truncation` (given discount)."""
    first_observation = nest.flatten(observation)[0]
    if not is_tensor(first_observation):
        if outer_dims is not None:
            step_type = np.tile(step_type_value, outer_dims)
            return TimeStep(step_type, reward, _as_array(discount), observation)
        reward = nest.map_structure(lambda x: _as_array(x, _get_np_dtype(x)), reward)
        first_reward = nest.flatten(reward)[0]
        discount = _as_array(discount)
        if first_reward.shape:
            step_type = np.tile(step_type_value, first_reward.shape)
        else:
            step_type = step_type_value
        return TimeStep(step_type, reward, discount, observation)

    tf = _tf.tf()
    reward = _to_reward_tensors(reward)
    shape = _tensor_outer_shape(reward, outer_dims)
    step_type = tf.fill(shape, step_type_value, name="step_type")
    discount = tf.convert_to_tensor(value=discount, dtype=tf.float32, name="discount")
    if discount.shape.rank == 0:
        discount = tf.fill(shape, discount, name="discount_fill")
    return TimeStep(step_type, reward, discount, observation)


def transition(observation, reward, discount=1.0, outer_dims=None):
    """A MID `TimeStep`.

    Args:
      observation: an array/tensor or a nest of them.
      reward: a number/array/tensor or a nest of them. Numpy path: converted
        to float32 (a None or NaN reward raises `ValueError`) unless
        `outer_dims` is given, in which case it is kept as passed.
      discount: scalar or `[B]`; float32.
      outer_dims: optional batch shape; otherwise the batch shape is taken
        from the first reward (its whole shape for numpy, its first dimension
        for tensors).

    Returns:
      A `TimeStep` with `step_type` MID (int32, tiled to the batch shape);
      tensor inputs give tensors, with a scalar discount broadcast.

    Raises:
      ValueError: a reward or discount that converts to NaN (numpy path).
    """
    return _mid_or_last(StepType.MID, observation, reward, discount, outer_dims)


def termination(observation, reward, outer_dims=None):
    """A LAST `TimeStep` with discount 0.

    Args:
      observation: an array/tensor or a nest of them.
      reward: a number/array/tensor or a nest of them (numpy: converted to
        float32 unless `outer_dims` is given).
      outer_dims: optional batch shape; otherwise the first dimension of the
        first reward is the batch size.

    Returns:
      A `TimeStep` with `step_type` LAST and float32 discount 0.0 (or zeros of
      the batch shape).

    Raises:
      ValueError: a reward that converts to NaN (numpy path).
    """
    first_observation = nest.flatten(observation)[0]
    if not is_tensor(first_observation):
        if outer_dims is not None:
            step_type = np.tile(StepType.LAST, outer_dims)
            discount = np.zeros(outer_dims, dtype=np.float32)
            return TimeStep(step_type, reward, discount, observation)
        reward = nest.map_structure(lambda x: _as_array(x, _get_np_dtype(x)), reward)
        first_reward = nest.flatten(reward)[0]
        if first_reward.shape:
            batch_size = first_reward.shape[0]
            step_type = np.tile(StepType.LAST, batch_size)
            discount = np.zeros(batch_size, dtype=np.float32)
        else:
            step_type = StepType.LAST
            discount = _as_array(0.0)
        return TimeStep(step_type, reward, discount, observation)

    tf = _tf.tf()
    reward = _to_reward_tensors(reward)
    shape = _tensor_outer_shape(reward, outer_dims)
    step_type = tf.fill(shape, StepType.LAST, name="step_type")
    discount = tf.fill(shape, _as_array(0.0), name="discount")
    return TimeStep(step_type, reward, discount, observation)


def truncation(observation, reward, discount=1.0, outer_dims=None):
    """A LAST `TimeStep` that keeps the given discount (an episode cut short).

    Same arguments, conversions and errors as `transition`; only the step
    type differs (LAST).
    """
    return _mid_or_last(StepType.LAST, observation, reward, discount, outer_dims)


def time_step_spec(observation_spec=None, reward_spec=None):
    """The spec of the `TimeStep`s an environment emits.

    Args:
      observation_spec: a nest of `ArraySpec`s or of tensor specs
        (`tf.TypeSpec`); None gives `TimeStep((), (), (), ())`.
      reward_spec: optional nest of specs of the same kind; defaults to a
        scalar float32 spec named 'reward'.

    Returns:
      With array specs: step_type `ArraySpec([], int32, 'step_type')`,
      reward `ArraySpec([], float32, 'reward')`, discount
      `BoundedArraySpec([], float32, 0.0, 1.0, 'discount')`. With tensor
      specs: the matching `TensorSpec` / `BoundedTensorSpec`.

    Raises:
      TypeError: one of the specs is a tensor spec and the other an array spec.
    """
    if observation_spec is None:
        return TimeStep(step_type=(), reward=(), discount=(), observation=())

    first_observation_spec = nest.flatten(observation_spec)[0]
    if reward_spec is not None:
        first_reward_spec = nest.flatten(reward_spec)[0]
        if _tf.is_type_spec(first_reward_spec) != _tf.is_type_spec(first_observation_spec):
            raise TypeError(
                "Expected observation and reward specs to both be either tensor or "
                f"array specs, but saw spec values {first_observation_spec} vs. "
                f"{first_reward_spec}"
            )
    if _tf.is_type_spec(first_observation_spec):
        from tfdrive.specs import tensor_spec

        tf = _tf.tf()
        return TimeStep(
            step_type=tensor_spec.TensorSpec([], tf.int32, name="step_type"),
            reward=reward_spec or tf.TensorSpec([], tf.float32, name="reward"),
            discount=tensor_spec.BoundedTensorSpec(
                [], tf.float32, minimum=0.0, maximum=1.0, name="discount"
            ),
            observation=observation_spec,
        )
    return TimeStep(
        step_type=array_spec.ArraySpec([], np.int32, name="step_type"),
        reward=reward_spec or array_spec.ArraySpec([], np.float32, name="reward"),
        discount=array_spec.BoundedArraySpec(
            [], np.float32, minimum=0.0, maximum=1.0, name="discount"
        ),
        observation=observation_spec,
    )

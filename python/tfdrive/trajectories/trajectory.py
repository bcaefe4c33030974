"""`Trajectory` and `Transition`: the experience a driver hands to observers.

A `Trajectory` is one step of experience laid out for storage: the step
type and observation of the current time step, the action and policy info
taken there, and the next step type, reward and discount of the following
time step. A `Transition` keeps the three pieces whole:
`(time_step, action_step, next_time_step)`.

Numpy inputs give numpy outputs without importing TensorFlow; tensor inputs
give tensors.
"""

import pprint
from typing import Any, NamedTuple

import numpy as np

from tfdrive import _tf
from tfdrive.trajectories import policy_step
from tfdrive.trajectories import time_step as ts
from tfdrive.utils import nest
from tfdrive.utils.nest_utils import has_tensors, is_tensor

__all__ = [
    "Trajectory",
    "Transition",
    "boundary",
    "experience_to_transitions",
    "first",
    "from_episode",
    "from_transition",
    "last",
    "mid",
    "single_step",
    "to_n_step_transition",
    "to_transition",
    "to_transition_spec",
]


class Trajectory(
    NamedTuple(
        "Trajectory",
        [
            ("step_type", Any),
            ("observation", Any),
            ("action", Any),
            ("policy_info", Any),
            ("next_step_type", Any),
            ("reward", Any),
            ("discount", Any),
        ],
    )
):
    """One (or a batch / sequence of) step(s) of experience.

    Attributes:
      step_type: int32 `StepType` of the current time step.
      observation: observation of the current time step (a nest).
      action: the action taken for that observation (a nest).
      policy_info: the policy's info for that action (a nest, `()` if none);
        the policy state is not included.
      next_step_type: int32 `StepType` of the next time step.
      reward: reward of the next time step (a nest).
      discount: discount of the next time step.

    All fields share outer dimensions: none, `[B]`, `[T]` or `[B, T]`.
    """

    __slots__ = ()

    def is_first(self):
        """`step_type == FIRST`, element-wise (numpy bool or bool tensor)."""
        if is_tensor(self.step_type):
            return _tf.loaded().equal(self.step_type, ts.StepType.FIRST)
        return self.step_type == ts.StepType.FIRST

    def is_mid(self):
        """`step_type == MID and next_step_type == MID`, element-wise."""
        if is_tensor(self.step_type):
            tf = _tf.loaded()
            return tf.logical_and(
                tf.equal(self.step_type, ts.StepType.MID),
                tf.equal(self.next_step_type, ts.StepType.MID),
            )
        return (self.step_type == ts.StepType.MID) & (self.next_step_type == ts.StepType.MID)

    def is_last(self):
        """`next_step_type == LAST`, element-wise: the episode ends after this step."""
        if is_tensor(self.next_step_type):
            return _tf.loaded().equal(self.next_step_type, ts.StepType.LAST)
        return self.next_step_type == ts.StepType.LAST

    def is_boundary(self):
        """`step_type == LAST`, element-wise: the LAST -> FIRST step between episodes."""
        if is_tensor(self.step_type):
            return _tf.loaded().equal(self.step_type, ts.StepType.LAST)
        return self.step_type == ts.StepType.LAST

    def replace(self, **kwargs):
        """`_replace` under a public name: a copy with the given fields changed."""
        return self._replace(**kwargs)

    def __repr__(self):
        return "Trajectory(\n" + pprint.pformat(dict(self._asdict()), sort_dicts=False) + ")"


class Transition(
    NamedTuple(
        "Transition",
        [("time_step", Any), ("action_step", Any), ("next_time_step", Any)],
    )
):
    """`(time_step, action_step, next_time_step)`: an S, A, S' triple.

    Fields are shaped `[B, ...]` (or `[B, T, ...]` when sliced from
    trajectories); `action_step.state` is normally `()`.
    """

    __slots__ = ()

    def replace(self, **kwargs):
        """`_replace` under a public name: a copy with the given fields changed."""
        return self._replace(**kwargs)

    def __repr__(self):
        return "Transition(\n" + pprint.pformat(dict(self._asdict())) + ")"


def _create_trajectory(
    observation, action, policy_info, reward, discount, step_type, next_step_type, name_scope
):
    """Builds a Trajectory whose step types are filled to `discount`'s shape."""
    if has_tensors(observation, action, policy_info, reward, discount):
        tf = _tf.tf()
        with tf.name_scope(name_scope):
            discount = tf.identity(discount)
            shape = tf.shape(input=discount)

            def make_tensors(struct):
                return tf.nest.map_structure(tf.identity, struct)

            return Trajectory(
                step_type=tf.fill(shape, step_type),
                observation=make_tensors(observation),
                action=make_tensors(action),
                policy_info=make_tensors(policy_info),
                next_step_type=tf.fill(shape, next_step_type),
                reward=make_tensors(reward),
                discount=discount,
            )
    discount = np.asarray(discount)
    shape = discount.shape

    def make_arrays(struct):
        return nest.map_structure(np.asarray, struct)

    return Trajectory(
        step_type=np.full(shape, step_type),
        observation=make_arrays(observation),
        action=make_arrays(action),
        policy_info=make_arrays(policy_info),
        next_step_type=np.full(shape, next_step_type),
        reward=make_arrays(reward),
        discount=discount,
    )


_HELPER_DOC = """

    Args:
      observation: array/tensor nest shaped `[B, ...]`, `[T, ...]` or `[B, T, ...]`.
      action: array/tensor nest with the same outer dims.
      policy_info: array/tensor nest with the same outer dims (or `()`).
      reward: array/tensor nest with the same outer dims.
      discount: float array/tensor shaped `[]`, `[B]`, `[T]` or `[B, T]`; its
        shape is the outer shape of the step types.

    Returns:
      A `Trajectory`: numpy arrays (`np.asarray` of every leaf, int32 step types
      shaped like `discount`) unless some input is a tensor, then tensors.
    """


def _step_helper(name, step_type, next_step_type, summary):
    """A public helper building a trajectory step from `step_type` to `next_step_type`."""

    def helper(observation, action, policy_info, reward, discount):
        return _create_trajectory(
            observation,
            action,
            policy_info,
            reward,
            discount,
            step_type=step_type,
            next_step_type=next_step_type,
            name_scope=f"trajectory_{name}",
        )

    helper.__name__ = helper.__qualname__ = name
    helper.__doc__ = summary + _HELPER_DOC
    return helper


first = _step_helper(
    "first",
    ts.StepType.FIRST,
    ts.StepType.MID,
    "A trajectory step from FIRST to MID (an episode's first step).",
)
mid = _step_helper("mid", ts.StepType.MID, ts.StepType.MID, "A trajectory step from MID to MID.")
last = _step_helper(
    "last",
    ts.StepType.MID,
    ts.StepType.LAST,
    "A trajectory step from MID to LAST (an episode's final step).",
)
single_step = _step_helper(
    "single_step",
    ts.StepType.FIRST,
    ts.StepType.LAST,
    "A trajectory step from FIRST to LAST (a one-step episode).",
)
boundary = _step_helper(
    "boundary",
    ts.StepType.LAST,
    ts.StepType.FIRST,
    "A trajectory step from LAST to FIRST (between two episodes).",
)


def _maybe_static_outer_dim(t):
    tf = _tf.tf()
    if isinstance(t, tf.SparseTensor):
        static_shape = tf.get_static_value(t.dense_shape)
        if static_shape is not None:
            return static_shape[0]
        return t.dense_shape[0]
    if isinstance(t, tf.RaggedTensor):
        outer_dim = tf.compat.dimension_value(t.shape[0])
        return outer_dim if outer_dim is not None else t.nrows()
    outer_dim = tf.compat.dimension_value(t.shape[0])
    return outer_dim if outer_dim is not None else tf.shape(t)[0]


def from_episode(observation, action, policy_info, reward, discount=None):
    """A `[T]`-shaped Trajectory from the arrays/tensors of one whole episode.

    Step types are FIRST, MID, ..., MID and next step types MID, ..., MID,
    LAST (int32, length T). Without `discount`, T is the first dimension of
    the first reward and the discount is float32 ones of shape `[T]`.

    Args:
      observation, action, policy_info, reward: nests of `[T, ...]` arrays or
        tensors.
      discount: optional float `[T]` array/tensor.

    Returns:
      A `Trajectory` of numpy arrays, or of tensors if any input is a tensor.

    Raises:
      ValueError: a leaf's first dimension is not T (statically known).
    """
    use_tensors = has_tensors(observation, action, policy_info, reward, discount)
    if use_tensors:
        tf = _tf.tf()
        ones_fn, float_dtype = tf.ones, tf.float32
        convert_fn, concat_fn, maximum_fn, fill_fn = (
            tf.convert_to_tensor,
            tf.concat,
            tf.maximum,
            tf.fill,
        )

        def identity_map(struct):
            return tf.nest.map_structure(tf.identity, struct, expand_composites=True)
    else:
        ones_fn, float_dtype = np.ones, np.float32
        convert_fn, concat_fn, maximum_fn, fill_fn = np.asarray, np.concatenate, np.maximum, np.full

        def identity_map(struct):
            return nest.map_structure(np.asarray, struct)

    time_source = discount if discount is not None else nest.flatten(reward)[0]
    if is_tensor(time_source):
        num_frames = _maybe_static_outer_dim(time_source)
    else:
        num_frames = np.shape(time_source)[0]
    if discount is None:
        discount = ones_fn([num_frames], dtype=float_dtype)

    if not is_tensor(num_frames):

        def check_num_frames(t):
            outer_dim = _maybe_static_outer_dim(t) if is_tensor(t) else t.shape[0]
            if not is_tensor(outer_dim) and outer_dim != num_frames:
                raise ValueError(
                    f"Expected first dimension to be {num_frames}, but saw outer dim: {outer_dim}"
                )

        nest.map_structure(check_num_frames, (observation, action, policy_info, reward, discount))

    ts_first = convert_fn(ts.StepType.FIRST)
    ts_last = convert_fn(ts.StepType.LAST)
    mid_size = maximum_fn(0, num_frames - 1)
    ts_mid = fill_fn([mid_size], ts.StepType.MID)
    step_type = concat_fn(([ts_first], ts_mid), axis=0)
    next_step_type = concat_fn((ts_mid, [ts_last]), axis=0)
    return Trajectory(
        step_type=step_type,
        observation=identity_map(observation),
        action=identity_map(action),
        policy_info=identity_map(policy_info),
        next_step_type=next_step_type,
        reward=identity_map(reward),
        discount=identity_map(discount),
    )


def from_transition(time_step, action_step, next_time_step):
    """A Trajectory from `(time_step, action_step, next_time_step)`.

    Plain field assignment, nothing is copied or given a time dimension:
    step_type and observation from `time_step`, action and info from
    `action_step`, next_step_type, reward and discount from `next_time_step`.
    """
    return Trajectory(
        step_type=time_step.step_type,
        observation=time_step.observation,
        action=action_step.action,
        policy_info=action_step.info,
        next_step_type=next_time_step.step_type,
        reward=next_time_step.reward,
        discount=next_time_step.discount,
    )


def _validate_rank(variable, min_rank, max_rank=None):
    rank = len(variable.shape)
    if rank < min_rank or rank > max_rank:
        raise ValueError(
            f"Expect variable within rank [{min_rank},{max_rank}], but got rank {rank}."
        )


def _slice_sparse_axis1(t, start, end):
    """`t[:, start:end]` for a `tf.SparseTensor` (one of start/end is None)."""
    tf = _tf.loaded()
    length = t.dense_shape[1]
    lo = 0 if start is None else (start if start >= 0 else length + start)
    hi = length if end is None else (end if end >= 0 else length + end)
    keep = tf.reshape(tf.where((t.indices[:, 1] >= lo) & (t.indices[:, 1] < hi)), [-1])
    indices = tf.unstack(tf.gather(t.indices, keep), axis=1)
    indices = tf.stack(indices[:1] + [indices[1] - lo] + indices[2:], axis=1)
    new_shape = tf.unstack(t.dense_shape)
    new_shape[1] = hi - lo
    return tf.SparseTensor(
        indices=indices, values=tf.gather(t.values, keep), dense_shape=tf.stack(new_shape)
    )


def _slice_axis1(t, start, end):
    """`t[:, start:end]` for arrays, tensors and sparse tensors."""
    if is_tensor(t) and isinstance(t, _tf.loaded().SparseTensor):
        return _slice_sparse_axis1(t, start, end)
    ndims = len(t.shape)
    return t[(slice(None), slice(start, end)) + (slice(None),) * (ndims - 2)]


def _as_tensor_or_sparse(t):
    """`t` as a tensor; `tf.SparseTensor`s are kept."""
    tf = _tf.loaded()
    return t if isinstance(t, tf.SparseTensor) else tf.convert_to_tensor(t)


def _frame_axis1(t, index):
    """`t[:, index]` for tensors and sparse tensors (`index` is 0 or -1)."""
    tf = _tf.loaded()
    if not isinstance(t, tf.SparseTensor):
        return t[:, index]
    frame = _slice_sparse_axis1(t, index, index + 1 if index >= 0 else None)
    # The sliced axis has size 1: dropping it keeps every value.
    return tf.sparse.reshape(
        frame, tf.concat([frame.dense_shape[:1], frame.dense_shape[2:]], axis=0)
    )


def _zeros_like(x):
    if is_tensor(x):
        return _tf.loaded().zeros_like(x)
    return np.zeros_like(x)


def to_transition(trajectory, next_trajectory=None):
    """Splits trajectories into `(time_steps, policy_steps, next_time_steps)`.

    Args:
      trajectory: a `Trajectory`. Without `next_trajectory` its leaves must be
        `[B, T, ...]` (discount `[B, T]`); they are sliced along axis 1:
        time_steps take `[:, :-1]`, next observations `[:, 1:]`.
      next_trajectory: optional `Trajectory` of the following steps.

    Returns:
      A `Transition`. `time_steps.reward` and `time_steps.discount` are zeros
      (they are unknown); `policy_steps.state` is `()`; next_time_steps take
      next_step_type, reward and discount of `trajectory`. Tensors give
      tensors, numpy arrays numpy arrays.

    Raises:
      ValueError: `discount` does not have rank 1 or 2.
    """
    _validate_rank(trajectory.discount, min_rank=1, max_rank=2)
    if next_trajectory is not None:
        _validate_rank(next_trajectory.discount, min_rank=1, max_rank=2)
    if next_trajectory is None:
        next_trajectory = nest.map_structure(lambda t: _slice_axis1(t, 1, None), trajectory)
        trajectory = nest.map_structure(lambda t: _slice_axis1(t, None, -1), trajectory)
    policy_steps = policy_step.PolicyStep(
        action=trajectory.action, state=(), info=trajectory.policy_info
    )
    time_steps = ts.TimeStep(
        trajectory.step_type,
        reward=nest.map_structure(_zeros_like, trajectory.reward),
        discount=_zeros_like(trajectory.discount),
        observation=trajectory.observation,
    )
    next_time_steps = ts.TimeStep(
        step_type=trajectory.next_step_type,
        reward=trajectory.reward,
        discount=trajectory.discount,
        observation=next_trajectory.observation,
    )
    return Transition(time_steps, policy_steps, next_time_steps)


def to_n_step_transition(trajectory, gamma):
    """An N-step `Transition` from a `[B, N + 1]` trajectory of tensors.

    `next_time_step.reward` is the discounted sum
    `r_0 + g d_0 r_1 + g^2 d_0 d_1 r_2 + ... ` over the first N rewards and
    `next_time_step.discount = g^(N-1) * prod(d_0 .. d_{N-1})`;
    `time_step.reward` and `time_step.discount` are NaN. Outputs have no time
    dimension. Imports TensorFlow.

    Raises:
      ValueError: `discount` is not rank 2, or has fewer than 2 frames.
    """
    tf = _tf.tf()
    _validate_rank(trajectory.discount, min_rank=2, max_rank=2)
    trajectory = tf.nest.map_structure(_as_tensor_or_sparse, trajectory)
    time_dim = (
        tf.compat.dimension_value(trajectory.discount.shape[1]) or tf.shape(trajectory.discount)[1]
    )
    static_time_dim = tf.get_static_value(time_dim)
    if static_time_dim in (0, 1):
        raise ValueError(
            f"Trajectory frame count must be at least 2, but saw {static_time_dim}.  Shape of "
            f"trajectory.discount: {trajectory.discount.shape}"
        )
    n = time_dim - 1
    first_frame = tf.nest.map_structure(lambda t: _frame_axis1(t, 0), trajectory)
    final_frame = tf.nest.map_structure(lambda t: _frame_axis1(t, -1), trajectory)
    reward = trajectory.reward[:, :-1]
    discount = trajectory.discount[:, :-1]
    policy_steps = policy_step.PolicyStep(
        action=first_frame.action, state=(), info=first_frame.policy_info
    )
    # Discounted return of the first frame, accumulated backwards in time.
    rewards_tm = tf.transpose(reward, [1, 0] + list(range(2, len(reward.shape))))
    discounts_tm = tf.transpose(gamma * discount, [1, 0])
    discounted_reward = tf.foldr(
        lambda acc, rd: rd[0] + rd[1] * acc,
        (rewards_tm, discounts_tm),
        initializer=tf.zeros_like(rewards_tm[0]),
    )
    final_discount = gamma ** (n - 1) * tf.math.reduce_prod(discount, axis=1)
    time_steps = ts.TimeStep(
        first_frame.step_type,
        reward=tf.nest.map_structure(lambda r: np.nan * tf.ones_like(r), first_frame.reward),
        discount=np.nan * tf.ones_like(first_frame.discount),
        observation=first_frame.observation,
    )
    next_time_steps = ts.TimeStep(
        step_type=final_frame.step_type,
        reward=discounted_reward,
        discount=final_discount,
        observation=final_frame.observation,
    )
    return Transition(time_steps, policy_steps, next_time_steps)


def to_transition_spec(trajectory_spec):
    """The `Transition` spec of a `Trajectory` spec (policy state spec `()`)."""
    policy_step_spec = policy_step.PolicyStep(
        action=trajectory_spec.action, state=(), info=trajectory_spec.policy_info
    )
    time_step_spec = ts.TimeStep(
        trajectory_spec.step_type,
        reward=trajectory_spec.reward,
        discount=trajectory_spec.discount,
        observation=trajectory_spec.observation,
    )
    return Transition(time_step_spec, policy_step_spec, time_step_spec)


def experience_to_transitions(experience, squeeze_time_dim):
    """`to_transition(experience)`, optionally squeezing a time dim of 1."""
    transitions = to_transition(experience)
    if squeeze_time_dim:

        def squeeze(x):
            if is_tensor(x):
                return _tf.loaded().squeeze(x, [1])
            return np.squeeze(x, 1)

        transitions = nest.map_structure(squeeze, transitions)
    return transitions

"""Episode metrics in TF variables (TF-Agents' `tf_metrics`).

Each metric is a `TFStepMetric` called with a batched `Trajectory` of
tensors (e.g. as an observer of `DynamicStepDriver`); state is in variables,
so metrics work eagerly, in `tf.function`s and in TF1 graphs, and are saved
by checkpoints. Streaming metrics keep a per-env accumulator
(`[batch_size]`) and the values of the last `buffer_size` finished episodes
in a `TFDeque`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.metrics import tf_metric
from tfdrive.replay_buffers import table
from tfdrive.utils import common, nest_utils


class TFDeque:
    """A FIFO of the last `max_len` values of `shape` and `dtype`, in variables.

    Args:
      max_len: the most values kept; older ones are overwritten.
      dtype: the values' dtype.
      shape: the shape of one value.
      name: the prefix of the head counter's variable name.
    """

    def __init__(self, max_len: Any, dtype: Any, shape: Any = (), name: str = "TFDeque"):
        self._max_len = tf.convert_to_tensor(max_len, dtype=tf.int32)
        self._spec = tf.TensorSpec(shape, dtype, name="Buffer")
        self._buffer = table.Table(self._spec, capacity=max_len)
        # Values ever added (since clear); the next slot is head % max_len.
        self._head = common.create_variable(
            initial_value=0, dtype=tf.int32, shape=(), name=name + "Head"
        )

    @property
    def data(self) -> tf.Tensor:
        """The stored values in slot order, `[length, *shape]`."""
        return self._buffer.read(tf.range(self.length))

    @common.function(autograph=True)
    def extend(self, value: Any) -> None:
        """Adds the entries of `value` along its first dimension, in order."""
        for v in value:
            self.add(v)

    @common.function(autograph=True)
    def add(self, value: Any) -> None:
        self._buffer.write(tf.math.mod(self._head, self._max_len), value)
        self._head.assign_add(1)

    @property
    def length(self) -> tf.Tensor:
        """int32: the number of values stored."""
        return tf.minimum(self._head, self._max_len)

    @common.function
    def clear(self) -> None:
        self._head.assign(0)

    @common.function(autograph=True)
    def mean(self) -> tf.Tensor:
        """The mean of the stored values; zeros when empty."""
        if tf.equal(self._head, 0):
            return tf.zeros(self._spec.shape, self._spec.dtype)
        return tf.math.reduce_mean(self.data, axis=0)

    @common.function(autograph=True)
    def max(self) -> tf.Tensor:
        """The largest stored value; the dtype's minimum when empty."""
        if tf.equal(self._head, 0):
            return tf.fill(self._spec.shape, self._spec.dtype.min)
        return tf.math.reduce_max(self.data, axis=0)

    @common.function(autograph=True)
    def min(self) -> tf.Tensor:
        """The smallest stored value; the dtype's maximum when empty."""
        if tf.equal(self._head, 0):
            return tf.fill(self._spec.shape, self._spec.dtype.max)
        return tf.math.reduce_min(self.data, axis=0)


class _Counter(tf_metric.TFStepMetric):
    """Adds `_count(trajectory)` (a scalar of `dtype`) per call."""

    _VARIABLE: str

    def __init__(self, name: str, prefix: str, dtype: Any):
        super().__init__(name=name, prefix=prefix)
        self.dtype = dtype
        setattr(
            self,
            self._VARIABLE,
            common.create_variable(initial_value=0, dtype=dtype, shape=(), name=self._VARIABLE),
        )

    def _count(self, trajectory: Any) -> Any:
        raise NotImplementedError

    def call(self, trajectory: Any) -> Any:
        counter = getattr(self, self._VARIABLE)
        counter.assign_add(tf.reduce_sum(tf.cast(self._count(trajectory), self.dtype)))
        return trajectory

    def result(self) -> tf.Tensor:
        return tf.identity(getattr(self, self._VARIABLE), name=self.name)

    @common.function
    def reset(self) -> None:
        getattr(self, self._VARIABLE).assign(0)


@configurable
class EnvironmentSteps(_Counter):
    """Counts environment steps: transitions that are not episode boundaries."""

    _VARIABLE = "environment_steps"

    def __init__(self, name: str = "EnvironmentSteps", prefix: str = "Metrics", dtype=tf.int64):
        super().__init__(name, prefix, dtype)

    def _count(self, trajectory: Any) -> Any:
        return ~trajectory.is_boundary()


@configurable
class NumberOfEpisodes(_Counter):
    """Counts finished episodes: transitions into a LAST step."""

    _VARIABLE = "number_episodes"

    def __init__(self, name: str = "NumberOfEpisodes", prefix: str = "Metrics", dtype=tf.int64):
        super().__init__(name, prefix, dtype)

    def _count(self, trajectory: Any) -> Any:
        return trajectory.is_last()


class _ReturnMetric(tf_metric.TFStepMetric):
    """Per-env undiscounted returns; each finished episode's return goes to the deque.

    `_SUM_INNER`: sum rewards over their inner dimensions (AverageReturn
    does; Max/Min add them as they are).
    """

    _SUM_INNER = False

    def __init__(self, name, prefix, dtype, batch_size, buffer_size):
        super().__init__(name=name, prefix=prefix)
        self._buffer = TFDeque(buffer_size, dtype)
        self._dtype = dtype
        self._return_accumulator = common.create_variable(
            initial_value=0, dtype=dtype, shape=(batch_size,), name="Accumulator"
        )

    @common.function(autograph=True)
    def call(self, trajectory: Any) -> Any:
        acc = self._return_accumulator
        acc.assign(tf.where(trajectory.is_first(), tf.zeros_like(acc), acc))
        reward = trajectory.reward
        if self._SUM_INNER:
            reward = tf.reduce_sum(reward, axis=range(1, len(reward.shape)))
        acc.assign_add(reward)
        for index in tf.squeeze(tf.where(trajectory.is_last()), axis=-1):
            self._buffer.add(acc[index])
        return trajectory

    @common.function
    def reset(self) -> None:
        self._buffer.clear()
        self._return_accumulator.assign(tf.zeros_like(self._return_accumulator))


@configurable
class AverageReturnMetric(_ReturnMetric):
    """The mean return of the last `buffer_size` episodes (0 before any)."""

    _SUM_INNER = True

    def __init__(
        self, name="AverageReturn", prefix="Metrics", dtype=tf.float32, batch_size=1,
        buffer_size=10,
    ):  # fmt: skip
        super().__init__(name, prefix, dtype, batch_size, buffer_size)

    def result(self) -> tf.Tensor:
        return self._buffer.mean()


@configurable
class MaxReturnMetric(_ReturnMetric):
    """The largest return of the last `buffer_size` episodes (dtype minimum before any)."""

    def __init__(
        self, name="MaxReturn", prefix="Metrics", dtype=tf.float32, batch_size=1, buffer_size=10
    ):
        super().__init__(name, prefix, dtype, batch_size, buffer_size)

    def result(self) -> tf.Tensor:
        return self._buffer.max()


@configurable
class MinReturnMetric(_ReturnMetric):
    """The smallest return of the last `buffer_size` episodes (dtype maximum before any)."""

    def __init__(
        self, name="MinReturn", prefix="Metrics", dtype=tf.float32, batch_size=1, buffer_size=10
    ):
        super().__init__(name, prefix, dtype, batch_size, buffer_size)

    def result(self) -> tf.Tensor:
        return self._buffer.min()


@configurable
class AverageEpisodeLengthMetric(tf_metric.TFStepMetric):
    """The mean length (non-boundary steps) of the last `buffer_size` episodes."""

    def __init__(
        self, name="AverageEpisodeLength", prefix="Metrics", dtype=tf.float32, batch_size=1,
        buffer_size=10,
    ):  # fmt: skip
        super().__init__(name=name, prefix=prefix)
        self._buffer = TFDeque(buffer_size, dtype)
        self._dtype = dtype
        self._length_accumulator = common.create_variable(
            initial_value=0, dtype=dtype, shape=(batch_size,), name="Accumulator"
        )

    @common.function(autograph=True)
    def call(self, trajectory: Any) -> Any:
        lengths = self._length_accumulator
        stepping = tf.squeeze(tf.where(tf.logical_not(trajectory.is_boundary())), axis=-1)
        lengths.scatter_add(tf.IndexedSlices(tf.ones_like(stepping, dtype=lengths.dtype), stepping))
        ending = tf.squeeze(tf.where(trajectory.is_last()), axis=-1)
        for index in ending:
            self._buffer.add(lengths[index])
        lengths.scatter_update(tf.IndexedSlices(tf.zeros_like(ending, dtype=self._dtype), ending))
        return trajectory

    def result(self) -> tf.Tensor:
        return self._buffer.mean()

    @common.function
    def reset(self) -> None:
        self._buffer.clear()
        self._length_accumulator.assign(tf.zeros_like(self._length_accumulator))


@configurable
class ChosenActionHistogram(tf_metric.TFHistogramStepMetric):
    """The last `buffer_size` actions chosen (a histogram summary)."""

    def __init__(self, name="ChosenActionHistogram", dtype=tf.int32, buffer_size=100):
        super().__init__(name=name)
        self._buffer = TFDeque(buffer_size, dtype)
        self._dtype = dtype

    @common.function
    def call(self, trajectory: Any) -> Any:
        self._buffer.extend(trajectory.action)
        return trajectory

    @common.function
    def result(self) -> tf.Tensor:
        return self._buffer.data

    @common.function
    def reset(self) -> None:
        self._buffer.clear()


@configurable
class AverageReturnMultiMetric(tf_metric.TFMultiMetricStepMetric):
    """Mean returns of a nest of rewards (`reward_spec`), one value per reward leaf.

    Args:
      reward_spec: the spec nest of the rewards; each leaf's name names its
        value in summaries. Rewards of rank > 1 per env keep their inner shape.
    """

    def __init__(
        self, reward_spec, name="AverageReturnMultiMetric", prefix="Metrics", dtype=tf.float32,
        batch_size=1, buffer_size=10,
    ):  # fmt: skip
        self._batch_size = batch_size
        self._buffer = tf.nest.map_structure(
            lambda r: TFDeque(buffer_size, r.dtype, r.shape), reward_spec
        )
        self._dtype = dtype

        def accumulator(spec):
            shape = (batch_size,) + tuple(spec.shape)
            return common.create_variable(
                initial_value=np.zeros(shape),
                shape=shape,
                dtype=spec.dtype,
                name="Accumulator/" + spec.name,
            )

        self._return_accumulator = tf.nest.map_structure(accumulator, reward_spec)
        self._reward_spec = reward_spec
        names = [spec.name for spec in tf.nest.flatten(reward_spec)]
        super().__init__(name=name, prefix=prefix, metric_names=names)

    @common.function(autograph=True)
    def call(self, trajectory: Any) -> Any:
        nest_utils.assert_same_structure(trajectory.reward, self._reward_spec)
        for deque, acc, reward in zip(
            tf.nest.flatten(self._buffer),
            tf.nest.flatten(self._return_accumulator),
            tf.nest.flatten(trajectory.reward),
            strict=True,
        ):
            starting = trajectory.is_first()
            if reward.shape.rank > 1:
                starting = tf.broadcast_to(tf.reshape(starting, [-1, 1]), tf.shape(acc))
            acc.assign(tf.where(starting, tf.zeros_like(acc), acc))
            acc.assign_add(reward)
            for index in tf.squeeze(tf.where(trajectory.is_last()), axis=-1):
                deque.add(acc[index])
        return trajectory

    def result(self) -> Any:
        return tf.nest.map_structure(lambda deque: deque.mean(), self._buffer)

    @common.function
    def reset(self) -> None:
        tf.nest.map_structure(lambda deque: deque.clear(), self._buffer)
        tf.nest.map_structure(lambda acc: acc.assign(tf.zeros_like(acc)), self._return_accumulator)


def log_metrics(metrics: Any, prefix: str = "") -> None:
    """Logs every metric's `name = result` at INFO level under `prefix`."""
    lines = [f"{m.name} = {m.result().numpy()}" for m in metrics]
    logging.info("%s", "{} \n\t\t {}".format(prefix, "\n\t\t ".join(lines)))

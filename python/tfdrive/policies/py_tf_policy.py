"""`PyTFPolicy`: a `TFPolicy` run as a numpy `PyPolicy` through a TF1 graph and session.

The TF1 counterpart of `PyTFEagerPolicy`: the policy's `action` is built once
into a graph over placeholders (one time step placeholder per spec leaf,
with outer dims ``[batch_size]``, or ``[1]`` for unbatched use) and each call
is one ``session.run`` with the numpy inputs fed in. It needs graph mode
(e.g. inside ``with tf.Graph().as_default():``) and a session: set
`session`, or enter a session's context (``with session.as_default():``).
Under eager execution use `PyTFEagerPolicy` instead.
"""

from __future__ import annotations

import sys
from typing import Any

import tensorflow as tf
from absl import logging

from tfdrive.policies import py_policy
from tfdrive.specs import tensor_spec
from tfdrive.trajectories import policy_step
from tfdrive.utils import common, nest_utils

__all__ = ["PyTFPolicy"]


def _placeholders(spec_nest: Any, outer_dims: list) -> Any:
    """A nest of `tf.compat.v1.placeholder`s shaped ``outer_dims + spec.shape``."""

    def placeholder(spec: Any) -> tf.Tensor:
        shape = outer_dims + tf.TensorShape(spec.shape).as_list()
        return tf.compat.v1.placeholder(spec.dtype, shape, name=spec.name or "placeholder")

    return tf.nest.map_structure(placeholder, spec_nest)


def _array_specs(policy: Any, specs: Any) -> Any:
    """`specs` as array specs of `policy`'s library.

    TF-Agents compares spec classes (its `ArraySpec.__eq__` is False for any
    other class), so a TF-Agents policy gets TF-Agents' array specs; any other
    policy gets tfdrive's.
    """
    tfa_tensor_spec = sys.modules.get("tf_agents.specs.tensor_spec")
    if tfa_tensor_spec is not None and type(policy).__module__.startswith("tf_agents."):
        return tfa_tensor_spec.to_array_spec(specs)
    return tensor_spec.to_array_spec(specs)


class PyTFPolicy(py_policy.PyPolicy):
    """Exposes a `TFPolicy` as a `PyPolicy` in TF1 graph mode.

    The graph is built by `initialize(batch_size)`, or on first use: by
    `get_initial_state(batch_size)`, or by `action` from the time step's
    outer dims. Its batch size is then fixed: ``None`` means unbatched time
    steps (a batch dimension of 1 is added and removed around the graph; the
    policy state keeps it).

    Args:
      policy: The `TFPolicy` (tfdrive's or TF-Agents').
      batch_size: Deprecated and unused (as in TF-Agents); give the batch
        size to `initialize` instead.
      seed: The seed of the policy's sampling ops, fixed when the graph is
        built (`action` takes no seed).

    `action(time_step, policy_state)` returns a `PolicyStep` of numpy arrays.
    """

    def __init__(self, policy: Any, batch_size: int | None = None, seed: Any = None):
        if not all(hasattr(policy, m) for m in ("action", "get_initial_state", "variables")):
            logging.warning("Policy should implement tf_policy.TFPolicy")
        if batch_size is not None:
            logging.warning(
                "In PyTFPolicy constructor, `batch_size` is deprecated, this parameter has no "
                "effect. Pass the batch size to `initialize` instead."
            )
        super().__init__(
            _array_specs(policy, policy.time_step_spec),
            _array_specs(policy, policy.action_spec),
            policy_state_spec=(),
            info_spec=(),
        )
        self._tf_policy = policy
        self.session = None
        # The policy's own state spec, set after the base class (which takes
        # `()`), as TF-Agents does.
        self._policy_state_spec = _array_specs(policy, policy.policy_state_spec)
        self._batch_size: int | None = None
        self._batched: bool | None = None
        self._seed = seed
        self._built = False

    @property
    def session(self) -> Any:
        """The session-like object (anything with ``run``) the graph runs in.

        The one set, else the default session of the current context.

        Raises:
          AttributeError: None was set and no default session is active.
        """
        if self._session is not None:
            return self._session
        default = tf.compat.v1.get_default_session()
        if default is None:
            raise AttributeError(
                f"No TensorFlow session-like object was set on this {type(self).__name__!r}, "
                "and none could be retrieved using 'tf.get_default_session()'."
            )
        return default

    @session.setter
    def session(self, session: Any) -> None:
        self._session = session

    def _construct(self, batch_size: int | None, graph: tf.Graph) -> None:
        """Builds the placeholders and the action ops in `graph`."""
        self._batch_size = batch_size
        self._batched = batch_size is not None
        outer_dims = [batch_size] if self._batched else [1]
        with graph.as_default():
            self._time_step = _placeholders(self._tf_policy.time_step_spec, outer_dims)
            self._tf_initial_state = self._tf_policy.get_initial_state(batch_size=batch_size or 1)
            self._policy_state = tf.nest.map_structure(
                lambda s: tf.compat.v1.placeholder(s.dtype, s.shape, name="policy_state"),
                self._tf_initial_state,
            )
            self._action_step = self._tf_policy.action(
                self._time_step, self._policy_state, seed=self._seed
            )

    def initialize(self, batch_size: int | None, graph: tf.Graph | None = None) -> None:
        """Builds the graph for `batch_size` and initializes the policy's uninitialized variables.

        Args:
          batch_size: The outer dim of the time steps, or None for unbatched
            time steps.
          graph: The graph to build in; the default graph if None.

        Raises:
          RuntimeError: Already initialized.
        """
        if self._built:
            raise RuntimeError("PyTFPolicy can only be initialized once.")
        graph = graph or tf.compat.v1.get_default_graph()
        self._construct(batch_size, graph)
        variables = tf.nest.flatten(self._tf_policy.variables())
        common.initialize_uninitialized_variables(self.session, variables)
        self._built = True

    def _checkpointer(self, policy_dir: str, graph: tf.Graph | None) -> tuple[Any, Any, Any]:
        graph = graph or tf.compat.v1.get_default_graph()
        with graph.as_default():
            global_step = tf.compat.v1.train.get_or_create_global_step()
            checkpointer = common.Checkpointer(
                ckpt_dir=policy_dir, policy=self._tf_policy, global_step=global_step
            )
        return graph, global_step, checkpointer

    def save(self, policy_dir: str | None = None, graph: tf.Graph | None = None) -> None:
        """Writes a checkpoint of the policy and the global step to `policy_dir`.

        Raises:
          RuntimeError: Not initialized yet.
        """
        if not self._built:
            raise RuntimeError("PyTFPolicy has not been initialized yet.")
        # TF-Agents' default: None reaches the Checkpointer, which rejects it.
        graph, global_step, checkpointer = self._checkpointer(policy_dir, graph)  # type: ignore[arg-type]
        with graph.as_default():
            checkpointer.initialize_or_restore(self.session)
            with self.session.as_default():
                checkpointer.save(global_step)

    def restore(
        self, policy_dir: str, graph: tf.Graph | None = None, assert_consumed: bool = True
    ) -> Any:
        """Restores the policy from the latest checkpoint in `policy_dir`.

        Args:
          policy_dir: The checkpoint directory (as given to `save`).
          graph: The graph holding the policy; the default graph if None.
          assert_consumed: Require every value of the checkpoint to match a
            variable of the graph.

        Returns:
          The global step stored with the checkpoint.

        Raises:
          RuntimeError: Not initialized yet.
          AssertionError: `assert_consumed` and the checkpoint holds values
            that no variable of the graph takes.
        """
        if not self._built:
            raise RuntimeError("PyTFPolicy must be initialized before being restored.")
        graph, global_step, checkpointer = self._checkpointer(policy_dir, graph)
        with graph.as_default():
            status = checkpointer.initialize_or_restore(self.session)
            with self.session.as_default():
                if assert_consumed:
                    status.assert_consumed()
                status.run_restore_ops()
            return self.session.run(global_step)

    def _build_from_time_step(self, time_step: Any) -> None:
        outer_shape = nest_utils.get_outer_array_shape(time_step, self._time_step_spec)
        if len(outer_shape) > 1:
            raise ValueError(
                "Cannot handle more than one outer dimension. Saw "
                f"{len(outer_shape)} outer dimensions: {outer_shape}"
            )
        self.initialize(outer_shape[0] if outer_shape else None)

    def _get_initial_state(self, batch_size: int | None) -> Any:
        if not self._built:
            self.initialize(batch_size)
        if batch_size not in (self._batch_size, self._batch_size or 1):
            raise ValueError(
                "`batch_size` argument is different from the batch size provided previously. "
                f"Expected {self._batch_size}, but saw {batch_size}."
            )
        return self.session.run(self._tf_initial_state)

    def _action(self, time_step: Any, policy_state: Any, seed: Any = None) -> Any:
        if seed is not None:
            raise ValueError("`seed` is passed to the class as an argument.")
        if not self._built:
            self._build_from_time_step(time_step)
        step_type_shape = getattr(time_step.step_type, "shape", ())
        batch_size = step_type_shape[0] if step_type_shape else None
        if batch_size != self._batch_size:
            raise ValueError(
                "The batch size of time_step is different from the batch size provided "
                f"previously. Expected {self._batch_size}, but saw {batch_size}."
            )
        if not self._batched:
            # The state already carries the batch dim of 1 the graph expects.
            time_step = nest_utils.batch_nested_array(time_step)
        nest_utils.assert_same_structure(
            self._time_step,
            time_step,
            message="time_step and the policy's time_step_spec structures do not match",
        )
        feed_dict = dict(zip(tf.nest.flatten(self._time_step), tf.nest.flatten(time_step)))
        if policy_state is not None:
            feed_dict.update(
                zip(tf.nest.flatten(self._policy_state), tf.nest.flatten(policy_state))
            )
        action, state, info = self.session.run(self._action_step, feed_dict)
        if not self._batched:
            action, info = nest_utils.unbatch_nested_array([action, info])
        return policy_step.PolicyStep(action, state, info)

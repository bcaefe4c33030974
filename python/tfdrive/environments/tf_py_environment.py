"""Exposes a PyEnvironment as an in-graph TF environment
(``tf_agents.environments.tf_py_environment``).

:class:`TFPyEnvironment` runs the Python environment through
``tf.numpy_function``: ``reset()``, ``current_time_step()`` and ``step()``
return ``TimeStep``s of tensors with a leading batch dimension ``B`` (1 for
an unbatched environment, which is wrapped in a ``BatchedPyEnvironment``) and
the dtypes of ``time_step_spec()``. Any object with the PyEnvironment
interface is accepted: tfdrive's (Python or native) and TF-Agents' own.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from multiprocessing import pool as mp_pool
from typing import Any

import numpy as np
import tensorflow as tf

from tfdrive import _gin
from tfdrive.environments import batched_py_environment, tf_environment
from tfdrive.specs import tensor_spec

__all__ = ["TFPyEnvironment", "is_py_environment"]

_PY_ENVIRONMENT_MEMBERS = ("reset", "step", "time_step_spec", "action_spec", "observation_spec")


def is_py_environment(obj: Any) -> bool:
    """Whether ``obj`` has the PyEnvironment interface (checked by structure).

    True for tfdrive's and TF-Agents' PyEnvironments (and their wrappers):
    callable ``reset``, ``step``, ``time_step_spec``, ``action_spec`` and
    ``observation_spec`` plus a ``batched`` attribute. TF environments (whose
    ``time_step_spec`` holds ``tf.TypeSpec``s) are not PyEnvironments.
    """
    if isinstance(obj, tf_environment.TFEnvironment) or type(obj).__name__ == "TFPyEnvironment":
        return False
    if any(not callable(getattr(type(obj), name, None)) for name in _PY_ENVIRONMENT_MEMBERS):
        return False
    if any(cls.__name__ == "TFEnvironment" for cls in type(obj).__mro__):
        return False
    return hasattr(obj, "batched")


def _batched_class(env: Any) -> type:
    """The ``BatchedPyEnvironment`` class that batches ``env``.

    A TF-Agents PyEnvironment is batched by TF-Agents' own class, which keeps
    its semantics for its own environments (it accepts observations whose
    shapes differ from the spec's, and nested rewards); any other is batched
    by tfdrive's.
    """
    if any(cls.__module__.startswith("tf_agents.") for cls in type(env).__mro__):
        from tf_agents.environments import batched_py_environment as tfa_batched

        return tfa_batched.BatchedPyEnvironment
    return batched_py_environment.BatchedPyEnvironment


@contextlib.contextmanager
def _not_concurrently(lock: threading.Lock):
    """Runs the block holding ``lock``; raises if another call holds it."""
    if not lock.acquire(blocking=False):
        raise RuntimeError(
            "Detected concurrent execution of TFPyEnvironment ops. Make sure the "
            "appropriate step_state is passed to step()."
        )
    try:
        yield
    finally:
        lock.release()


@_gin.configurable
class TFPyEnvironment(tf_environment.TFEnvironment):
    """A PyEnvironment as a TF environment (see the module docs).

    Rewards and discounts come back with the dtypes of the env's specs;
    observations with their specs' dtypes, all with a leading ``B``.

    Args:
      environment: a PyEnvironment (tfdrive's, native or TF-Agents'), or a
        callable returning one (called on the isolation thread if any).
      check_dims: whether ``step`` checks that every action has a leading
        dimension equal to ``batch_size`` (``ValueError`` otherwise).
      isolation: ``False`` (the default): the env runs on whichever thread
        calls it; ``True``: on a dedicated thread; a ``multiprocessing.pool.Pool``
        (or ``ThreadPool``): on that pool. Calls are serialized in every case.

    Raises:
      TypeError: ``'Environment should implement py_environment.PyEnvironment'``
        if ``environment`` (or what the callable returns) is not a PyEnvironment.
    """

    def __init__(self, environment: Any, check_dims: bool = False, isolation: Any = False):
        if not isolation:
            self._pool = None
        elif isinstance(isolation, mp_pool.Pool):
            self._pool = isolation
        elif isolation is True:
            self._pool = mp_pool.ThreadPool(1)
        else:
            raise TypeError(
                "isolation should be True, False, or an instance of a multiprocessing Pool "
                f"or ThreadPool.  Saw: {isolation}"
            )
        if callable(environment) and not is_py_environment(environment):
            environment = self._execute(environment)
        if not is_py_environment(environment):
            raise TypeError("Environment should implement py_environment.PyEnvironment")
        if not environment.batched:
            environment = _batched_class(environment)([environment], multithreading=not self._pool)
        self._env = environment
        self._check_dims = check_dims
        if isolation and getattr(environment, "_parallel_execution", None):
            logging.warning(
                "The wrapped environment %s executes in parallel (a multithreaded "
                "BatchedPyEnvironment or a ParallelPyEnvironment): its calls no longer "
                "all happen on TFPyEnvironment's isolation thread.",
                environment,
            )
        super().__init__(
            tensor_spec.from_spec(environment.time_step_spec()),
            tensor_spec.from_spec(environment.action_spec()),
            environment.batch_size or 1,
        )
        self._time_step_dtypes = [s.dtype for s in tf.nest.flatten(self.time_step_spec())]
        self._time_step = None
        self._render_shape = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        """Forwards other attributes to the wrapped PyEnvironment."""
        if name.startswith("__") or name == "_env":
            raise AttributeError(name)
        env = self.__dict__.get("_env")
        if env is None:
            raise AttributeError(name)
        return getattr(env, name)

    @property
    def pyenv(self) -> Any:
        """The wrapped (batched) PyEnvironment."""
        return self._env

    def close(self) -> None:
        """Closes the wrapped env, then the isolation pool if this env owns one."""
        self._env.close()
        if self._pool:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def _execute(self, fn: Any, *args: Any) -> Any:
        if not self._pool:
            return fn(*args)
        return self._pool.apply(fn, args)

    def _pack(self, outputs: list) -> Any:
        """The flat numpy_function outputs as a ``TimeStep`` named after its specs."""
        batch_shape = tf.TensorShape([self.batch_size])
        named = []
        for output, spec in zip(outputs, tf.nest.flatten(self.time_step_spec()), strict=True):
            tensor = tf.identity(output, name=spec.name)
            if not tf.executing_eagerly():
                tensor.set_shape(batch_shape.concatenate(spec.shape))
            named.append(tensor)
        return tf.nest.pack_sequence_as(self.time_step_spec(), named)

    def _current_time_step(self) -> Any:
        def current_py():
            with _not_concurrently(self._lock):
                if self._time_step is None:
                    self._time_step = self._env.reset()
                return tf.nest.flatten(self._time_step)

        with tf.name_scope("current_time_step"):
            outputs = tf.numpy_function(
                lambda: self._execute(current_py),
                [],
                self._time_step_dtypes,
                name="current_time_step_py_func",
            )
            return self._pack(outputs)

    def _reset(self) -> Any:
        def reset_py():
            with _not_concurrently(self._lock):
                self._time_step = self._env.reset()

        with tf.name_scope("reset"):
            reset_op = tf.numpy_function(
                lambda: self._execute(reset_py), [], [], name="reset_py_func"
            )
            with tf.control_dependencies([reset_op]):
                return self.current_time_step()

    def _step(self, actions: Any) -> Any:
        def step_py(*flat_actions):
            with _not_concurrently(self._lock):
                action = tf.nest.pack_sequence_as(self.action_spec(), list(flat_actions))
                self._time_step = self._env.step(action)
                return tf.nest.flatten(self._time_step)

        with tf.name_scope("step"):
            flat_actions = [tf.identity(a) for a in tf.nest.flatten(actions)]
            if self._check_dims:
                for action in flat_actions:
                    if action.shape.rank == 0 or (
                        action.shape[0] is not None and action.shape[0] != self.batch_size
                    ):
                        raise ValueError(
                            f"Expected actions whose major dimension is batch_size "
                            f"({self.batch_size}), but saw action with shape {action.shape}:\n"
                            f"   {action}"
                        )
            outputs = tf.numpy_function(
                lambda *flat: self._execute(step_py, *flat),
                flat_actions,
                self._time_step_dtypes,
                name="step_py_func",
            )
            return self._pack(outputs)

    def render(self, mode: str = "rgb_array") -> Any:
        """Renders the env: a uint8 image tensor (zeros of the frame's shape for ``'human'``).

        Raises:
          NotImplementedError: if the wrapped env cannot render.
        """
        if not self._render_shape:
            self.current_time_step()
            self._render_shape = self._env.render("rgb_array").shape

        def render_py(mode_value):
            if isinstance(mode_value, np.ndarray):
                mode_value = mode_value.item()
            if isinstance(mode_value, bytes):
                mode_value = mode_value.decode("utf-8")
            if mode_value == "human":
                self._env.render(mode_value)
                return np.zeros(self._render_shape, dtype=np.uint8)
            return np.asarray(self._env.render(mode_value)).astype(np.uint8, copy=False)

        image = tf.numpy_function(
            lambda m: self._execute(render_py, m), [mode], [tf.uint8], name="render_py_func"
        )
        if not tf.executing_eagerly():
            image = image[0]
            image.set_shape(tf.TensorShape(self._render_shape))
        return image

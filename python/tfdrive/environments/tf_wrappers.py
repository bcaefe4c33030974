"""TF environment wrappers (``tf_agents.environments.tf_wrappers``).

- :class:`TFEnvironmentBaseWrapper`: forwards everything to the wrapped TF
  environment; subclasses override what they change.
- :class:`OneHotActionWrapper`: exposes integer actions as one-hot vectors.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfdrive.environments import tf_environment
from tfdrive.specs import tensor_spec

__all__ = ["OneHotActionWrapper", "TFEnvironmentBaseWrapper"]


class TFEnvironmentBaseWrapper(tf_environment.TFEnvironment):
    """Forwards specs, batching, stepping and rendering to ``env`` (a TF environment)."""

    def __init__(self, env: Any):
        super().__init__()
        self._env = env

    def __getattr__(self, name: str) -> Any:
        """Forwards other attributes to the wrapped environment."""
        if name.startswith("__") or name == "_env":
            raise AttributeError(name)
        env = self.__dict__.get("_env")
        if env is None:
            raise AttributeError(name)
        return getattr(env, name)

    def time_step_spec(self) -> Any:
        return self._env.time_step_spec()

    def action_spec(self) -> Any:
        return self._env.action_spec()

    def observation_spec(self) -> Any:
        return self._env.observation_spec()

    @property
    def batched(self) -> bool:
        return self._env.batched

    @property
    def batch_size(self) -> int:
        return self._env.batch_size

    def _current_time_step(self) -> Any:
        return self._env.current_time_step()

    def _reset(self) -> Any:
        return self._env.reset()

    def _step(self, action: Any) -> Any:
        return self._env.step(action)

    def render(self) -> Any:
        return self._env.render()


class OneHotActionWrapper(TFEnvironmentBaseWrapper):
    """Integer action specs of shape ``()`` or ``(n,)`` become one-hot specs.

    Each becomes ``BoundedTensorSpec(shape + (maximum - minimum + 1,), dtype,
    0, 1, name='one_hot_action_spec')``; other specs are unchanged. ``step``
    takes ``argmax`` over the last axis (in the action's dtype).

    Raises:
      ValueError: for an integer action spec of rank > 1.
    """

    def __init__(self, env: Any):
        super().__init__(env)

        def check(spec: Any) -> None:
            if spec.dtype.is_integer and spec.shape.rank > 1:
                raise ValueError(
                    "OneHotActionWrapper only supports actions with at most one dimension! "
                    f"action_spec: {spec}"
                )

        tf.nest.map_structure(check, self._env.action_spec())

    def action_spec(self) -> Any:
        def one_hot_spec(spec: Any) -> Any:
            if not spec.dtype.is_integer:
                return spec
            num_actions = spec.maximum - spec.minimum + 1
            return tensor_spec.BoundedTensorSpec(
                shape=spec.shape + (int(num_actions),),
                dtype=spec.dtype,
                minimum=0,
                maximum=1,
                name="one_hot_action_spec",
            )

        return tf.nest.map_structure(one_hot_spec, self._env.action_spec())

    def _step(self, action: Any) -> Any:
        return self._env.step(tf.argmax(action, axis=-1, output_type=action.dtype))

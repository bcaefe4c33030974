"""The network protocol of tfdrive's policies, and its base classes.

A network is called as ``net(observation, step_type=None, network_state=(),
training=False) -> (output, new_state)`` and exposes ``state_spec`` (a nest of
`TensorSpec`s, `()` when stateless), ``create_variables(input_spec)``
(returns the output spec) and ``variables``. tfdrive's policies accept any
object that has these (TF-Agents' own networks included); `Network` is
tfdrive's implementation, a `tf.Module` built without Keras.

A *distribution network* outputs (a nest of) `tfp` distributions; its
``output_spec`` is a nest of `DistributionSpec`s telling the action spec each
distribution samples (``sample_spec``) and the tensor parameters it is built
from (``input_params_spec``).
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

__all__ = [
    "DistributionNetwork",
    "DistributionSpec",
    "Network",
    "is_distribution_network",
    "is_network",
]


class DistributionSpec:
    """Describes a distribution-valued network output.

    Args:
      builder: Callable building the distribution from keyword parameters.
      input_params_spec: Dict of `TensorSpec`s of the parameters (e.g.
        ``{'logits': ...}`` or ``{'loc': ..., 'scale': ...}``), shapes without
        the batch dimension.
      sample_spec: The (bounded) action spec of a sample.
      **distribution_parameters: Fixed keyword arguments of `builder`.
    """

    def __init__(
        self,
        builder: Callable[..., Any],
        input_params_spec: Any,
        sample_spec: Any,
        **distribution_parameters: Any,
    ):
        self.builder = builder
        self.input_params_spec = input_params_spec
        self.sample_spec = sample_spec
        self.distribution_parameters = distribution_parameters

    def build_distribution(self, **parameters: Any) -> Any:
        kwargs = dict(self.distribution_parameters)
        kwargs.update(parameters)
        return self.builder(**kwargs)

    def __repr__(self) -> str:
        return (
            f"DistributionSpec(builder={self.builder}, input_params_spec="
            f"{self.input_params_spec}, sample_spec={self.sample_spec})"
        )


def is_network(obj: Any) -> bool:
    """True for objects with the network protocol (tfdrive's or TF-Agents')."""
    return callable(obj) and hasattr(obj, "create_variables") and hasattr(obj, "state_spec")


def is_distribution_network(obj: Any) -> bool:
    """True when `obj.output_spec` is a nest of distribution specs."""
    spec = getattr(obj, "output_spec", None)
    if spec is None:
        return False
    leaves = tf.nest.flatten(spec)
    return bool(leaves) and all(
        hasattr(s, "input_params_spec") and hasattr(s, "sample_spec") for s in leaves
    )


_UNTRACKED = frozenset({"_input_tensor_spec", "_state_spec", "_output_spec", "output_spec"})


class Network(tf.Module):
    """Base class of tfdrive networks.

    Subclasses build their variables in ``__init__`` and implement
    ``call(observation, step_type, network_state, training)``.

    Args:
      input_tensor_spec: The (nest of) `TensorSpec` of one observation.
      state_spec: Nest of `TensorSpec`s of the recurrent state, `()` if none.
      name: Module name.
    """

    def __init__(
        self, input_tensor_spec: Any = None, state_spec: Any = (), name: str | None = None
    ):
        super().__init__(name=name)
        self._input_tensor_spec = input_tensor_spec
        self._state_spec = state_spec

    def __setattr__(self, name: str, value: Any) -> None:
        # Specs stay plain nests (tf.Module tracking would wrap lists and dicts).
        if name in _UNTRACKED:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @property
    def input_tensor_spec(self) -> Any:
        return self._input_tensor_spec

    @property
    def state_spec(self) -> Any:
        return self._state_spec

    @property
    def layer_variables(self) -> list:
        """Variables in layer order (first layer's kernel, bias, ...)."""
        raise NotImplementedError

    @property
    def variables(self) -> list:  # type: ignore[override]
        """All variables in layer order (matching TF-Agents' Keras networks)."""
        return list(self.layer_variables)

    @property
    def trainable_variables(self) -> list:  # type: ignore[override]
        return [v for v in self.layer_variables if v.trainable]

    @property
    def output_spec(self) -> Any:
        return self._output_spec

    def create_variables(self, input_tensor_spec: Any = None, training: bool = False) -> Any:
        """Returns the output spec (variables exist from construction).

        As in TF-Agents, `input_tensor_spec` is only used by networks built
        without one; here every network has its own, so it is ignored.
        """
        del input_tensor_spec, training
        return self._output_spec

    def __call__(
        self,
        inputs: Any,
        step_type: Any = None,
        network_state: Any = (),
        training: bool = False,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        """Runs the network.

        Args:
          inputs: Observations matching `input_tensor_spec`, with outer dims
            ``[B]`` or ``[B, T]``.
          step_type: `StepType` tensor shaped like the outer dims (needed by
            recurrent networks to reset state on FIRST).
          network_state: Nest like `state_spec` with outer dim ``[B]``; `()`
            or None for the initial (zero) state.
          training: Unused by these networks (no dropout / batch norm).
          **kwargs: Passed to `call` (e.g. ``mask`` for categorical heads).

        Returns:
          ``(output, new_state)``.

        Raises:
          ValueError: If the inputs' structure, dtypes or inner shapes do not
            match `input_tensor_spec`.
        """
        inputs = tf.nest.map_structure(tf.convert_to_tensor, inputs)
        if self._input_tensor_spec is not None:
            self._check_inputs(inputs)
        if network_state is None:
            network_state = ()
        return self.call(
            inputs, step_type=step_type, network_state=network_state, training=training, **kwargs
        )

    def _check_inputs(self, inputs: Any) -> None:
        try:
            tf.nest.assert_same_structure(inputs, self._input_tensor_spec, check_types=False)
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"{type(self).__name__}: `inputs` structure does not match "
                f"`input_tensor_spec` {self._input_tensor_spec}: {e}"
            ) from None
        for x, spec in zip(tf.nest.flatten(inputs), tf.nest.flatten(self._input_tensor_spec)):
            dtype = tf.as_dtype(x.dtype)
            rank = spec.shape.rank
            inner = x.shape[x.shape.rank - rank :] if rank else tf.TensorShape([])
            if dtype != spec.dtype or not inner.is_compatible_with(spec.shape):
                raise ValueError(
                    f"{type(self).__name__}: `inputs` of dtype {dtype.name} and shape "
                    f"{x.shape} do not match `input_tensor_spec` {spec}."
                )

    def call(
        self, inputs: Any, step_type: Any, network_state: Any, training: bool = False, **kwargs
    ):
        raise NotImplementedError


class DistributionNetwork(Network):
    """A `Network` whose outputs are distributions described by `output_spec`."""

    def __init__(
        self,
        input_tensor_spec: Any,
        state_spec: Any,
        output_spec: Any,
        name: str | None = None,
    ):
        super().__init__(input_tensor_spec=input_tensor_spec, state_spec=state_spec, name=name)
        self._output_spec = output_spec

"""`MaskSplitterNetwork`: splits an action mask off the observation before a network.

Environments with state-dependent legal actions put the mask in the
observation (e.g. ``{'observation': ..., 'mask': ...}``). This network
calls ``observation, mask = splitter_fn(inputs)`` and feeds the
observation part to the wrapped network, adding ``mask=mask`` to the call
when ``passthrough_mask`` is True (a masked Q or categorical head uses it).
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf

from tfdrive.networks import network

__all__ = ["MaskSplitterNetwork"]


def _check_compatible_specs(specs: Any, reference_specs: Any) -> None:
    """Raises unless `specs` has `reference_specs`' leaf count and compatible shapes."""
    flat_specs, flat_reference = tf.nest.flatten(specs), tf.nest.flatten(reference_specs)
    compatible = len(flat_specs) == len(flat_reference) and all(
        tf.TensorShape(s.shape).is_compatible_with(r.shape)
        for s, r in zip(flat_specs, flat_reference)
    )
    if not compatible:
        raise ValueError(
            "specs must be compatible with reference_specs; instead got "
            f"specs={specs}, reference_specs={reference_specs}"
        )


class MaskSplitterNetwork(network.DistributionNetwork):
    """Passes the observation part of its input, and optionally the mask, to a network.

    ``output_spec`` is the wrapped network's when that is a distribution
    network, else None; ``state_spec`` is the wrapped network's.

    Args:
      splitter_fn: ``splitter_fn(inputs) -> (observation, mask)``; applied to
        specs too, to check `input_tensor_spec` against the wrapped network.
      wrapped_network: The network fed with the observation part.
      passthrough_mask: Also pass ``mask=mask`` to the wrapped network.
      input_tensor_spec: Optional nest of specs of the full input (mask included).
      name: Network name.

    Raises:
      ValueError: The observation part of `input_tensor_spec` is not
        compatible with the wrapped network's input spec.
    """

    def __init__(
        self,
        splitter_fn: Callable[[Any], tuple[Any, Any]],
        wrapped_network: Any,
        passthrough_mask: bool = False,
        input_tensor_spec: Any = None,
        name: str = "MaskSplitterNetwork",
    ):
        output_spec = (
            wrapped_network.output_spec
            if network.is_distribution_network(wrapped_network)
            else None
        )
        super().__init__(
            input_tensor_spec=input_tensor_spec,
            state_spec=wrapped_network.state_spec,
            output_spec=output_spec,
            name=name,
        )
        if input_tensor_spec is not None and wrapped_network.input_tensor_spec is not None:
            observation_spec, _ = splitter_fn(input_tensor_spec)
            _check_compatible_specs(observation_spec, wrapped_network.input_tensor_spec)
        self._wrapped_network = wrapped_network
        self._splitter_fn = splitter_fn
        self._passthrough_mask = passthrough_mask

    def call(self, observation, step_type=None, network_state=(), training=False, **kwargs):
        observation, mask = self._splitter_fn(observation)
        if self._passthrough_mask:
            kwargs["mask"] = mask
        return self._wrapped_network(
            inputs=observation,
            step_type=step_type,
            network_state=network_state,
            training=training,
            **kwargs,
        )

    def create_variables(self, input_tensor_spec: Any = None, **kwargs: Any) -> Any:
        """Builds the wrapped network on the observation part of the input spec.

        Returns:
          The wrapped network's output spec.
        """
        self.built = True
        input_tensor_spec = input_tensor_spec or self.input_tensor_spec
        observation_spec = None
        if input_tensor_spec is not None:
            observation_spec, _ = self._splitter_fn(input_tensor_spec)
        return self._wrapped_network.create_variables(observation_spec, **kwargs)

    def copy(self, **kwargs: Any) -> MaskSplitterNetwork:
        """A new splitter with a copy of the wrapped network, unless `wrapped_network` is given."""
        full_kwargs = dict(self._saved_kwargs, **kwargs)
        if "wrapped_network" not in kwargs:
            full_kwargs["wrapped_network"] = self._wrapped_network.copy()
        return type(self)(**full_kwargs)

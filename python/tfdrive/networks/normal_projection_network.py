"""`NormalProjectionNetwork`: features -> a Normal distribution over a continuous action.

The means come from a dense layer (squashed into the spec's bounds by
`mean_transform`, `tanh_squash_to_spec` by default); the standard deviations
either from a second dense layer of the same features (``state_dependent_std``)
or from one trainable bias independent of the input, both passed through
`std_transform` (softplus by default). With ``scale_distribution`` the
unsquashed Normal is instead pushed through ``tanh`` and rescaled to the spec,
so that every sample lies inside the bounds (`SquashToSpecNormal`).
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfdrive._gin import configurable
from tfdrive._keras import keras
from tfdrive.networks import network
from tfdrive.networks import utils as network_utils
from tfdrive.specs import distribution_spec
from tfdrive.utils import common

__all__ = [
    "BiasLayer",
    "NormalProjectionNetwork",
    "SquashToSpecNormal",
    "scale_distribution_to_spec",
    "tanh_squash_to_spec",
]

# Salt of the seed stream that seeds the kernels (TF-Agents' salt, so a given
# `seed` gives TF-Agents' initial means kernel).
_SEED_SALT = "tf_agents_normal_projection_network"


def tanh_squash_to_spec(inputs: tf.Tensor, spec: Any) -> tf.Tensor:
    """Maps `inputs` of any range into ``(spec.minimum, spec.maximum)`` with a tanh.

    Args:
      inputs: Float tensor ``[..., *spec.shape]`` (bounds broadcast from the right).
      spec: A `BoundedTensorSpec`.

    Returns:
      ``(max + min) / 2 + (max - min) / 2 * tanh(inputs)``, like `inputs`.
    """
    means = (spec.maximum + spec.minimum) / 2.0
    magnitudes = (spec.maximum - spec.minimum) / 2.0
    return means + magnitudes * tf.tanh(inputs)


class BiasLayer(keras.layers.Layer):
    """Adds one trainable bias vector to its input: ``inputs + bias``.

    The bias has the size of the last axis (``[1]`` for a rank-1 input, added
    to every entry).

    Args:
      bias_initializer: Initializer of the bias (a Keras initializer or name).
      **kwargs: Keras `Layer` arguments.
    """

    def __init__(self, bias_initializer: Any = "zeros", **kwargs: Any):
        super().__init__(**kwargs)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def build(self, input_shape: Any) -> None:
        input_shape = tf.TensorShape(input_shape)
        size = 1 if input_shape.rank == 1 else input_shape[-1]
        self.bias = self.add_weight(
            "bias", shape=(size,), initializer=self.bias_initializer, dtype=self.dtype
        )
        self.built = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        if inputs.shape.rank == 1:
            return tf.nn.bias_add(inputs[:, None], self.bias)[:, 0]
        return tf.nn.bias_add(inputs, self.bias)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config["bias_initializer"] = keras.initializers.serialize(self.bias_initializer)
        return config


class _StableTanh(tfp.bijectors.Bijector):
    """``y = tanh(x)`` whose inverse clips ``|y| <= 1`` just inside the open interval.

    Actions sampled and then clipped to the spec's bounds map to ``|y| == 1``,
    where ``atanh`` is infinite; clipping to 0.99999997 (the largest value with
    a finite ``atanh`` in float32 and float64) keeps their log-probabilities
    finite.
    """

    def __init__(self, validate_args: bool = False, name: str = "tanh"):
        parameters = dict(locals())
        super().__init__(
            forward_min_event_ndims=0,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype: Any, num_classes: Any = None) -> dict:
        return {}

    def _is_increasing(self) -> bool:
        return True

    def _forward(self, x: tf.Tensor) -> tf.Tensor:
        return tf.tanh(x)

    def _inverse(self, y: tf.Tensor) -> tf.Tensor:
        inside = tf.less_equal(tf.abs(y), 1.0)
        y = tf.where(inside, tf.clip_by_value(y, -0.99999997, 0.99999997), y)
        return tf.atanh(y)

    def _forward_log_det_jacobian(self, x: tf.Tensor) -> tf.Tensor:
        # log(1 - tanh(x)^2) written without the cancellation near |x| large.
        return 2.0 * (tf.constant(np.log(2.0), x.dtype) - x - tf.nn.softplus(-2.0 * x))


class SquashToSpecNormal(tfp.distributions.AutoCompositeTensorDistribution):
    """A Normal pushed through ``y = magnitude * tanh(x) + mean`` of a bounded spec.

    Samples lie strictly inside ``(spec.minimum, spec.maximum)``. The raw
    (unsquashed) Normal stays available as `input_distribution`; `mode` and
    `mean` are the squashed mode of the raw Normal, `stddev` its squashed
    standard deviation ``magnitude * tanh(stddev)``, and the KL divergence
    between two of them (same spec) is that of their raw Normals, which the
    change of variables leaves unchanged.

    Args:
      distribution: A `tfp.distributions.Normal` or `MultivariateNormalDiag`.
      spec: The `BoundedTensorSpec` whose bounds the samples fill.
      validate_args: As in `tfp.distributions.Distribution`.
      name: The distribution's name.

    Raises:
      ValueError: If `distribution` is neither Normal nor MultivariateNormalDiag.
    """

    def __init__(
        self,
        distribution: Any,
        spec: Any,
        validate_args: bool = False,
        name: str = "SquashToSpecNormal",
    ):
        parameters = dict(locals())
        if not isinstance(
            distribution, (tfp.distributions.Normal, tfp.distributions.MultivariateNormalDiag)
        ):
            raise ValueError(
                f"Input distribution must be a normal distribution, got {distribution} instead"
            )
        self.action_means, self.action_magnitudes = common.spec_means_and_magnitudes(spec)
        self._distribution = distribution
        self._spec = spec
        # Chain applies right to left: squash into (-1, 1), then scale and shift.
        bijector = tfp.bijectors.Chain(
            [
                tfp.bijectors.Shift(self.action_means)(tfp.bijectors.Scale(self.action_magnitudes)),
                _StableTanh(),
            ]
        )
        self._squashed_distribution = tfp.distributions.TransformedDistribution(
            distribution=distribution, bijector=bijector
        )
        super().__init__(
            dtype=distribution.dtype,
            reparameterization_type=distribution.reparameterization_type,
            validate_args=validate_args,
            allow_nan_stats=distribution.allow_nan_stats,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype: Any, num_classes: Any = None) -> dict:
        return dict(distribution=tfp.util.BatchedComponentProperties())

    @property
    def input_distribution(self) -> Any:
        """The raw (unsquashed) Normal."""
        return self._distribution

    def kl_divergence(self, other: Any, name: str = "kl_divergence") -> tf.Tensor:
        """KL divergence to another `SquashToSpecNormal` of the same spec bounds.

        Raises:
          ValueError: If `other` is not a `SquashToSpecNormal`, or its bounds differ.
        """
        if not isinstance(other, SquashToSpecNormal):
            raise ValueError(
                f"other distribution should be of type SquashToSpecNormal, got {other}"
            )
        if np.any(self.action_means != other.action_means) or np.any(
            self.action_magnitudes != other.action_magnitudes
        ):
            raise ValueError(
                "Other distribution does not have same action mean and magnitude. This mean "
                f"{self.action_means}, this magnitude {self.action_magnitudes}, other mean "
                f"{other.action_means}, other magnitude {other.action_magnitudes}."
            )
        return self.input_distribution.kl_divergence(other.input_distribution, name)

    def sample(self, sample_shape: Any = (), seed: Any = None, name: str = "sample") -> tf.Tensor:
        return self._squashed_distribution.sample(sample_shape, seed, name)

    def log_prob(self, value: Any, name: str = "log_prob") -> tf.Tensor:
        return self._squashed_distribution.log_prob(value, name)

    def prob(self, value: Any, name: str = "prob") -> tf.Tensor:
        return self._squashed_distribution.prob(value, name)

    def stddev(self, name: str = "stddev", **kwargs: Any) -> tf.Tensor:
        return self.action_magnitudes * tf.tanh(self.input_distribution.stddev())

    def mode(self, name: str = "mode", **kwargs: Any) -> tf.Tensor:
        return self.action_magnitudes * tf.tanh(self.input_distribution.mode()) + self.action_means

    def mean(self, name: str = "mean", **kwargs: Any) -> tf.Tensor:
        return self.mode(name)

    def event_shape_tensor(self, name: str = "event_shape_tensor") -> tf.Tensor:
        return self._squashed_distribution.event_shape_tensor(name)

    def batch_shape_tensor(self, name: str = "batch_shape_tensor") -> tf.Tensor:
        return self._squashed_distribution.batch_shape_tensor(name)

    def _event_shape(self) -> tf.TensorShape:
        return self._squashed_distribution.event_shape

    def _batch_shape(self) -> tf.TensorShape:
        return self._squashed_distribution.batch_shape


def scale_distribution_to_spec(distribution: Any, spec: Any) -> SquashToSpecNormal:
    """Squashes a Normal into the bounds of `spec` (see `SquashToSpecNormal`)."""
    return SquashToSpecNormal(distribution, spec)


def _kernel_seed(seed_stream: Callable[[], Any]) -> int | None:
    seed = seed_stream()
    return None if seed is None else seed % sys.maxsize


@configurable
class NormalProjectionNetwork(network.DistributionNetwork):
    """Maps features to a Normal distribution over one continuous action spec.

    Called as ``net(inputs, outer_rank, training=False, mask=None)`` with
    `inputs` ``outer_dims + [k]`` of the spec's dtype, where `outer_rank` is
    the number of outer dims; returns ``(distribution, ())`` whose batch shape
    is ``outer_dims`` (event shape ``spec.shape``): a
    `MultivariateNormalDiag` for a spec of rank >= 1, a `Normal` for a scalar
    spec, either wrapped in `SquashToSpecNormal` with ``scale_distribution``.
    Its ``output_spec`` is a `DistributionSpec` with parameters ``loc`` and
    ``scale``, each a `TensorSpec` of ``spec.shape`` and dtype.

    Variables: means kernel ``[k, n]`` and bias ``[n]`` (``n`` the number of
    elements of the spec), then either the state-dependent std kernel
    ``[k, n]`` and bias ``[n]``, or the std bias (``[spec.shape[-1]]``, ``[1]``
    for a scalar spec).

    Args:
      sample_spec: A float `BoundedTensorSpec` of the action.
      activation_fn: Activation of the means (and std) dense layers.
      init_means_output_factor: Scale of the variance-scaling init of the
        means (and std) kernels.
      std_bias_initializer_value: Initial value of the std bias (of the std
        layer's bias with ``state_dependent_std``), before `std_transform`.
      mean_transform: ``f(means, spec)`` applied to the means unless
        ``scale_distribution``; None leaves them unchanged.
      std_transform: Applied to the std parameters; None leaves them unchanged.
      state_dependent_std: Whether the stds come from a dense layer of the
        inputs rather than a bias independent of them.
      scale_distribution: Whether to squash the distribution into the spec
        (samples inside the bounds) rather than only the means. TFP's KL
        divergence and mode methods of a `TransformedDistribution` do not apply
        to it; `SquashToSpecNormal` provides its own.
      seed: Seeds the kernel initializers (through `seed_stream_class`).
      seed_stream_class: Callable ``(seed=, salt=)`` returning a stream whose
        calls return seeds (`tfp.util.SeedStream`).
      name: The network's name.

    Raises:
      ValueError: If `sample_spec` is a nest of more than one spec; when
        called, if the inputs' dtype is not the spec's.
      NotImplementedError: When called with a `mask`.
    """

    def __init__(
        self,
        sample_spec: Any,
        activation_fn: Callable[[tf.Tensor], tf.Tensor] | None = None,
        init_means_output_factor: float = 0.1,
        std_bias_initializer_value: float = 0.0,
        mean_transform: Callable[[tf.Tensor, Any], tf.Tensor] | None = tanh_squash_to_spec,
        std_transform: Callable[[tf.Tensor], tf.Tensor] | None = tf.nn.softplus,
        state_dependent_std: bool = False,
        scale_distribution: bool = False,
        seed: int | None = None,
        seed_stream_class: Callable[..., Any] = tfp.util.SeedStream,
        name: str = "NormalProjectionNetwork",
    ):
        if len(tf.nest.flatten(sample_spec)) != 1:
            raise ValueError("Normal Projection network only supports single spec samples.")
        self._scale_distribution = scale_distribution
        super().__init__(
            input_tensor_spec=None,
            state_spec=(),
            output_spec=self._output_distribution_spec(sample_spec, name),
            name=name,
        )
        self._sample_spec = sample_spec
        self._is_multivariate = sample_spec.shape.ndims > 0
        self._mean_transform = mean_transform
        self._std_transform = std_transform
        self._state_dependent_std = state_dependent_std

        num_elements = sample_spec.shape.num_elements()
        seed_stream = seed_stream_class(seed=seed, salt=_SEED_SALT)
        self._means_projection_layer = keras.layers.Dense(
            num_elements,
            activation=activation_fn,
            kernel_initializer=keras.initializers.VarianceScaling(
                scale=init_means_output_factor, seed=_kernel_seed(seed_stream)
            ),
            bias_initializer=keras.initializers.Zeros(),
            name="means_projection_layer",
        )
        self._stddev_projection_layer: Any = None  # a Dense layer with state_dependent_std
        if state_dependent_std:
            self._stddev_projection_layer = keras.layers.Dense(
                num_elements,
                activation=activation_fn,
                kernel_initializer=tf.compat.v1.variance_scaling_initializer(
                    scale=init_means_output_factor, seed=_kernel_seed(seed_stream)
                ),
                bias_initializer=keras.initializers.Constant(std_bias_initializer_value),
                name="stddev_projection_layer",
            )
        else:
            self._bias = BiasLayer(
                bias_initializer=keras.initializers.Constant(std_bias_initializer_value)
            )

    def _output_distribution_spec(
        self, sample_spec: Any, network_name: str
    ) -> distribution_spec.DistributionSpec:
        is_multivariate = sample_spec.shape.ndims > 0
        input_param_spec = {
            param: tf.TensorSpec(
                shape=sample_spec.shape, dtype=sample_spec.dtype, name=f"{network_name}_{param}"
            )
            for param in ("loc", "scale")
        }

        def distribution_builder(*args: Any, **kwargs: Any) -> Any:
            if is_multivariate:
                # The spec names the diagonal `scale`, as for a Normal.
                kwargs = dict(kwargs)
                kwargs["scale_diag"] = kwargs.pop("scale")
                distribution = tfp.distributions.MultivariateNormalDiag(*args, **kwargs)
            else:
                distribution = tfp.distributions.Normal(*args, **kwargs)
            if self._scale_distribution:
                return scale_distribution_to_spec(distribution, sample_spec)
            return distribution

        return distribution_spec.DistributionSpec(
            distribution_builder, input_param_spec, sample_spec=sample_spec
        )

    def call(
        self,
        inputs: tf.Tensor,
        outer_rank: int,
        training: bool = False,
        mask: Any = None,
    ) -> tuple[Any, tuple]:
        if inputs.dtype != self._sample_spec.dtype:
            raise ValueError("Inputs to NormalProjectionNetwork must match the sample_spec.dtype.")
        if mask is not None:
            raise NotImplementedError(
                f"NormalProjectionNetwork does not yet implement action masking; got mask={mask}"
            )
        # The projection's inputs are features, not observations: the caller
        # says how many outer dims they have.
        batch_squash = network_utils.BatchSquash(outer_rank)
        inputs = batch_squash.flatten(inputs)
        event_shape = [-1] + self._sample_spec.shape.as_list()

        means = self._means_projection_layer(inputs, training=training)
        means = tf.reshape(means, event_shape)
        # A scaled distribution squashes the whole Normal, so its means stay raw.
        if not self._scale_distribution and self._mean_transform is not None:
            means = self._mean_transform(means, self._sample_spec)
        means = tf.cast(means, self._sample_spec.dtype)

        if self._state_dependent_std:
            stds = self._stddev_projection_layer(inputs, training=training)
        else:
            stds = self._bias(tf.zeros_like(means), training=training)
        stds = tf.reshape(stds, event_shape)
        if self._std_transform is not None:
            stds = self._std_transform(stds)
        stds = tf.cast(stds, self._sample_spec.dtype)

        means = batch_squash.unflatten(means)
        stds = batch_squash.unflatten(stds)
        return self.output_spec.build_distribution(loc=means, scale=stds), ()

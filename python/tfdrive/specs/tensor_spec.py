"""Specs describing tensors, and helpers converting and sampling them.

`TensorSpec` is `tf.TensorSpec` and `BoundedTensorSpec` is TensorFlow's own
`BoundedTensorSpec`, so TF-Agents' and tfdrive's tensor specs are the same
types. The helpers (conversion from and to array specs, sampling, zeros,
outer dimensions) are implemented here. This module imports TensorFlow.
"""

import hashlib

import numpy as np
import tensorflow as tf
from tensorflow.python.framework import tensor_spec as _tf_tensor_spec

from tfdrive.specs import array_spec

__all__ = [
    "BoundedTensorSpec",
    "TensorSpec",
    "add_outer_dim",
    "add_outer_dims_nest",
    "from_pbtxt_file",
    "from_packed_proto",
    "from_proto",
    "from_spec",
    "is_bounded",
    "is_continuous",
    "is_discrete",
    "remove_outer_dims_nest",
    "sample_bounded_spec",
    "sample_spec_nest",
    "to_array_spec",
    "to_nest_array_spec",
    "to_pbtxt_file",
    "to_proto",
    "with_dtype",
    "zero_spec_nest",
]

TensorSpec = tf.TensorSpec
BoundedTensorSpec = _tf_tensor_spec.BoundedTensorSpec


def is_bounded(spec):
    """True for bounded array or tensor specs, or any spec-like with bounds.

    Returns None (falsy) for objects that are neither.
    """
    if isinstance(spec, (array_spec.BoundedArraySpec, BoundedTensorSpec)):
        return True
    if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
        return hasattr(spec, "dtype") and hasattr(spec, "shape")
    return None


def is_discrete(spec):
    """True if the spec's dtype is an integer type."""
    if isinstance(spec, TensorSpec):
        return spec.dtype.is_integer
    return array_spec.is_discrete(spec)


def is_continuous(spec):
    """True if the spec's dtype is a floating-point type."""
    if isinstance(spec, TensorSpec):
        return spec.dtype.is_floating
    return array_spec.is_continuous(spec)


def from_spec(spec):
    """Converts a nest of array specs to tensor specs, keeping bounds.

    Tensor specs (any `tf.TypeSpec`) pass through unchanged.

    Raises:
      ValueError: a leaf is not a spec (the message shows its type and value).
    """

    def convert(s):
        if isinstance(s, tf.TypeSpec):
            return s
        if is_bounded(s):
            return BoundedTensorSpec.from_spec(s)
        if isinstance(s, array_spec.ArraySpec) or array_spec._class_named(s, "ArraySpec"):
            return TensorSpec.from_spec(s)
        raise ValueError(f"No known conversion from type `{type(s)}` to a TensorSpec.  Saw:\n  {s}")

    return tf.nest.map_structure(convert, spec)


def to_array_spec(tensor_spec):
    """Converts a nest of tensor specs to array specs, keeping bounds and names.

    tfdrive array specs pass through unchanged; other libraries' array specs
    (e.g. TF-Agents') become tfdrive's.
    """

    def convert(s):
        if isinstance(s, array_spec.ArraySpec):
            return s
        if array_spec._class_named(s, "BoundedArraySpec"):
            return array_spec.BoundedArraySpec.from_spec(s)
        if array_spec._class_named(s, "ArraySpec"):
            return array_spec.ArraySpec.from_spec(s)
        if hasattr(s, "minimum") and hasattr(s, "maximum"):
            return array_spec.BoundedArraySpec(
                s.shape.as_list(),
                s.dtype.as_numpy_dtype,
                minimum=s.minimum,
                maximum=s.maximum,
                name=s.name,
            )
        return array_spec.ArraySpec(s.shape.as_list(), s.dtype.as_numpy_dtype, s.name)

    return tf.nest.map_structure(convert, tensor_spec)


def to_nest_array_spec(nest_array_spec):
    """Deprecated alias of `to_array_spec`."""
    return to_array_spec(nest_array_spec)


class _SeedStream:
    """Derives a deterministic sequence of op seeds from one seed and a salt.

    Yields the same integers as `tfp.util.SeedStream(seed, salt)`, so that
    sampling with a given seed reproduces TF-Agents' samples.
    """

    def __init__(self, seed, salt):
        if tf.is_tensor(seed):
            raise TypeError(f"A seed stream does not take tensor seeds: {seed}")
        self._seed = seed
        self._salt = salt
        self._counter = 0

    def __call__(self):
        self._counter += 1
        if self._seed is None:
            return None
        composite = str((self._seed, self._counter, self._salt)).encode("utf-8")
        return int(hashlib.sha512(composite).hexdigest(), 16)


def _random_uniform_int(shape, outer_dims, minval, maxval, dtype, seed=None):
    """Samples element-wise distinct integer/float bounds one bound at a time."""
    maxval = np.broadcast_to(maxval, minval.shape).astype(dtype.as_numpy_dtype)
    minval = np.broadcast_to(minval, maxval.shape).astype(dtype.as_numpy_dtype)
    sampling_maxval = maxval
    if dtype.is_integer:
        # Bounds are inclusive; tf.random.uniform's maxval is exclusive.
        sampling_maxval = np.where(maxval < dtype.max, maxval + 1, maxval)
    if not np.all(shape[-len(minval.shape) :] == minval.shape):
        raise ValueError(
            f"{shape[len(minval.shape) :]} == shape[-{len(minval.shape)}:] != "
            f"minval.shape == {minval.shape}.  shape == {shape}."
        )
    shape = tf.convert_to_tensor(shape, dtype=tf.int32)
    sample_shape = tf.concat((outer_dims, shape[: -len(minval.shape)]), axis=0)
    full_shape = tf.concat((outer_dims, shape), axis=0)
    samples = [
        tf.random.uniform(shape=sample_shape, minval=lo, maxval=hi, dtype=dtype, seed=seed)
        for lo, hi in zip(minval.flat, sampling_maxval.flat, strict=False)
    ]
    return tf.reshape(tf.stack(samples, axis=-1), full_shape)


def sample_bounded_spec(spec, seed=None, outer_dims=None):
    """Samples a bounded tensor spec uniformly (bounds inclusive for integers).

    Args:
      spec: a bounded spec with `shape`, `dtype`, `minimum`, `maximum`.
      seed: op-level seed for `tf.random.uniform`.
      outer_dims: optional leading dimensions (list or int tensor).

    Returns:
      A tensor of shape `outer_dims + spec.shape` and `spec.dtype`. Floats are
      sampled within `[max(min, dtype.min / 8), min(max, dtype.max / 8))`;
      uint8 is sampled as int32 and cast.
    """
    minval = spec.minimum
    maxval = spec.maximum
    dtype = tf.as_dtype(spec.dtype)
    is_uint8 = dtype == tf.uint8
    sampling_dtype = tf.int32 if is_uint8 else dtype
    if is_uint8:
        # Widen the bounds too, so that `maximum + 1` cannot wrap around to 0.
        minval = np.asarray(minval).astype(np.int32)
        maxval = np.asarray(maxval).astype(np.int32)
    if dtype in (tf.float64, tf.float32):
        # tf.random.uniform cannot span the whole range of these dtypes.
        minval = np.maximum(dtype.min / 8, minval)
        maxval = np.minimum(dtype.max / 8, maxval)
    if outer_dims is None:
        outer_dims = tf.constant([], dtype=tf.int32)
    else:
        outer_dims = tf.convert_to_tensor(outer_dims, dtype=tf.int32)

    def all_same(vals):
        if vals.size > 0 and vals.ndim > 0:
            return np.all(vals == vals[0])
        return True

    if (minval.ndim != 0 or maxval.ndim != 0) and not (all_same(minval) and all_same(maxval)):
        res = _random_uniform_int(
            shape=spec.shape,
            outer_dims=outer_dims,
            minval=minval,
            maxval=maxval,
            dtype=sampling_dtype,
            seed=seed,
        )
    else:
        minval = minval.item(0) if minval.ndim != 0 else minval
        maxval = maxval.item(0) if maxval.ndim != 0 else maxval
        if sampling_dtype.is_integer and maxval < sampling_dtype.max:
            maxval = maxval + 1
        shape = tf.convert_to_tensor(spec.shape, dtype=tf.int32)
        full_shape = tf.concat((outer_dims, shape), axis=0)
        res = tf.random.uniform(
            full_shape, minval=minval, maxval=maxval, dtype=sampling_dtype, seed=seed
        )
    if is_uint8:
        res = tf.cast(res, dtype=dtype)
    return res


def sample_spec_nest(structure, seed=None, outer_dims=(), minimum=None, maximum=None):
    """Samples every spec of a nest of tensor specs.

    Args:
      structure: a nest of `TensorSpec`, `BoundedTensorSpec` or
        `tf.SparseTensorSpec`.
      seed: optional seed; the same seed (with the same global seed) yields
        the same samples as TF-Agents.
      outer_dims: leading dimensions added to every sample.
      minimum, maximum: optional scalars that further restrict numeric specs.

    Returns:
      A nest of tensors (strings sampled as decimal digits 0-10, bools as 0/1).

    Raises:
      TypeError: a leaf is not a supported spec.
      NotImplementedError: a sparse spec with outer dims not known statically.
    """
    seed_stream = _SeedStream(seed=seed, salt="sample_spec_nest")

    def sample_fn(spec):
        if isinstance(spec, tf.SparseTensorSpec):
            return _sample_sparse(spec, outer_dims, seed_stream)
        if isinstance(spec, (TensorSpec, BoundedTensorSpec)):
            if spec.dtype == tf.string:
                digits = BoundedTensorSpec(spec.shape, tf.int32, minimum=0, maximum=10)
                return tf.as_string(
                    sample_bounded_spec(digits, outer_dims=outer_dims, seed=seed_stream())
                )
            if spec.dtype == tf.bool:
                bits = BoundedTensorSpec(spec.shape, tf.int32, minimum=0, maximum=1)
                return tf.cast(
                    sample_bounded_spec(bits, outer_dims=outer_dims, seed=seed_stream()),
                    tf.bool,
                )
            bounded = BoundedTensorSpec.from_spec(spec)
            spec_max = bounded.maximum
            if maximum is not None:
                spec_max = min(maximum, spec_max)
            spec_min = bounded.minimum
            if minimum is not None:
                spec_min = max(minimum, spec_min)
            bounded = BoundedTensorSpec(
                shape=bounded.shape, dtype=bounded.dtype, minimum=spec_min, maximum=spec_max
            )
            return sample_bounded_spec(bounded, outer_dims=outer_dims, seed=seed_stream())
        raise TypeError(f"Spec type not supported: '{spec}'")

    return tf.nest.map_structure(sample_fn, structure)


def _sample_sparse(spec, outer_dims, seed_stream):
    outer_shape = tf.get_static_value(outer_dims)
    if outer_dims is not None and outer_shape is None:
        raise NotImplementedError(f"outer_dims must be statically known, got: {outer_dims}")
    shape = tf.TensorShape(outer_shape if outer_shape is not None else []).concatenate(spec.shape)
    if shape.num_elements() == 0 or tf.compat.dimension_value(shape[0]) == 0:
        return tf.SparseTensor(
            indices=tf.zeros([0, shape.rank], dtype=tf.int64),
            values=tf.zeros([0], dtype=spec.dtype),
            dense_shape=shape,
        )
    indices_spec = BoundedTensorSpec(
        dtype=tf.int64,
        shape=[7, shape.rank],
        minimum=[0] * shape.rank,
        maximum=[x - 1 for x in shape.as_list()],
    )
    values_dtype = tf.int32 if spec.dtype == tf.string else spec.dtype
    values_spec = BoundedTensorSpec(
        dtype=values_dtype, shape=[7], minimum=0, maximum=shape.as_list()[-1] - 1
    )
    values = sample_bounded_spec(values_spec, seed=seed_stream())
    if spec.dtype == tf.string:
        values = tf.as_string(values)
    return tf.sparse.reorder(
        tf.SparseTensor(
            indices=sample_bounded_spec(indices_spec, seed=seed_stream()),
            values=values,
            dense_shape=shape,
        )
    )


def zero_spec_nest(specs, outer_dims=None):
    """Zero tensors for a nest of tensor specs.

    Args:
      specs: a nest of `TensorSpec`s.
      outer_dims: optional leading dimensions (list or int tensor).

    Returns:
      A nest of `tf.zeros(outer_dims + spec.shape, spec.dtype)`.

    Raises:
      NotImplementedError: a leaf is not a `TensorSpec`.
    """
    if specs:
        if outer_dims is None:
            outer_dims = tf.constant([], dtype=tf.int32)
        else:
            outer_dims = tf.convert_to_tensor(outer_dims, dtype=tf.int32)

    def make_zero(spec):
        if not isinstance(spec, TensorSpec):
            raise NotImplementedError(f"Spec type not supported: '{spec}'")
        if outer_dims is None:
            shape = spec.shape
        else:
            spec_shape = tf.convert_to_tensor(value=spec.shape, dtype=tf.int32)
            shape = tf.concat((outer_dims, spec_shape), axis=0)
        return tf.zeros(shape, spec.dtype)

    return tf.nest.map_structure(make_zero, specs)


def add_outer_dims_nest(specs, outer_dims):
    """Prepends `outer_dims` to every spec's shape, returning tensor specs.

    Array specs become tensor specs; bounded specs keep their bounds.

    Raises:
      ValueError: `outer_dims` is not a tuple or list.
    """
    if not isinstance(outer_dims, (tuple, list)):
        raise ValueError("outer_dims must be a tuple or list of dimensions")

    def add_outer_dims(spec):
        name = getattr(spec, "name", None)
        shape = outer_dims + spec.shape
        if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
            return BoundedTensorSpec(shape, spec.dtype, spec.minimum, spec.maximum, name)
        if isinstance(specs, tf.SparseTensorSpec):
            return tf.SparseTensorSpec(shape, spec.dtype)
        return TensorSpec(shape, spec.dtype, name=name)

    return tf.nest.map_structure(add_outer_dims, specs)


def add_outer_dim(specs, dim=None):
    """Prepends one dimension `dim` (None: unknown) to every spec's shape."""
    return add_outer_dims_nest(specs, outer_dims=(dim,))


def with_dtype(specs, dtype):
    """The nest of specs with every dtype replaced by `dtype`."""

    def update(spec):
        if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
            return BoundedTensorSpec(spec.shape, dtype, spec.minimum, spec.maximum, spec.name)
        return TensorSpec(spec.shape, dtype, name=spec.name)

    return tf.nest.map_structure(update, specs)


def remove_outer_dims_nest(specs, num_outer_dims):
    """Drops the first `num_outer_dims` dimensions of every spec's shape.

    Raises:
      ValueError: a spec has fewer than `num_outer_dims` dimensions.
    """

    def remove(spec):
        name = getattr(spec, "name", None)
        if len(spec.shape) < num_outer_dims:
            raise ValueError(
                f"The shape of spec {spec} has rank lower than the specified "
                f"num_outer_dims {num_outer_dims}"
            )
        shape = list(spec.shape)[num_outer_dims:]
        if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
            minimum, maximum = spec.minimum, spec.maximum
            if isinstance(minimum, (tuple, list)) and len(minimum) == len(spec.shape):
                minimum = minimum[num_outer_dims:]
            if isinstance(maximum, (tuple, list)) and len(maximum) == len(spec.shape):
                maximum = maximum[num_outer_dims:]
            return BoundedTensorSpec(shape, spec.dtype, minimum, maximum, name)
        if isinstance(spec, tf.SparseTensorSpec):
            return tf.SparseTensorSpec(shape, spec.dtype)
        return TensorSpec(shape, spec.dtype, name=name)

    return tf.nest.map_structure(remove, specs)


# --------------------------------------------------------------------------
# Spec nests as `struct_pb2.StructuredValue` protos (the format of
# ``policy_specs.pbtxt`` beside a saved policy).


def to_proto(spec):
    """Encodes a nest of array or tensor specs as a `struct_pb2.StructuredValue`.

    Array specs are converted to tensor specs first (`from_spec`); namedtuples,
    dicts, lists and tuples keep their structure (namedtuples by class name
    and fields).
    """
    from tensorflow.python.saved_model import nested_structure_coder

    return nested_structure_coder.encode_structure(from_spec(spec))


def from_proto(spec_proto):
    """Decodes a `struct_pb2.StructuredValue` into a nest of tensor specs.

    Namedtuples come back as namedtuple classes with the saved name and
    fields (not the original classes).
    """
    from tensorflow.python.saved_model import nested_structure_coder

    return nested_structure_coder.decode_proto(spec_proto)


def from_packed_proto(spec_packed_proto):
    """Decodes a `google.protobuf.Any` holding a `StructuredValue` (see `from_proto`)."""
    from tensorflow.core.protobuf import struct_pb2

    spec_proto = struct_pb2.StructuredValue()
    spec_packed_proto.Unpack(spec_proto)
    return from_proto(spec_proto)


def to_pbtxt_file(output_path, spec):
    """Writes `to_proto(spec)` as a text proto to `output_path`, creating its folder."""
    import os

    from google.protobuf import text_format

    tf.io.gfile.makedirs(os.path.dirname(output_path) or ".")
    with tf.io.gfile.GFile(output_path, "wb") as f:
        f.write(text_format.MessageToString(to_proto(spec)))


def from_pbtxt_file(spec_path):
    """Reads a nest of tensor specs written by `to_pbtxt_file` (see `from_proto`)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import struct_pb2

    spec_proto = struct_pb2.StructuredValue()
    with tf.io.gfile.GFile(spec_path, "rb") as f:
        text_format.MergeLines(f, spec_proto)
    return from_proto(spec_proto)

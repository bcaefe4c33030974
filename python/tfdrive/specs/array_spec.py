"""Specs describing numpy arrays: `ArraySpec` and `BoundedArraySpec`.

An `ArraySpec` fixes the shape and dtype of a numpy array before the array
exists; a `BoundedArraySpec` adds inclusive element-wise bounds. This module
needs only numpy (no TensorFlow); nests follow `tf.nest`'s rules through
`tfdrive.utils.nest`.
"""

import numbers

import numpy as np

from tfdrive.utils import nest

__all__ = [
    "ArraySpec",
    "BoundedArraySpec",
    "add_outer_dims_nest",
    "assert_arrays_spec_nest",
    "check_arrays_nest",
    "is_bounded",
    "is_continuous",
    "is_discrete",
    "sample_bounded_spec",
    "sample_spec_nest",
]


def _dtype_range(dtype):
    """The `(min, max)` a dtype can hold, as TensorFlow's `DType.min/max` give them.

    Floats give numpy scalars of that dtype, integers Python ints.

    Raises:
      TypeError: for dtypes without a numeric range (bool, complex, strings,
        objects).
    """
    if np.issubdtype(dtype, np.floating):
        info = np.finfo(dtype)
        return info.min, info.max
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    raise TypeError(f"Cannot find minimum value of {dtype!r}: it has no numeric range.")


def _class_named(obj, name):
    """True if a class in `type(obj)`'s MRO is called `name` (a foreign spec)."""
    return any(cls.__name__ == name for cls in type(obj).__mro__)


def sample_bounded_spec(spec, rng):
    """Draws one array uniformly within a bounded spec's bounds.

    Args:
      spec: a `BoundedArraySpec` (or anything with shape, dtype, minimum and
        maximum).
      rng: a `np.random.RandomState`.

    Returns:
      A numpy array of `spec.shape` and `spec.dtype`. Floats are drawn with
      `rng.uniform(min, max)`, integers with `rng.randint(min, max + 1)`
      (inclusive bounds), in the same order of draws as TF-Agents so that a
      given seed yields the same values.
    """
    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        return rng.randint(0, 2, size=spec.shape).astype(np.bool_)
    low = np.asarray(spec.minimum)
    high = np.asarray(spec.maximum)
    if np.issubdtype(dtype, np.floating):
        if dtype == np.float64:
            with np.errstate(over="ignore"):
                too_wide = np.isinf(high - low)
            # float64 cannot hold these elements' range width: halve them
            # (only them: halving a narrow range would leave its bounds).
            low = np.where(too_wide, low / 2, low)
            high = np.where(too_wide, high / 2, high)
        return rng.uniform(low, high, size=spec.shape).astype(dtype)

    if dtype == np.int64:
        with np.errstate(over="ignore"):
            overflow = high - low < 0
        # The width of these elements' interval overflows int64: halve them.
        low = np.where(overflow, low // 2, low)
        high = np.where(overflow, high // 2, high)
    # randint's upper bound is exclusive: `max + 1` as a Python int, which
    # cannot overflow (randint takes 2**63 for int64 and 2**64 for uint64).
    if low.size == 1 and high.size == 1:
        return rng.randint(int(low.flat[0]), int(high.flat[0]) + 1, size=spec.shape, dtype=dtype)
    # Element-wise bounds: one draw per element, in row-major order. (Bounds
    # are broadcast to the full shape, outer dimensions included.)
    low = np.broadcast_to(low, spec.shape)
    high = np.broadcast_to(high, spec.shape)
    samples = [
        rng.randint(int(lo), int(hi) + 1, size=1, dtype=dtype)[0]
        for lo, hi in zip(low.flat, high.flat, strict=True)
    ]
    return np.array(samples, dtype=dtype).reshape(spec.shape)


def sample_spec_nest(structure, rng, outer_dims=()):
    """Samples every spec of a nest.

    Args:
      structure: a nest of `ArraySpec`s; unbounded specs are sampled over
        their dtype's whole range.
      rng: a `np.random.RandomState`.
      outer_dims: leading dimensions prepended to every spec's shape.

    Returns:
      A nest of numpy arrays shaped `outer_dims + spec.shape`.
    """

    def sample_fn(spec):
        if np.dtype(spec.dtype) == np.bool_:  # No numeric bounds: True or False.
            return rng.randint(0, 2, size=tuple(outer_dims) + tuple(spec.shape)).astype(np.bool_)
        spec = BoundedArraySpec.from_spec(spec)
        spec = BoundedArraySpec(
            tuple(outer_dims) + tuple(spec.shape),
            spec.dtype,
            spec.minimum,
            spec.maximum,
            spec.name,
        )
        return sample_bounded_spec(spec, rng)

    return nest.map_structure(sample_fn, structure)


def check_arrays_nest(arrays, spec):
    """True if the nest `arrays` has `spec`'s layout and every array conforms."""
    try:
        assert_arrays_spec_nest(arrays, spec)
        return True
    except (TypeError, ValueError):
        return False


def assert_arrays_spec_nest(arrays, spec):
    """Checks that `arrays` has `spec`'s layout and every array conforms.

    Raises:
      ValueError: the layouts differ, or an array does not match its spec
        (the message shows the value and the spec).
      TypeError: a leaf of `spec` is not an `ArraySpec`, or nest types differ.
    """
    nest.assert_same_structure(arrays, spec)

    def check(array, leaf_spec):
        if not isinstance(leaf_spec, ArraySpec):
            raise TypeError(
                f'The spec "{leaf_spec}" is not an ArraySpec, instead "{type(leaf_spec)}"'
            )
        if not leaf_spec.check_array(array):
            raise ValueError(f'The value "{array}" does not match spec: {leaf_spec}')

    nest.map_structure(check, arrays, spec)


def add_outer_dims_nest(structure, outer_dims):
    """Prepends `outer_dims` (a tuple) to the shape of every spec in a nest.

    Bounded specs stay bounded with the same bounds; names are kept.
    """

    def add_outer_dims(spec):
        shape = outer_dims + spec.shape
        if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
            return BoundedArraySpec(shape, spec.dtype, spec.minimum, spec.maximum, spec.name)
        return ArraySpec(shape, spec.dtype, name=spec.name)

    return nest.map_structure(add_outer_dims, structure)


class ArraySpec:
    """The shape and dtype of a numpy array (or scalar).

    Attributes:
      shape: a tuple of ints.
      dtype: a `np.dtype`.
      name: an optional string; not part of equality.

    Specs are immutable, unhashable and picklable.
    """

    __hash__ = None  # type: ignore[assignment]  # unhashable by design, as in TF-Agents
    __slots__ = ("_shape", "_dtype", "_name")

    def __init__(self, shape, dtype, name=None):
        """Creates a spec.

        Args:
          shape: an iterable of ints.
          dtype: anything `np.dtype` accepts.
          name: an optional name.

        Raises:
          TypeError: `shape` is not iterable or `dtype` is not a numpy dtype.
        """
        self._shape = tuple(shape)
        self._dtype = np.dtype(dtype)
        self._name = name

    @property
    def shape(self):
        """The array shape, a tuple."""
        return self._shape

    @property
    def dtype(self):
        """The array dtype, a `np.dtype`."""
        return self._dtype

    @property
    def name(self):
        """The spec's name (or None)."""
        return self._name

    def __repr__(self):
        return f"ArraySpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"

    def __eq__(self, other):
        """Equal when `other` is an array spec with the same shape and dtype."""
        if not (isinstance(other, ArraySpec) or _class_named(other, "ArraySpec")):
            return False
        return self.shape == tuple(other.shape) and self.dtype == other.dtype

    def __ne__(self, other):
        return not self == other

    def check_array(self, array):
        """True if `array` has exactly this shape and dtype.

        `array` must be a numpy array or a number (a Python int counts as int64,
        a float as float64); lists and tuples are never accepted.
        """
        if isinstance(array, np.ndarray):
            return self.shape == array.shape and self.dtype == array.dtype
        if isinstance(array, numbers.Number):
            return self.shape == () and self.dtype == np.dtype(type(array))
        return False

    def __reduce__(self):
        return (ArraySpec, (self.shape, self.dtype, self.name))

    @staticmethod
    def from_array(array, name=None):
        """The spec of a numpy array or a number.

        Raises:
          ValueError: `array` is neither (the message shows it).
        """
        if isinstance(array, np.ndarray):
            return ArraySpec(array.shape, array.dtype, name)
        if isinstance(array, numbers.Number):
            return ArraySpec((), type(array), name)
        raise ValueError(f"Array must be a np.ndarray or number. Got {array!r}.")

    @staticmethod
    def from_spec(spec):
        """An `ArraySpec` with the shape, dtype and name of any spec."""
        return ArraySpec(spec.shape, spec.dtype, spec.name)

    def replace(self, shape=None, dtype=None, name=None):
        """A copy with the given fields replaced (None keeps a field)."""
        shape = self.shape if shape is None else shape
        dtype = self.dtype if dtype is None else dtype
        name = self.name if name is None else name
        return ArraySpec(shape, dtype, name)


class BoundedArraySpec(ArraySpec):
    """An `ArraySpec` with inclusive minimum and maximum bounds.

    `minimum` and `maximum` broadcast to `shape` and default to the dtype's
    range; for float dtypes, -inf and +inf become the lowest and highest
    finite values. Both are read-only arrays of the spec's dtype.

    Example: `BoundedArraySpec((3,), np.int32, minimum=0, maximum=2)` accepts
    int32 arrays of shape (3,) with values in {0, 1, 2}.
    """

    __hash__ = None
    __slots__ = ("_minimum", "_maximum")

    def __init__(self, shape, dtype, minimum=None, maximum=None, name=None):
        """Creates a bounded spec.

        Args:
          shape: an iterable of ints.
          dtype: a numeric numpy dtype.
          minimum: number or array-like broadcastable to `shape` (inclusive).
          maximum: number or array-like broadcastable to `shape` (inclusive).
          name: an optional name.

        Raises:
          ValueError: a bound does not broadcast to `shape`, minimum > maximum
            somewhere, or a bound lies outside the dtype's range.
          TypeError: the dtype has no numeric range (bool, complex, strings),
            `shape` is not iterable or `dtype` is not a numpy dtype.
        """
        super().__init__(shape, dtype, name)
        for label, bound in (("minimum", minimum), ("maximum", maximum)):
            try:
                np.broadcast_to(bound, shape=shape)
            except ValueError as numpy_exception:
                raise ValueError(
                    f"{label} is not compatible with shape. Message: {numpy_exception!r}. "
                    f"Got {label}={bound!r} for a spec with shape={self._shape}, "
                    f"dtype={self._dtype}, name={name!r}."
                ) from None
        try:
            low, high = _dtype_range(self._dtype)
        except TypeError as e:
            raise TypeError(
                f"{e} Cannot build BoundedArraySpec(shape={self._shape}, "
                f"dtype={self._dtype!r}, name={name!r})."
            ) from None

        if minimum is None:
            minimum = low
        if maximum is None:
            maximum = high
        self._minimum = np.array(minimum)
        self._maximum = np.array(maximum)

        if np.issubdtype(self._dtype, np.floating):
            # Infinite bounds become the dtype's extreme finite values.
            for bound in (self._minimum, self._maximum):
                if np.issubdtype(bound.dtype, np.floating):
                    bound[bound == -np.inf] = low
                    bound[bound == np.inf] = high

        if np.any(self._minimum > self._maximum):
            raise ValueError(
                f"Spec bounds min has values greater than max: [{self._minimum},{self._maximum}]"
                f" in BoundedArraySpec(shape={self._shape}, dtype={self._dtype!r}, "
                f"name={name!r})."
            )
        if (
            np.any(self._minimum < low)
            or np.any(self._minimum > high)
            or np.any(self._maximum < low)
            or np.any(self._maximum > high)
        ):
            raise ValueError(
                f"Spec bounds [{self._minimum},{self._maximum}] not within the range "
                f"[{low}, {high}] of the given dtype ({self._dtype}) in "
                f"BoundedArraySpec(shape={self._shape}, name={name!r})."
            )

        _check_holds_an_integer(self._minimum, self._maximum, self._dtype, name)
        self._minimum = _cast_bound("minimum", self._minimum, self._dtype, name)
        self._minimum.setflags(write=False)
        self._maximum = _cast_bound("maximum", self._maximum, self._dtype, name)
        self._maximum.setflags(write=False)

    @classmethod
    def from_spec(cls, spec, name=None):
        """A `BoundedArraySpec` from any spec; bounds are kept if it has them.

        `name` defaults to the spec's name.
        """
        if name is None:
            name = spec.name
        if hasattr(spec, "minimum") and hasattr(spec, "maximum"):
            return BoundedArraySpec(spec.shape, spec.dtype, spec.minimum, spec.maximum, name)
        return BoundedArraySpec(spec.shape, spec.dtype, name=name)

    @property
    def minimum(self):
        """The inclusive lower bounds, a read-only array of the spec's dtype."""
        return self._minimum

    @property
    def maximum(self):
        """The inclusive upper bounds, a read-only array of the spec's dtype."""
        return self._maximum

    @property
    def num_values(self):
        """For integer specs, `maximum - minimum + 1` broadcast to `shape`; else None."""
        if is_discrete(self):
            return (
                np.broadcast_to(self.maximum, shape=self.shape)
                - np.broadcast_to(self.minimum, shape=self.shape)
                + 1
            )
        return None

    def __repr__(self):
        return (
            f"BoundedArraySpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r}, "
            f"minimum={self._minimum}, maximum={self._maximum})"
        )

    def __eq__(self, other):
        """Equal when shape, dtype, minimum and maximum all match."""
        if not (isinstance(other, BoundedArraySpec) or _class_named(other, "BoundedArraySpec")):
            return False
        return (
            super().__eq__(other)
            and bool(np.all(self.minimum == other.minimum))
            and bool(np.all(self.maximum == other.maximum))
        )

    def check_array(self, array):
        """True if `array` matches shape and dtype and lies within the bounds."""
        return bool(
            super().check_array(array)
            and np.all(array >= self.minimum)
            and np.all(array <= self.maximum)
        )

    def replace(self, shape=None, dtype=None, minimum=None, maximum=None, name=None):
        """A copy with the given fields replaced (None keeps a field)."""
        shape = self.shape if shape is None else shape
        dtype = self.dtype if dtype is None else dtype
        minimum = self.minimum if minimum is None else minimum
        maximum = self.maximum if maximum is None else maximum
        name = self.name if name is None else name
        return BoundedArraySpec(shape, dtype, minimum, maximum, name)

    def __reduce__(self):
        return (
            BoundedArraySpec,
            (self.shape, self.dtype, self.minimum, self.maximum, self.name),
        )


def is_bounded(spec):
    """True if `spec` is a `BoundedArraySpec`."""
    return isinstance(spec, BoundedArraySpec)


def is_discrete(spec):
    """True if `spec` (a spec or dtype) has an integer dtype."""
    return issubclass(np.dtype(spec).type, np.integer)


def is_continuous(spec):
    """True if `spec` (a spec or dtype) has a floating-point dtype."""
    return issubclass(np.dtype(spec).type, np.floating)


def _cast_bound(label: str, bound: np.ndarray, dtype: np.dtype, name: object) -> np.ndarray:
    """`bound` cast to `dtype`, or a ValueError where the cast would corrupt it.

    NaN is no bound. An integer spec's float bound is truncated towards zero,
    as TF-Agents does (3.9 becomes 3), but must fit the dtype:
    ``float(2**63 - 1)`` is ``2**63``, which a plain cast to int64 would wrap
    to ``-2**63``.
    """
    values = np.asarray(bound)
    if values.dtype.kind in "fc" and np.any(np.isnan(values)):
        raise ValueError(
            f"{label} of BoundedArraySpec(dtype={dtype!r}, name={name!r}) holds NaN: {bound!r}"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        cast = values.astype(dtype)
    if dtype.kind in "iu" and values.dtype.kind == "f":
        if not np.array_equal(cast.astype(np.float64), np.trunc(values.astype(np.float64))):
            raise ValueError(
                f"{label}={bound!r} of BoundedArraySpec(dtype={dtype!r}, name={name!r}) does "
                f"not fit {dtype} (a cast would make it {cast!r})."
            )
    return cast


def _check_holds_an_integer(minimum, maximum, dtype: np.dtype, name: object) -> None:
    """Raises ValueError where float bounds of an integer spec enclose no integer.

    ``[-0.9, -0.1]`` would truncate to ``[0, 0]``: a spec of values that lie
    outside the bounds it was given.
    """
    if dtype.kind not in "iu":
        return
    low, high = np.asarray(minimum, np.float64), np.asarray(maximum, np.float64)
    if np.any(np.ceil(low) > np.floor(high)):
        raise ValueError(
            f"BoundedArraySpec(dtype={dtype!r}, name={name!r}): no {dtype} value lies in "
            f"[{minimum!r}, {maximum!r}]."
        )

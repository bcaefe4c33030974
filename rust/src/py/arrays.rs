//! Reading time-step fields as flat slices without copying the common case:
//! `step_type` (numpy arrays, numpy scalars, Python ints, anything
//! `np.asarray` takes) as `i32`, `reward` as `f32` or `f64`.
//!
//! Arrays are read in place only when they are aligned and contiguous; any
//! other array (a strided view, or one decoded from a byte buffer at an odd
//! offset) is copied first, since a misaligned typed read is undefined.

use numpy::{Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::error::{Error, Result};
use super::lookups::numpy_asarray;
use crate::observers::metrics::Rewards;

/// The step types of one time step, flattened: length 1 for an unbatched
/// env, B for a batched one.
pub(crate) enum StepTypes<'py> {
    Scalar([i32; 1]),
    View(PyReadonlyArrayDyn<'py, i32>),
    Owned(Vec<i32>),
}

impl StepTypes<'_> {
    pub(crate) fn as_slice(&self) -> Result<&[i32]> {
        match self {
            StepTypes::Scalar(v) => Ok(v),
            StepTypes::View(a) => slice_of(a),
            StepTypes::Owned(v) => Ok(v),
        }
    }

    /// Reads `field` (e.g. "time_step.step_type", for error messages).
    pub(crate) fn read<'py>(value: &Bound<'py, PyAny>, field: &str) -> Result<StepTypes<'py>> {
        if let Ok(array) = value.cast::<PyArrayDyn<i32>>() {
            return Ok(StepTypes::View(sliceable(array)?));
        }
        if let Ok(array) = value.cast::<PyArrayDyn<i64>>() {
            let view = sliceable(array)?;
            return slice_of(&view)?
                .iter()
                .map(|&v| to_i32(v, field))
                .collect::<Result<Vec<_>>>()
                .map(StepTypes::Owned);
        }
        if let Ok(v) = value.extract::<i64>() {
            return Ok(StepTypes::Scalar([to_i32(v, field)?]));
        }
        // Tensors, lists, other integer dtypes: let numpy convert them.
        let converted = asarray(value, "int32").map_err(|_| {
            Error::Type(format!(
                "{field} must be an integer array of step types (0=FIRST, 1=MID, 2=LAST); \
                     got {}",
                describe(value)
            ))
        })?;
        let array = converted.cast::<PyArrayDyn<i32>>().map_err(PyErr::from)?;
        Ok(StepTypes::View(sliceable(array)?))
    }
}

/// A read-only view of `array` that `as_slice` accepts: the array itself when
/// it is aligned and contiguous, else an aligned C-contiguous copy.
fn sliceable<'py, T: Element>(
    array: &Bound<'py, PyArrayDyn<T>>,
) -> Result<PyReadonlyArrayDyn<'py, T>> {
    if array.is_aligned() && array.is_contiguous() {
        return Ok(array.try_readonly().map_err(PyErr::from)?);
    }
    let copy = array.call_method0("copy")?;
    let copy = copy.cast_into::<PyArrayDyn<T>>().map_err(PyErr::from)?;
    Ok(copy.try_readonly().map_err(PyErr::from)?)
}

/// The elements of a view made by `sliceable` (an error, not a panic, if numpy
/// ever hands back an array it cannot slice).
fn slice_of<'a, T: Element>(view: &'a PyReadonlyArrayDyn<'_, T>) -> Result<&'a [T]> {
    view.as_slice().map_err(|e| {
        Error::Value(format!(
            "cannot read a {:?} array of {} elements as one slice: {e}",
            view.shape(),
            view.len()
        ))
    })
}

fn to_i32(v: i64, field: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Value(format!("{field} holds {v}, not a step type")))
}

/// `repr(value)`, cut to 80 characters, for error messages.
pub(crate) fn describe(value: &Bound<'_, PyAny>) -> String {
    let text = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "an unprintable value".to_owned());
    if text.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &text[..cut])
    } else {
        text
    }
}

/// `numpy.asarray(value, dtype=dtype)`.
fn asarray<'py>(value: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = value.py();
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", dtype)?;
    numpy_asarray(py)?.call((value,), Some(&kwargs))
}

/// The rewards of one time step, flattened: `float32` arrays are viewed in
/// place, anything else is converted to `float64`.
pub(crate) enum RewardsView<'py> {
    F32(PyReadonlyArrayDyn<'py, f32>),
    F64(Vec<f64>),
}

impl RewardsView<'_> {
    pub(crate) fn rewards(&self) -> Result<Rewards<'_>> {
        Ok(match self {
            RewardsView::F32(a) => Rewards::F32(slice_of(a)?),
            RewardsView::F64(v) => Rewards::F64(v),
        })
    }

    pub(crate) fn read<'py>(value: &Bound<'py, PyAny>, field: &str) -> Result<RewardsView<'py>> {
        if let Ok(array) = value.cast::<PyArrayDyn<f32>>() {
            return Ok(RewardsView::F32(sliceable(array)?));
        }
        if let Ok(v) = value.extract::<f64>() {
            return Ok(RewardsView::F64(vec![v]));
        }
        let converted = asarray(value, "float64").map_err(|_| {
            Error::Type(format!(
                "{field} must be a numeric array of rewards; got {}",
                describe(value)
            ))
        })?;
        let array = converted.cast::<PyArrayDyn<f64>>().map_err(PyErr::from)?;
        Ok(RewardsView::F64(slice_of(&sliceable(array)?)?.to_vec()))
    }
}

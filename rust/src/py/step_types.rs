//! Reading `step_type` fields (numpy arrays, numpy scalars, Python ints,
//! anything `np.asarray` takes) as `i32` slices, without copying the common
//! case of a contiguous `int32` array.

use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::error::{Error, Result};

/// The step types of one time step, flattened: length 1 for an unbatched
/// env, B for a batched one.
pub(crate) enum StepTypes<'py> {
    Scalar([i32; 1]),
    View(PyReadonlyArrayDyn<'py, i32>),
    Owned(Vec<i32>),
}

impl StepTypes<'_> {
    pub(crate) fn as_slice(&self) -> &[i32] {
        match self {
            StepTypes::Scalar(v) => v,
            // `read` only builds a View of a contiguous array.
            StepTypes::View(a) => a.as_slice().expect("contiguous step_type view"),
            StepTypes::Owned(v) => v,
        }
    }

    /// Reads `field` (e.g. "time_step.step_type", for error messages).
    pub(crate) fn read<'py>(value: &Bound<'py, PyAny>, field: &str) -> Result<StepTypes<'py>> {
        if let Ok(array) = value.cast::<PyArrayDyn<i32>>() {
            let view = array.readonly();
            return Ok(if view.is_contiguous() {
                StepTypes::View(view)
            } else {
                StepTypes::Owned(view.as_array().iter().copied().collect())
            });
        }
        if let Ok(array) = value.cast::<PyArrayDyn<i64>>() {
            let view = array.readonly();
            return view
                .as_array()
                .iter()
                .map(|&v| to_i32(v, field))
                .collect::<Result<Vec<_>>>()
                .map(StepTypes::Owned);
        }
        if let Ok(v) = value.extract::<i64>() {
            return Ok(StepTypes::Scalar([to_i32(v, field)?]));
        }
        // Tensors, lists, other integer dtypes: let numpy convert them.
        let py = value.py();
        let converted = numpy_asarray_int32(py)?.call1((value,)).map_err(|_| {
            Error::Type(format!(
                "{field} must be an integer array of step types (0=FIRST, 1=MID, 2=LAST); \
                     got {}",
                describe(value)
            ))
        })?;
        let array = converted.cast::<PyArrayDyn<i32>>().map_err(PyErr::from)?;
        Ok(StepTypes::Owned(
            array.readonly().as_array().iter().copied().collect(),
        ))
    }
}

fn to_i32(v: i64, field: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Value(format!("{field} holds {v}, not a step type")))
}

fn describe(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "an unprintable value".to_owned())
}

/// `lambda x: np.asarray(x, dtype=np.int32)`, looked up once.
fn numpy_asarray_int32(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static CONVERT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CONVERT
        .get_or_try_init(py, || {
            let numpy = py.import("numpy")?;
            let int32 = numpy.getattr("int32")?;
            let partial = py.import("functools")?.getattr("partial")?;
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("dtype", int32)?;
            Ok(partial
                .call((numpy.getattr("asarray")?,), Some(&kwargs))?
                .unbind())
        })
        .map(|f| f.bind(py))
}

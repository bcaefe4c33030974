//! tfdrive's one error type at the Python boundary.
//!
//! An exception raised by an environment, a policy or an observer travels as
//! `Error::Python` and reaches the caller unchanged, traceback included.
//! tfdrive's own failures become `ValueError`/`TypeError`s whose message
//! names the argument, spec or value at fault.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::trajectory::ShapeMismatch;

#[derive(Debug)]
pub enum Error {
    /// Raised by Python code (env, policy, observer) or by the interpreter.
    Python(PyErr),
    /// A value has the wrong type; the message names it.
    Type(String),
    /// A value is out of range or malformed; the message names it.
    Value(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<PyErr> for Error {
    fn from(err: PyErr) -> Self {
        Error::Python(err)
    }
}

impl From<ShapeMismatch> for Error {
    fn from(err: ShapeMismatch) -> Self {
        Error::Value(err.to_string())
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Python(err) => err,
            Error::Type(msg) => PyTypeError::new_err(msg),
            Error::Value(msg) => PyValueError::new_err(msg),
        }
    }
}

/// The error for a native object (env, metric, buffer) that another thread or
/// an enclosing call is using right now: PyO3's own says only "Already
/// borrowed".
pub(crate) fn in_use(what: &'static str) -> impl Fn(pyo3::pycell::PyBorrowMutError) -> PyErr {
    move |_| {
        pyo3::exceptions::PyRuntimeError::new_err(format!(
            "this {what} is in use by another thread (or an enclosing call): \
             one thread at a time may step it; give each thread its own"
        ))
    }
}

//! tfdrive's one error type at the Python boundary.
//!
//! An exception raised by an environment, a policy or an observer travels as
//! `Error::Python` and reaches the caller unchanged, traceback included.
//! tfdrive's own failures become `ValueError`/`TypeError`s (`MemoryError`,
//! `RuntimeError` for resources) whose message names the argument, spec or
//! value at fault. Every error of the core converts into `Error`, and `Error`
//! into `PyErr`, so the boundary only writes `?`.

use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::batch::StackError;
use crate::envs::{CreateError, EnvError};
use crate::mailbox::MailboxError;
use crate::observers::buffer::BufferError;
use crate::observers::metrics::BatchMismatch;
use crate::trajectory::ShapeMismatch;

#[derive(Debug)]
pub enum Error {
    /// Raised by Python code (env, policy, observer) or by the interpreter.
    Python(PyErr),
    /// A value has the wrong type; the message names it.
    Type(String),
    /// A value is out of range or malformed; the message names it.
    Value(String),
    /// An allocation the arguments asked for does not fit in memory.
    Memory(String),
    /// A resource of the process (a thread, a borrowed object) is unavailable.
    Runtime(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<PyErr> for Error {
    fn from(err: PyErr) -> Self {
        Error::Python(err)
    }
}

/// Core errors whose message names the value at fault: `ValueError`s.
macro_rules! value_errors {
    ($($core:ty),*) => {$(
        impl From<$core> for Error {
            fn from(err: $core) -> Self {
                Error::Value(err.to_string())
            }
        }

        impl From<$core> for PyErr {
            fn from(err: $core) -> PyErr {
                Error::from(err).into()
            }
        }
    )*};
}

value_errors!(
    ShapeMismatch,
    StackError,
    BufferError,
    BatchMismatch,
    MailboxError
);

impl From<numpy::ndarray::ShapeError> for Error {
    fn from(err: numpy::ndarray::ShapeError) -> Self {
        Error::Value(err.to_string())
    }
}

impl From<EnvError> for Error {
    fn from(err: EnvError) -> Self {
        match err {
            EnvError::ActionDtype { .. } => Error::Type(err.to_string()),
            _ => Error::Value(err.to_string()),
        }
    }
}

impl From<CreateError> for Error {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::OutOfMemory { .. } => Error::Memory(err.to_string()),
            CreateError::Spawn(_) => Error::Runtime(err.to_string()),
            _ => Error::Value(err.to_string()),
        }
    }
}

impl From<EnvError> for PyErr {
    fn from(err: EnvError) -> PyErr {
        Error::from(err).into()
    }
}

impl From<CreateError> for PyErr {
    fn from(err: CreateError) -> PyErr {
        Error::from(err).into()
    }
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Python(err) => err,
            Error::Type(msg) => PyTypeError::new_err(msg),
            Error::Value(msg) => PyValueError::new_err(msg),
            Error::Memory(msg) => PyMemoryError::new_err(msg),
            Error::Runtime(msg) => PyRuntimeError::new_err(msg),
        }
    }
}

/// The error for a native object (env, metric, buffer) that another thread or
/// an enclosing call is using right now: PyO3's own says only "Already
/// borrowed".
pub(crate) fn in_use(what: &'static str) -> impl Fn(pyo3::pycell::PyBorrowMutError) -> Error {
    move |_| {
        Error::Runtime(format!(
            "this {what} is in use by another thread (or an enclosing call): \
             one thread at a time may step it; give each thread its own"
        ))
    }
}

/// `state[key]` of a `__setstate__`/`set_state` dict, or a KeyError naming
/// the missing key.
pub(crate) fn state_item<'py>(
    state: &pyo3::Bound<'py, pyo3::types::PyDict>,
    key: &str,
) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
    use pyo3::types::PyDictMethods;
    state
        .get_item(key)?
        .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(format!("state has no {key:?}")))
}

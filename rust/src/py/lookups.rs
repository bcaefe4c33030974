//! The Python objects the boundary calls, each looked up once per process
//! and named for what it is (as pydantic-core keeps its named statics).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

macro_rules! cached_attribute {
    ($(#[$doc:meta])* $name:ident => $module:literal, $attribute:literal) => {
        $(#[$doc])*
        pub(crate) fn $name(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
            static CELL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            CELL.import(py, $module, $attribute)
        }
    };
}

cached_attribute!(
    /// `numpy.asarray`.
    numpy_asarray => "numpy", "asarray"
);
cached_attribute!(
    /// `numpy.ascontiguousarray`.
    numpy_ascontiguousarray => "numpy", "ascontiguousarray"
);
cached_attribute!(
    /// `numpy.empty`.
    numpy_empty => "numpy", "empty"
);
cached_attribute!(
    /// `numpy.bool_`, the type of numpy's boolean scalars.
    numpy_bool => "numpy", "bool_"
);
cached_attribute!(
    /// `numpy.generic`, the base type of numpy's scalars.
    numpy_generic => "numpy", "generic"
);
cached_attribute!(
    /// `tfdrive.utils.nest.flatten`.
    nest_flatten => "tfdrive.utils.nest", "flatten"
);
cached_attribute!(
    /// `tfdrive.trajectories.time_step.TimeStep`.
    time_step_class => "tfdrive.trajectories.time_step", "TimeStep"
);
cached_attribute!(
    /// `tfdrive.environments.native.NativeEnvironment`.
    native_environment_class => "tfdrive.environments.native", "NativeEnvironment"
);

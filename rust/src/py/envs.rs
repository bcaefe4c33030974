//! The PyO3 boundary of the native vectorized environments
//! (`tfdrive._core.NativeVecEnv`), wrapped in Python by
//! `tfdrive.environments.native.NativeEnvironment`.
//!
//! The driver's fast path: when `env._native_env` exists and casts to
//! [`NativeVecEnv`], call [`NativeVecEnv::step_time_step`] (a
//! `tfdrive.trajectories.time_step.TimeStep`, same as `env.step(action)`
//! returns) or [`NativeVecEnv::step_arrays`] (the four typed arrays) instead
//! of `env.step(action)`: they validate the action, step with the GIL
//! released, hand fresh buffers to numpy and record the result as the env's
//! current time step.

use std::time::{Duration, Instant};

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::error::{state_item, Error};
use super::lookups::{numpy_asarray, time_step_class};
use crate::envs::{self, Actions, Dtype, EnvError, Snapshot, StepOutput, VecEnv};

/// The four fields of a batched TimeStep, as numpy arrays moved from Rust
/// buffers (never reused): `step_type` `[B]` int32, `reward` `[B]` float32,
/// `discount` `[B]` float32, `observation` `[B, obs_dim]` float32.
pub(crate) struct StepArrays<'py> {
    pub step_type: Bound<'py, PyArray1<i32>>,
    pub reward: Bound<'py, PyArray1<f32>>,
    pub discount: Bound<'py, PyArray1<f32>>,
    pub observation: Bound<'py, PyArray2<f32>>,
}

impl<'py> StepArrays<'py> {
    /// Moves `out` into numpy without copying.
    pub(crate) fn from_output(py: Python<'py>, out: StepOutput, obs_dim: usize) -> PyResult<Self> {
        let n = out.step_type.len();
        let observation = Array2::from_shape_vec((n, obs_dim), out.observation)
            .map_err(Error::from)?
            .into_pyarray(py);
        Ok(StepArrays {
            step_type: out.step_type.into_pyarray(py),
            reward: out.reward.into_pyarray(py),
            discount: out.discount.into_pyarray(py),
            observation,
        })
    }

    /// `(step_type, reward, discount, observation)`: TimeStep's field order.
    pub(crate) fn to_tuple(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.step_type.as_any(),
                self.reward.as_any(),
                self.discount.as_any(),
                self.observation.as_any(),
            ],
        )
    }
}

/// Batches of at least this many envs reset with the GIL released; smaller
/// ones take well under a microsecond, less than releasing and re-taking it.
const RELEASE_GIL_FROM: usize = 64;

/// Steps release the GIL when the previous step's native work took at least
/// this long. Re-taking the GIL is cheap when no other thread wants it, but
/// beside a busy Python thread it costs up to a whole switch interval (5 ms
/// by default): a step of tens of microseconds (4096 CartPoles) keeps the
/// GIL, a step of milliseconds lets other threads run meanwhile.
const RELEASE_GIL_AFTER: Duration = Duration::from_micros(500);

/// A batch of native classic-control environments stepped in Rust.
///
/// `NativeVecEnv(name, num_envs, seed=0, num_threads=None)`; `name` is one of
/// `CartPole-v1`, `Pendulum-v1`, `MountainCar-v0`, `MountainCarContinuous-v0`,
/// `Acrobot-v1`. `reset()` and `step(action)` return
/// `(step_type, reward, discount, observation)` numpy arrays.
#[pyclass(module = "tfdrive._core", name = "NativeVecEnv")]
pub struct NativeVecEnv {
    env: Box<dyn VecEnv>,
    obs_dim: usize,
    /// The last `(step_type, reward, discount, observation)` handed out.
    current: Option<Py<PyTuple>>,
    /// How long the last step waited to re-take the GIL.
    gil_wait: Duration,
    /// How long the last step's native work took.
    last_step: Duration,
}

/// Calls `f` with `array`'s elements as a slice (copied only when not contiguous).
fn with_slice<T: numpy::Element + Copy, R>(
    array: &Bound<'_, PyArrayDyn<T>>,
    f: impl FnOnce(&[T]) -> R,
) -> PyResult<R> {
    let view = array.try_readonly()?;
    Ok(match view.as_slice() {
        Ok(slice) => f(slice),
        Err(_) => f(&view.as_array().iter().copied().collect::<Vec<T>>()),
    })
}

impl NativeVecEnv {
    /// The Rust env, for native callers (the driver).
    #[allow(dead_code)]
    pub(crate) fn env_mut(&mut self) -> &mut dyn VecEnv {
        self.env.as_mut()
    }

    /// Validates `action` (a numpy array, or anything `numpy.asarray` takes,
    /// of the action spec's dtype and shape `[B, *action_spec.shape]`), steps
    /// every sub-environment with the GIL released, and moves the fresh
    /// buffers into numpy. Errors (TypeError for a wrong dtype, ValueError for
    /// a wrong shape or an out-of-bounds value) name the action spec; the env
    /// is unchanged after an error.
    pub(crate) fn step_arrays<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<StepArrays<'py>> {
        let spec = self.env.action_spec().clone();
        let array = if action.cast::<numpy::PyUntypedArray>().is_ok() {
            action.clone()
        } else {
            numpy_asarray(py)?.call1((action,))?
        };
        let untyped = array.cast::<numpy::PyUntypedArray>()?;
        let mut expected = vec![self.env.num_envs()];
        expected.extend(&spec.shape);
        let shape = untyped.shape().to_vec();
        let dtype_name = || -> PyResult<String> { Ok(untyped.dtype().str()?.to_string()) };
        let dtype_error = || -> PyResult<PyErr> {
            Ok(PyErr::from(EnvError::ActionDtype {
                spec: spec.clone(),
                got: dtype_name()?,
            }))
        };
        let result = match spec.dtype {
            Dtype::Int64 => {
                let Ok(a) = array.cast::<PyArrayDyn<i64>>() else {
                    return Err(dtype_error()?);
                };
                check_shape(&spec, &expected, &shape)?;
                with_slice(a, |s| self.step_released(py, Actions::Int64(s)))?
            }
            Dtype::Float32 => {
                let Ok(a) = array.cast::<PyArrayDyn<f32>>() else {
                    return Err(dtype_error()?);
                };
                check_shape(&spec, &expected, &shape)?;
                with_slice(a, |s| self.step_released(py, Actions::Float32(s)))?
            }
        };
        let out = result?;
        let arrays = StepArrays::from_output(py, out, self.obs_dim)?;
        self.current = Some(arrays.to_tuple(py)?.unbind());
        Ok(arrays)
    }

    /// Steps every sub-environment, with the GIL released when the last
    /// step took `RELEASE_GIL_AFTER` or more; records the step's duration
    /// and how long re-taking the GIL took.
    fn step_released(
        &mut self,
        py: Python<'_>,
        actions: Actions<'_>,
    ) -> Result<StepOutput, EnvError> {
        let env = &mut self.env;
        let start = Instant::now();
        if self.last_step < RELEASE_GIL_AFTER {
            let out = env.step(actions);
            self.last_step = start.elapsed();
            self.gil_wait = Duration::ZERO;
            return out;
        }
        let (out, stepped) = py.detach(|| (env.step(actions), Instant::now()));
        self.last_step = stepped - start;
        self.gil_wait = stepped.elapsed();
        out
    }

    /// How long the last step waited to re-take the GIL (zero when it kept it).
    pub(crate) fn gil_wait(&self) -> Duration {
        self.gil_wait
    }

    /// [`Self::step_arrays`] packed as a `tfdrive.trajectories.time_step.TimeStep`.
    pub(crate) fn step_time_step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let arrays = self.step_arrays(py, action)?;
        time_step(py, &arrays)
    }

    /// Resets every sub-environment (GIL released) and moves the buffers into numpy.
    pub(crate) fn reset_arrays<'py>(&mut self, py: Python<'py>) -> PyResult<StepArrays<'py>> {
        let env = &mut self.env;
        let out = if env.num_envs() >= RELEASE_GIL_FROM {
            py.detach(|| env.reset())
        } else {
            env.reset()
        };
        let arrays = StepArrays::from_output(py, out, self.obs_dim)?;
        self.current = Some(arrays.to_tuple(py)?.unbind());
        Ok(arrays)
    }

    /// The tuple the last `reset_arrays`/`step_arrays` stored.
    fn current_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        match &self.current {
            Some(current) => Ok(current.bind(py).clone()),
            None => Err(PyRuntimeError::new_err(
                "no time step yet: call reset() first",
            )),
        }
    }

    fn check_index(&self, index: usize) -> PyResult<()> {
        if index >= self.env.num_envs() {
            return Err(PyIndexError::new_err(format!(
                "env index {index} out of range for {} envs",
                self.env.num_envs()
            )));
        }
        Ok(())
    }
}

/// `tfdrive.trajectories.time_step.TimeStep(*arrays)`.
fn time_step<'py>(py: Python<'py>, arrays: &StepArrays<'py>) -> PyResult<Bound<'py, PyAny>> {
    time_step_class(py)?.call1(arrays.to_tuple(py)?)
}

fn check_shape(spec: &envs::ActionSpec, expected: &[usize], got: &[usize]) -> PyResult<()> {
    if got != expected {
        return Err(PyErr::from(EnvError::ActionShape {
            spec: spec.clone(),
            expected: expected.to_vec(),
            got: got.to_vec(),
        }));
    }
    Ok(())
}

#[pymethods]
impl NativeVecEnv {
    #[new]
    #[pyo3(signature = (name, num_envs, seed=0, num_threads=None))]
    fn new(name: &str, num_envs: usize, seed: u64, num_threads: Option<usize>) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1, got 0"));
        }
        if num_threads == Some(0) {
            return Err(PyValueError::new_err(
                "num_threads must be at least 1 or None, got 0",
            ));
        }
        let env = envs::make(name, num_envs, seed, num_threads)?;
        let obs_dim = env.observation_spec().shape.iter().product();
        Ok(NativeVecEnv {
            env,
            obs_dim,
            current: None,
            gil_wait: Duration::ZERO,
            last_step: Duration::ZERO,
        })
    }

    /// The Gymnasium id.
    #[getter]
    fn name(&self) -> &'static str {
        self.env.name()
    }

    /// The number of sub-environments `B`.
    #[getter]
    fn num_envs(&self) -> usize {
        self.env.num_envs()
    }

    /// The threads stepping uses.
    #[getter]
    fn num_threads(&self) -> usize {
        self.env.num_threads()
    }

    /// Gymnasium's `max_episode_steps`.
    #[getter]
    fn max_episode_steps(&self) -> u32 {
        self.env.max_episode_steps()
    }

    /// One sub-environment's action shape.
    #[getter]
    fn action_shape(&self) -> Vec<usize> {
        self.env.action_spec().shape.clone()
    }

    /// The action dtype's numpy name (`'int64'` or `'float32'`).
    #[getter]
    fn action_dtype(&self) -> &'static str {
        self.env.action_spec().dtype.name()
    }

    /// The action bounds `(minimum, maximum)`.
    #[getter]
    fn action_bounds(&self) -> (f64, f64) {
        let s = self.env.action_spec();
        (s.minimum, s.maximum)
    }

    /// One sub-environment's observation shape.
    #[getter]
    fn observation_shape(&self) -> Vec<usize> {
        self.env.observation_spec().shape.clone()
    }

    /// The observation bounds, two float32 arrays of the observation shape.
    #[getter]
    fn observation_bounds<'py>(
        &self,
        py: Python<'py>,
    ) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        let s = self.env.observation_spec();
        (
            PyArray1::from_slice(py, &s.minimum),
            PyArray1::from_slice(py, &s.maximum),
        )
    }

    /// Resets every sub-environment: `(step_type, reward, discount, observation)`.
    fn reset<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.reset_arrays(py)?;
        self.current_tuple(py)
    }

    /// Steps every sub-environment: `(step_type, reward, discount, observation)`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.step_arrays(py, action)?;
        self.current_tuple(py)
    }

    /// The last `(step_type, reward, discount, observation)` returned by
    /// `reset`/`step` (or the driver's native path), or None before the first.
    fn current_time_step<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyTuple>> {
        self.current.as_ref().map(|t| t.bind(py).clone())
    }

    /// `reset()` as a `tfdrive.trajectories.time_step.TimeStep`.
    #[pyo3(name = "reset_time_step")]
    fn py_reset_time_step<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let arrays = self.reset_arrays(py)?;
        time_step(py, &arrays)
    }

    /// `step(action)` as a `tfdrive.trajectories.time_step.TimeStep`.
    #[pyo3(name = "step_time_step")]
    fn py_step_time_step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.step_time_step(py, action)
    }

    /// Re-seeds every sub-environment's RNG from `(seed, index)`.
    fn seed(&mut self, seed: u64) {
        self.env.seed(seed)
    }

    /// `(state, elapsed)`: sub-environment `index`'s float64 Gymnasium state and episode length.
    fn get_state<'py>(
        &self,
        py: Python<'py>,
        index: usize,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, u32)> {
        self.check_index(index)?;
        let (state, elapsed) = self.env.get_state(index);
        Ok((state.into_pyarray(py), elapsed))
    }

    /// Sets sub-environment `index`'s Gymnasium state and episode length.
    ///
    /// Raises ValueError for a state of the wrong length or with a NaN or
    /// infinite value, or `elapsed` not below `max_episode_steps` (an episode
    /// that long has ended; stepping on from it would never truncate).
    fn set_state(&mut self, index: usize, state: Vec<f64>, elapsed: u32) -> PyResult<()> {
        self.check_index(index)?;
        let want = self.env.get_state(index).0.len();
        if state.len() != want {
            return Err(PyValueError::new_err(format!(
                "{} state has {want} values, got {}",
                self.env.name(),
                state.len()
            )));
        }
        if let Some(bad) = state.iter().find(|v| !v.is_finite()) {
            return Err(PyValueError::new_err(format!(
                "{} state must be finite, got {bad} in {state:?}",
                self.env.name()
            )));
        }
        let limit = self.env.max_episode_steps();
        if elapsed >= limit {
            return Err(PyValueError::new_err(format!(
                "elapsed={elapsed} must be below {}'s max_episode_steps={limit}",
                self.env.name()
            )));
        }
        self.env.set_state(index, &state, elapsed);
        Ok(())
    }

    /// Pickling and `copy.deepcopy`: `(name, num_envs, 0, num_threads)`
    /// rebuild the batch, then `__setstate__` restores every sub-environment
    /// (physics, elapsed steps, pending resets, RNG streams) and the last
    /// time step, so the copy steps exactly as this env would.
    fn __getnewargs__(&self) -> (&'static str, usize, u64, usize) {
        (
            self.env.name(),
            self.env.num_envs(),
            0,
            self.env.num_threads(),
        )
    }

    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let snapshot = self.env.snapshot();
        let dict = PyDict::new(py);
        let states =
            Array2::from_shape_vec((self.env.num_envs(), snapshot.state_size), snapshot.states)
                .map_err(Error::from)?;
        dict.set_item("states", states.into_pyarray(py))?;
        dict.set_item("elapsed", snapshot.elapsed.into_pyarray(py))?;
        dict.set_item("needs_reset", snapshot.needs_reset.into_pyarray(py))?;
        dict.set_item("rng", snapshot.rng.into_pyarray(py))?;
        dict.set_item("current", self.current.as_ref().map(|c| c.bind(py)))?;
        Ok(dict)
    }

    /// Restores `__getstate__`'s dict. Raises KeyError for a missing key and
    /// ValueError (naming the field) for a state of another env.
    fn __setstate__(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let states: Vec<Vec<f64>> = state_item(state, "states")?
            .call_method0("tolist")?
            .extract()?;
        let state_size = states.first().map_or(0, Vec::len);
        let snapshot = Snapshot {
            states: states.into_iter().flatten().collect(),
            state_size,
            elapsed: state_item(state, "elapsed")?
                .call_method0("tolist")?
                .extract()?,
            needs_reset: state_item(state, "needs_reset")?
                .call_method0("tolist")?
                .extract()?,
            rng: state_item(state, "rng")?
                .call_method0("tolist")?
                .extract()?,
        };
        self.env.restore(&snapshot).map_err(PyValueError::new_err)?;
        let current = state_item(state, "current")?;
        self.current = if current.is_none() {
            None
        } else {
            Some(current.cast_into::<PyTuple>()?.unbind())
        };
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "NativeVecEnv({:?}, num_envs={}, num_threads={})",
            self.env.name(),
            self.env.num_envs(),
            self.env.num_threads()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeVecEnv>()
}

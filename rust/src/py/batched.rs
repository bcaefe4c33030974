//! The Rust core of `tfdrive.environments.batched_py_environment`
//! (`tfdrive._core.PyEnvBatch`): steps `B` Python environments and stacks
//! their time steps into fresh `[B, ...]` numpy arrays.
//!
//! Two paths:
//! - generic: calls each PyEnvironment's `reset()`/`step(action_i)` and
//!   stacks the flat time-step leaves (`step_type`, `reward`, `discount`,
//!   observation leaves) row by row;
//! - Gymnasium: for `GymnasiumWrapper`s with auto-reset, calls the wrapped
//!   `gymnasium.Env.step` directly and builds each row in Rust (terminated:
//!   LAST, discount 0; truncated: LAST, discount `discount`; per-env
//!   auto-reset through the wrapper's `reset()`).
//!
//! An exception raised by an env reaches the caller unchanged, with a note
//! naming the env's index.

use numpy::{Element, PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};

use super::arrays::describe;
use super::lookups::{nest_flatten, numpy_asarray, numpy_bool, numpy_empty};
use pyo3::IntoPyObjectExt;

use crate::batch::write_row;

struct Leaf {
    name: String,
    spec: String,
    shape: Vec<usize>,
    dtype: Py<PyArrayDescr>,
    row_bytes: usize,
}

struct GymPath {
    /// Bound `gymnasium.Env.step` methods.
    steps: Vec<Py<PyAny>>,
    discount: f32,
    discrete: bool,
    needs_reset: Vec<bool>,
    infos: Vec<Py<PyAny>>,
}

/// Steps Python environments and stacks their time steps (see the module docs).
///
/// `PyEnvBatch(envs, leaf_specs, flatten_observation=None, gym_envs=None,
/// discount=1.0, discrete=False, first_env=0, owner=None)`: `leaf_specs` lists
/// `(name, spec_repr, shape, dtype)` for step_type, reward, discount and each
/// observation leaf; `flatten_observation` flattens a nested observation (None
/// for a single array); `gym_envs` (the wrapped `gymnasium.Env`s) selects the
/// Gymnasium path. Messages name env `first_env + row` of `owner` (default: "a
/// BatchedPyEnvironment of B envs"), so a batch that is one worker's share of a
/// larger batch names the env as its user knows it.
#[pyclass(module = "tfdrive._core", name = "PyEnvBatch")]
pub struct PyEnvBatch {
    envs: Vec<Py<PyAny>>,
    leaves: Vec<Leaf>,
    flatten: Option<Py<PyAny>>,
    gym: Option<GymPath>,
    /// Added to a row to name its env in messages (a worker's first env).
    first_env: usize,
    /// What the envs belong to, for notes (default: this batch).
    owner: String,
}

/// Adds `note` to `err` (Python 3.11+ `add_note`) and returns it unchanged otherwise.
fn with_note(py: Python<'_>, err: PyErr, note: &str) -> PyErr {
    let value = err.value(py);
    if value.hasattr("add_note").unwrap_or(false) {
        let _ = value.call_method1("add_note", (note,));
    }
    err
}

impl PyEnvBatch {
    fn env_note(&self, row: usize) -> String {
        format!("raised by env {} of {}", self.first_env + row, self.owner)
    }

    fn alloc<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyUntypedArray>>> {
        let b = self.envs.len();
        self.leaves
            .iter()
            .map(|leaf| {
                let mut shape = vec![b];
                shape.extend(&leaf.shape);
                let arr =
                    numpy_empty(py)?.call1((PyTuple::new(py, shape)?, leaf.dtype.bind(py)))?;
                Ok(arr.cast_into::<PyUntypedArray>()?)
            })
            .collect()
    }

    /// Copies `value` (converted to the leaf's dtype if needed) into `row` of `out`.
    fn write_leaf(
        &self,
        py: Python<'_>,
        j: usize,
        out: &Bound<'_, PyUntypedArray>,
        row: usize,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let leaf = &self.leaves[j];
        let env_index = self.first_env + row;
        let dtype = leaf.dtype.bind(py);
        let arr = match value.cast::<PyUntypedArray>() {
            Ok(a) if a.is_c_contiguous() && a.dtype().is_equiv_to(dtype) => a.clone(),
            _ => {
                let kwargs = pyo3::types::PyDict::new(py);
                kwargs.set_item("dtype", dtype)?;
                kwargs.set_item("order", "C")?;
                numpy_asarray(py)?
                    .call((value,), Some(&kwargs))
                    .map_err(|e| with_note(py, e, &self.env_note(row)))?
                    .cast_into::<PyUntypedArray>()?
            }
        };
        if arr.shape() != leaf.shape.as_slice() {
            return Err(PyValueError::new_err(format!(
                "env {env_index} returned {} of shape {:?}, expected {:?} per {}",
                leaf.name,
                arr.shape(),
                leaf.shape,
                leaf.spec
            )));
        }
        // SAFETY: `arr` is C-contiguous with `leaf.shape` and `leaf.dtype`, so
        // its data holds exactly `row_bytes` bytes; `out` was allocated as
        // `[B, *shape]` of the same dtype, C-contiguous, and nothing else
        // references it yet.
        unsafe {
            let src = std::slice::from_raw_parts(
                (*arr.as_array_ptr()).fields.data as *const u8,
                leaf.row_bytes,
            );
            let rows = self.envs.len();
            let dst = std::slice::from_raw_parts_mut(
                (*out.as_array_ptr()).fields.data as *mut u8,
                leaf.row_bytes * rows,
            );
            write_row(dst, row, leaf.row_bytes, src)?;
        }
        Ok(())
    }

    /// Rejects None and booleans for `step_type`, `reward` and `discount`:
    /// numpy would turn None into NaN and True into 1 without a word.
    fn check_scalar_field(
        &self,
        py: Python<'_>,
        j: usize,
        row: usize,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let env_index = self.first_env + row;
        let boolean = match value.cast::<PyUntypedArray>() {
            Ok(array) => array.dtype().kind() == b'b',
            Err(_) => value.is_instance_of::<PyBool>() || value.is_instance(numpy_bool(py)?)?,
        };
        if value.is_none() || boolean {
            return Err(PyTypeError::new_err(format!(
                "env {env_index} returned {} = {}, expected a number per {}",
                self.leaves[j].name,
                describe(value),
                self.leaves[j].spec
            )));
        }
        // A scalar step type is checked before numpy casts it to the leaf's
        // dtype, where 2**40 would wrap to 0 (FIRST).
        if j == 0 {
            if let Ok(step_type) = value.extract::<i64>() {
                if !(0..=2).contains(&step_type) {
                    return Err(PyValueError::new_err(format!(
                        "env {env_index} returned step_type {step_type}, \
                         not a StepType (0=FIRST, 1=MID, 2=LAST)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes one env's TimeStep (a 4-tuple) into row `row`.
    fn write_time_step(
        &self,
        py: Python<'_>,
        out: &[Bound<'_, PyUntypedArray>],
        row: usize,
        ts: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let env_index = self.first_env + row;
        let ts = ts.cast::<PyTuple>().map_err(|_| {
            PyTypeError::new_err(format!(
                "env {env_index} returned {}, expected a TimeStep",
                ts.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        if ts.len() < 4 {
            return Err(PyTypeError::new_err(format!(
                "env {env_index} returned a tuple of {} values, expected a TimeStep \
                 (step_type, reward, discount, observation)",
                ts.len()
            )));
        }
        for (j, array) in out.iter().enumerate().take(3) {
            let value = ts.get_item(j)?;
            self.check_scalar_field(py, j, row, &value)?;
            self.write_leaf(py, j, array, row, &value)?;
        }
        let observation = ts.get_item(3)?;
        match &self.flatten {
            None => {
                if let Err(err) = self.write_leaf(py, 3, &out[3], row, &observation) {
                    // A list, tuple or dict is a nest, as in tf.nest (and so in
                    // TF-Agents' batching): `[x]` is the observation `x`.
                    match single_nested_leaf(&observation)? {
                        Some(leaf) => self.write_leaf(py, 3, &out[3], row, &leaf)?,
                        None => return Err(err),
                    }
                }
            }
            Some(flatten) => {
                let flat = flatten.bind(py).call1((observation,))?;
                let flat = flat.cast::<PyList>()?;
                if flat.len() != self.leaves.len() - 3 {
                    return Err(PyValueError::new_err(format!(
                        "env {env_index} returned an observation with {} leaves, expected {}",
                        flat.len(),
                        self.leaves.len() - 3
                    )));
                }
                for (k, value) in flat.iter().enumerate() {
                    self.write_leaf(py, 3 + k, &out[3 + k], row, &value)?;
                }
            }
        }
        Ok(())
    }

    fn finish<'py>(
        py: Python<'py>,
        out: Vec<Bound<'py, PyUntypedArray>>,
    ) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, out)
    }

    /// Writes a scalar leaf (`step_type`, `reward`, `discount`) of row `row`:
    /// in place when the leaf's dtype is `T`'s, else through numpy's
    /// conversion to the leaf's dtype (e.g. a float16 or float64 reward spec).
    fn write_scalar<'py, T>(
        &self,
        py: Python<'py>,
        j: usize,
        out: &Bound<'py, PyUntypedArray>,
        row: usize,
        value: T,
    ) -> PyResult<()>
    where
        T: Element + Copy + IntoPyObject<'py>,
    {
        let in_place =
            out.ndim() == 1 && row < out.len() && out.dtype().is_equiv_to(&numpy::dtype::<T>(py));
        if !in_place {
            let value = value.into_bound_py_any(py)?;
            return self.write_leaf(py, j, out, row, &value);
        }
        // SAFETY: `out` is a fresh, C-contiguous `[B]` array of `T` (checked
        // above) that nothing else references yet, and `row < B`.
        unsafe {
            let data = (*out.as_array_ptr()).fields.data as *mut T;
            *data.add(row) = value;
        }
        Ok(())
    }

    /// Discrete actions as Python ints when `actions` is a `[B]` integer
    /// array (the common case, converted in one call); None otherwise, and
    /// each env then gets `actions[i]` as the generic path gives it.
    fn integer_actions(&self, actions: &Bound<'_, PyAny>) -> PyResult<Option<Vec<i64>>> {
        let Ok(array) = actions.cast::<PyUntypedArray>() else {
            return Ok(None);
        };
        // Signed integers only: `astype(int64)` would wrap a huge uint64.
        if array.dtype().kind() != b'i' || array.ndim() != 1 || array.len() != self.envs.len() {
            return Ok(None);
        }
        array
            .call_method1("astype", ("int64",))?
            .call_method0("tolist")?
            .extract()
            .map(Some)
    }

    fn step_gym<'py>(
        &mut self,
        py: Python<'py>,
        actions: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = self.alloc(py)?;
        let b = self.envs.len();
        let Some(discrete) = self.gym.as_ref().map(|g| g.discrete) else {
            return Err(PyValueError::new_err("step_gym needs the Gymnasium path"));
        };
        let discrete_actions = if discrete {
            self.integer_actions(actions)?
        } else {
            None
        };
        for i in 0..b {
            let Some(gym) = self.gym.as_ref() else {
                return Err(PyValueError::new_err("step_gym needs the Gymnasium path"));
            };
            if gym.needs_reset[i] {
                let env = self.envs[i].bind(py);
                let ts = env
                    .call_method0("reset")
                    .map_err(|e| with_note(py, e, &self.env_note(i)))?;
                self.write_time_step(py, &out, i, &ts)?;
                let info = env.call_method0("get_info")?.unbind();
                if let Some(gym) = self.gym.as_mut() {
                    gym.needs_reset[i] = false;
                    gym.infos[i] = info;
                }
                continue;
            }
            let action = match discrete_actions.as_ref().and_then(|v| v.get(i)) {
                Some(&v) => v.into_pyobject(py)?.into_any(),
                // As GymnasiumWrapper.step: a discrete action array becomes
                // its one element (`.item()`, which rejects any other size).
                None => {
                    let action = actions.get_item(i)?;
                    if discrete && action.cast::<PyUntypedArray>().is_ok() {
                        action
                            .call_method0("item")
                            .map_err(|e| with_note(py, e, &self.env_note(i)))?
                    } else {
                        action
                    }
                }
            };
            let env_index = self.first_env + i;
            let result = gym.steps[i]
                .bind(py)
                .call1((action,))
                .map_err(|e| with_note(py, e, &self.env_note(i)))?;
            let result = result.cast_into::<PyTuple>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "env {env_index}: gymnasium step() must return a 5-tuple"
                ))
            })?;
            if result.len() != 5 {
                return Err(PyTypeError::new_err(format!(
                    "env {env_index}: gymnasium step() returned {} values, expected 5",
                    result.len()
                )));
            }
            let reward: f64 = result.get_item(1)?.extract()?;
            let terminated = result.get_item(2)?.is_truthy()?;
            let truncated = result.get_item(3)?.is_truthy()?;
            let discount = gym.discount;
            let (step_type, discount) = if terminated {
                (2i32, 0.0f32)
            } else if truncated {
                (2, discount)
            } else {
                (1, discount)
            };
            self.write_scalar(py, 0, &out[0], i, step_type)?;
            if out[1].dtype().is_equiv_to(&numpy::dtype::<f32>(py)) {
                self.write_scalar(py, 1, &out[1], i, reward as f32)?;
            } else {
                self.write_scalar(py, 1, &out[1], i, reward)?;
            }
            self.write_scalar(py, 2, &out[2], i, discount)?;
            self.write_leaf(py, 3, &out[3], i, &result.get_item(0)?)?;
            let info = result.get_item(4)?.unbind();
            if let Some(gym) = self.gym.as_mut() {
                gym.needs_reset[i] = terminated || truncated;
                gym.infos[i] = info;
            }
        }
        Self::finish(py, out)
    }
}

#[pymethods]
impl PyEnvBatch {
    #[new]
    #[pyo3(signature = (envs, leaf_specs, flatten_observation=None, gym_envs=None, discount=1.0, discrete=false, first_env=0, owner=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        envs: Vec<Py<PyAny>>,
        leaf_specs: Vec<(String, String, Vec<usize>, Bound<'_, PyAny>)>,
        flatten_observation: Option<Py<PyAny>>,
        gym_envs: Option<Vec<Bound<'_, PyAny>>>,
        discount: f32,
        discrete: bool,
        first_env: usize,
        owner: Option<String>,
    ) -> PyResult<Self> {
        let mut leaves = Vec::with_capacity(leaf_specs.len());
        for (name, spec, shape, dtype) in leaf_specs {
            let dtype = PyArrayDescr::new(py, &dtype)?;
            if !matches!(dtype.kind(), b'b' | b'i' | b'u' | b'f' | b'c') {
                return Err(PyTypeError::new_err(format!(
                    "{name}: only numeric and bool dtypes can be batched, got {}",
                    dtype.str()?
                )));
            }
            let row_bytes = dtype.itemsize() * shape.iter().product::<usize>();
            leaves.push(Leaf {
                name,
                spec,
                shape,
                dtype: dtype.unbind(),
                row_bytes,
            });
        }
        if leaves.len() < 4 {
            return Err(PyValueError::new_err(
                "leaf_specs needs step_type, reward, discount and observation",
            ));
        }
        let gym = match gym_envs {
            None => None,
            Some(g) => {
                if g.len() != envs.len() {
                    return Err(PyValueError::new_err("gym_envs must match envs"));
                }
                let steps = g
                    .iter()
                    .map(|e| Ok(e.getattr("step")?.unbind()))
                    .collect::<PyResult<Vec<_>>>()?;
                Some(GymPath {
                    steps,
                    discount,
                    discrete,
                    needs_reset: vec![true; envs.len()],
                    infos: (0..envs.len()).map(|_| py.None()).collect(),
                })
            }
        };
        let owner =
            owner.unwrap_or_else(|| format!("a BatchedPyEnvironment of {} envs", envs.len()));
        Ok(PyEnvBatch {
            envs,
            leaves,
            flatten: flatten_observation,
            gym,
            first_env,
            owner,
        })
    }

    /// The number of envs.
    #[getter]
    fn num_envs(&self) -> usize {
        self.envs.len()
    }

    /// Whether the Gymnasium path is used.
    #[getter]
    fn gymnasium_path(&self) -> bool {
        self.gym.is_some()
    }

    /// Resets every env; returns the stacked flat leaves.
    fn reset<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = self.alloc(py)?;
        for i in 0..self.envs.len() {
            let env = self.envs[i].bind(py);
            let ts = env
                .call_method0("reset")
                .map_err(|e| with_note(py, e, &self.env_note(i)))?;
            self.write_time_step(py, &out, i, &ts)?;
            if let Some(gym) = self.gym.as_mut() {
                gym.needs_reset[i] = false;
                gym.infos[i] = env.call_method0("get_info")?.unbind();
            }
        }
        Self::finish(py, out)
    }

    /// Steps env `i` with `actions[i]`; returns the stacked flat leaves.
    ///
    /// Raises ValueError if `len(actions)` is not the number of envs.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let n = actions.len()?;
        if n != self.envs.len() {
            return Err(PyValueError::new_err(format!(
                "Primary dimension of action items does not match batch size: {n} vs. {}",
                self.envs.len()
            )));
        }
        if self.gym.is_some() {
            return self.step_gym(py, actions);
        }
        let out = self.alloc(py)?;
        for i in 0..self.envs.len() {
            let action = actions.get_item(i)?;
            let ts = self.envs[i]
                .bind(py)
                .call_method1("step", (action,))
                .map_err(|e| with_note(py, e, &self.env_note(i)))?;
            self.write_time_step(py, &out, i, &ts)?;
        }
        Self::finish(py, out)
    }

    /// The Gymnasium path's last info per env (None on the generic path).
    fn infos<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        match &self.gym {
            None => Ok(None),
            Some(g) => Ok(Some(PyList::new(py, g.infos.iter().map(|i| i.bind(py)))?)),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEnvBatch>()
}

/// The one leaf of `value` when it is a list, tuple or dict nest with exactly
/// one leaf (`tfdrive.utils.nest.flatten`); None otherwise.
fn single_nested_leaf<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if !(value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
        || value.is_instance_of::<PyDict>())
    {
        return Ok(None);
    }
    let flat = nest_flatten(value.py())?.call1((value,))?;
    let flat = flat.cast::<PyList>()?;
    Ok(if flat.len() == 1 {
        Some(flat.get_item(0)?)
    } else {
        None
    })
}

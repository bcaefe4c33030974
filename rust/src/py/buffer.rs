//! The trajectory buffer's native core (`tfdrive.replay_buffers`).
//!
//! `TrajectoryBufferCore` writes trajectories into numpy arrays that Python
//! allocated and keeps (one `[B, T, *leaf_shape]` array per flattened spec
//! leaf), so Python reads them without copying. The ring bookkeeping and the
//! byte copies are `observers::buffer::TrajectoryRing`; this module reads
//! the leaves (numpy arrays as they are; numpy scalars, tensors, Python
//! numbers converted) and checks them against the spec.
//!
//! The driver calls `add_leaves_from` with a trajectory's flattened leaves;
//! Python calls `add_leaves` (`TrajectoryBuffer.add_batch`).

use std::ptr::NonNull;

use numpy::npyffi::flags::{NPY_ARRAY_C_CONTIGUOUS, NPY_ARRAY_OWNDATA};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::arrays::describe;
use super::error::{Error, Result};
use super::lookups::{nest_flatten, numpy_asarray, numpy_ascontiguousarray, numpy_generic};
use crate::observers::buffer::TrajectoryRing;

/// The bytes of one storage array.
///
/// Invariant: `ptr` points at the `len` data bytes of a C-contiguous numpy
/// array that owns its data and is kept alive by `TrajectoryBufferCore::
/// storage` for as long as the column exists; numpy cannot reallocate it
/// (`resize` refuses arrays that are referenced). The bytes are only written
/// through `&mut TrajectoryBufferCore` (the pyclass's exclusive borrow),
/// while attached to the interpreter; Python only ever reads them.
struct NumpyColumn {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the column is memory owned by a numpy array that the same
// `TrajectoryBufferCore` holds (see the invariant above); all writes go
// through the pyclass's exclusive borrow, so moving or sharing the handle
// across threads does not create unsynchronised access from Rust.
unsafe impl Send for NumpyColumn {}
unsafe impl Sync for NumpyColumn {}

impl AsMut<[u8]> for NumpyColumn {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: see the invariant on `NumpyColumn`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// One flattened spec leaf: its name for messages, dtype and item shape.
struct Leaf {
    name: String,
    dtype: Py<PyArrayDescr>,
    shape: Vec<usize>,
}

/// The native state of a `tfdrive.replay_buffers.TrajectoryBuffer`.
#[pyclass(module = "tfdrive._core", name = "TrajectoryBufferCore")]
pub struct TrajectoryBufferCore {
    ring: TrajectoryRing<NumpyColumn>,
    leaves: Vec<Leaf>,
    /// Keeps the columns' memory alive (see `NumpyColumn`).
    #[allow(dead_code)]
    storage: Vec<Py<PyUntypedArray>>,
    /// The data_spec's dict keys in flatten order (each dict's sorted keys,
    /// before its children's), or None when the spec has mappings that are
    /// not str-keyed dicts. Leaves are stored by position, so a nest with
    /// other keys must be refused, not written into the wrong leaves.
    dict_keys: Option<Vec<String>>,
}

/// The str keys of the dicts met while flattening, in flatten order;
/// `complete` is false once a value went through Python's flatten (whose
/// mappings are not logged), and then the keys cannot be compared.
struct KeyLog {
    keys: Vec<String>,
    complete: bool,
}

fn format_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn flags(array: &Bound<'_, PyUntypedArray>) -> i32 {
    // SAFETY: a live numpy array object.
    unsafe { (*array.as_array_ptr()).fields.flags }
}

/// The data bytes of a C-contiguous array (`len` of them).
///
/// # Safety
/// `array` must be C-contiguous with at least `len` data bytes, and stay
/// alive and unmodified while the slice is used.
unsafe fn array_bytes<'a>(array: &'a Bound<'_, PyUntypedArray>, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    std::slice::from_raw_parts((*array.as_array_ptr()).fields.data as *const u8, len)
}

impl TrajectoryBufferCore {
    /// Appends one trajectory: `leaves` are its fields flattened like the
    /// data_spec (`tf.nest` order), each `[B, *leaf_shape]` (or
    /// `leaf_shape` when B == 1) of the leaf's dtype. Numpy arrays are read
    /// in place (non-contiguous ones are copied first); numpy scalars and
    /// tensors (anything with a `dtype`) go through `np.asarray` and must
    /// have the leaf's dtype; Python numbers and lists are converted to it.
    /// Every leaf is checked before anything is written: on error the
    /// buffer is unchanged. Errors name the spec leaf: `TypeError` for a
    /// dtype, `ValueError` for a shape or the number of leaves.
    pub(crate) fn add_leaves_from<'py>(&mut self, leaves: &[Bound<'py, PyAny>]) -> Result<()> {
        if leaves.len() != self.leaves.len() {
            return Err(Error::Value(format!(
                "TrajectoryBuffer expects {} leaves (the data_spec's, flattened: {}); got {}",
                self.leaves.len(),
                self.leaves
                    .iter()
                    .map(|l| l.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                leaves.len()
            )));
        }
        // Converted leaves, by index; allocates only when a leaf needs it.
        let mut converted: Vec<(usize, Bound<'py, PyUntypedArray>)> = Vec::new();
        for (index, (value, leaf)) in leaves.iter().zip(&self.leaves).enumerate() {
            if let Some(array) = self.prepare(value, leaf)? {
                converted.push((index, array));
            }
        }
        let mut next_converted = converted.iter().peekable();
        for (index, value) in leaves.iter().enumerate() {
            let array = match next_converted.peek() {
                Some((i, array)) if *i == index => {
                    next_converted.next();
                    array
                }
                // `prepare` accepted it as is: a C-contiguous numpy array.
                _ => value.cast::<PyUntypedArray>().map_err(PyErr::from)?,
            };
            let len = self.ring.batch_size() * self.ring.item_bytes()[index];
            // SAFETY: checked C-contiguous with the leaf's dtype and
            // `[B, *leaf_shape]` elements (or `leaf_shape` with B == 1):
            // exactly `len` bytes; alive for this call, GIL held.
            let bytes = unsafe { array_bytes(array, len) };
            self.ring.write_leaf(index, bytes)?;
        }
        self.ring.advance();
        Ok(())
    }

    /// Appends one trajectory given as nests: `fields` are the top-level
    /// children of the data_spec in order (for a `Trajectory` spec: step_type,
    /// observation, action, policy_info, next_step_type, reward, discount),
    /// each flattened here in `tf.nest` order, then `add_leaves_from`.
    ///
    /// Tuples (namedtuples included) and lists are flattened in order, dicts
    /// with string keys by sorted key; numpy arrays and scalars, Python
    /// numbers, None and strings are leaves; anything else (other mappings,
    /// attrs classes, tensors) goes through `tfdrive.utils.nest.flatten`.
    ///
    /// ValueError when the dicts' keys differ from the data_spec's.
    pub(crate) fn add_fields_from<'py>(&mut self, fields: &[Bound<'py, PyAny>]) -> Result<()> {
        let mut leaves = Vec::with_capacity(self.leaves.len());
        let mut log = KeyLog {
            keys: Vec::new(),
            complete: true,
        };
        for field in fields {
            flatten_into(field, &mut leaves, &mut log)?;
        }
        if let Some(expected) = &self.dict_keys {
            if log.complete && log.keys != *expected {
                return Err(Error::Value(format!(
                    "the trajectory does not match the TrajectoryBuffer's data_spec: its dicts \
                     have the keys {:?} (in flatten order) where the data_spec has {:?}",
                    log.keys, expected
                )));
            }
        }
        self.add_leaves_from(&leaves)
    }

    /// Checks one leaf; returns the array to read when it is not `value`
    /// itself (converted or made contiguous).
    fn prepare<'py>(
        &self,
        value: &Bound<'py, PyAny>,
        leaf: &Leaf,
    ) -> Result<Option<Bound<'py, PyUntypedArray>>> {
        let py = value.py();
        let (array, converted) = match value.cast::<PyUntypedArray>() {
            Ok(array) => (array.clone(), false),
            Err(_) => {
                let asarray = numpy_asarray(py)?;
                let result = if value.hasattr(intern!(py, "dtype"))? {
                    asarray.call1((value,))
                } else {
                    let kwargs = PyDict::new(py);
                    kwargs.set_item(intern!(py, "dtype"), leaf.dtype.bind(py))?;
                    asarray.call((value,), Some(&kwargs))
                };
                let array = result.map_err(|err| {
                    Error::Type(format!(
                        "trajectory leaf `{}` must be an array of dtype {}; got {} ({err})",
                        leaf.name,
                        leaf.dtype.bind(py),
                        describe(value)
                    ))
                })?;
                let array = array.cast_into::<PyUntypedArray>().map_err(|e| {
                    Error::Type(format!(
                        "trajectory leaf `{}`: np.asarray gave {}",
                        leaf.name,
                        describe(&e.into_inner())
                    ))
                })?;
                (array, true)
            }
        };
        let dtype = array.dtype();
        if !dtype.is_equiv_to(leaf.dtype.bind(py)) {
            return Err(Error::Type(format!(
                "trajectory leaf `{}` has dtype {}; the data_spec says {}",
                leaf.name,
                dtype,
                leaf.dtype.bind(py)
            )));
        }
        let shape = array.shape();
        let batch_size = self.ring.batch_size();
        let batched = shape.len() == leaf.shape.len() + 1
            && shape[0] == batch_size
            && shape[1..] == leaf.shape[..];
        let unbatched = batch_size == 1 && shape == &leaf.shape[..];
        if !(batched || unbatched) {
            let mut expected = vec![batch_size];
            expected.extend_from_slice(&leaf.shape);
            let alternative = if batch_size == 1 {
                format!(" or {} (unbatched)", format_shape(&leaf.shape))
            } else {
                String::new()
            };
            return Err(Error::Value(format!(
                "trajectory leaf `{}` has shape {}; expected {}{} \
                 ([batch_size={}] + the data_spec's shape {})",
                leaf.name,
                format_shape(shape),
                format_shape(&expected),
                alternative,
                batch_size,
                format_shape(&leaf.shape)
            )));
        }
        if flags(&array) & NPY_ARRAY_C_CONTIGUOUS == 0 {
            let contiguous = numpy_ascontiguousarray(py)?.call1((&array,))?;
            return Ok(Some(
                contiguous
                    .cast_into::<PyUntypedArray>()
                    .map_err(PyErr::from)?,
            ));
        }
        Ok(converted.then_some(array))
    }
}

/// Appends `value`'s leaves in `tf.nest` order (see `add_fields_from`).
/// Logs each str-keyed dict's sorted keys before its children's in `log`.
fn flatten_into<'py>(
    value: &Bound<'py, PyAny>,
    leaves: &mut Vec<Bound<'py, PyAny>>,
    log: &mut KeyLog,
) -> PyResult<()> {
    if value.is_instance_of::<PyUntypedArray>()
        || value.is_none()
        || value.is_instance_of::<PyFloat>()
        || value.is_instance_of::<PyInt>()
        || value.is_instance_of::<PyBool>()
        || value.is_instance_of::<PyString>()
        || value.is_instance(numpy_generic(value.py())?)?
    {
        leaves.push(value.clone());
        return Ok(());
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        for item in tuple.iter() {
            flatten_into(&item, leaves, log)?;
        }
        return Ok(());
    }
    if let Ok(list) = value.cast::<PyList>() {
        for item in list.iter() {
            flatten_into(&item, leaves, log)?;
        }
        return Ok(());
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            match key.cast::<PyString>() {
                Ok(key) => entries.push((key.to_cow()?.into_owned(), item)),
                Err(_) => {
                    log.complete = false;
                    return flatten_with_python(value, leaves);
                }
            }
        }
        // Python orders str keys by code point, as UTF-8 bytes compare.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut children = Vec::with_capacity(entries.len());
        for (key, item) in entries {
            log.keys.push(key);
            children.push(item);
        }
        for item in children {
            flatten_into(&item, leaves, log)?;
        }
        return Ok(());
    }
    log.complete = false;
    flatten_with_python(value, leaves)
}

/// `tfdrive.utils.nest.flatten(value)`, appended to `leaves`.
fn flatten_with_python<'py>(
    value: &Bound<'py, PyAny>,
    leaves: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<()> {
    let flatten = nest_flatten(value.py())?;
    for leaf in flatten.call1((value,))?.try_iter()? {
        leaves.push(leaf?);
    }
    Ok(())
}

#[pymethods]
impl TrajectoryBufferCore {
    /// `storage`: one C-contiguous numpy array per flattened spec leaf,
    /// shaped `[batch_size, max_length, *leaf_shape]`, owning its data (e.g.
    /// from `np.zeros`); the core writes into them, so the caller must not.
    /// `names`: the leaves' names for error messages. `dict_keys`: the
    /// data_spec's dict keys in flatten order (each dict's sorted keys before
    /// its children's); when given, `add_nested` refuses nests with other keys.
    #[new]
    #[pyo3(signature = (storage, names, batch_size, max_length, dict_keys=None))]
    fn new(
        storage: Vec<Bound<'_, PyAny>>,
        names: Vec<String>,
        batch_size: usize,
        max_length: usize,
        dict_keys: Option<Vec<String>>,
    ) -> PyResult<Self> {
        if storage.len() != names.len() {
            return Err(Error::Value(format!(
                "storage has {} arrays but names has {}",
                storage.len(),
                names.len()
            ))
            .into());
        }
        let mut leaves = Vec::with_capacity(storage.len());
        let mut columns = Vec::with_capacity(storage.len());
        let mut item_bytes = Vec::with_capacity(storage.len());
        let mut arrays = Vec::with_capacity(storage.len());
        for (value, name) in storage.iter().zip(names) {
            let array = value.cast::<PyUntypedArray>().map_err(|_| {
                Error::Type(format!(
                    "storage for `{name}` must be a numpy array; got {}",
                    describe(value)
                ))
            })?;
            let dtype = array.dtype();
            let shape = array.shape();
            if shape.len() < 2 || shape[0] != batch_size || shape[1] != max_length {
                return Err(Error::Value(format!(
                    "storage for `{name}` has shape {}; expected \
                     ({batch_size}, {max_length}, ...) ([batch_size, max_length] + leaf shape)",
                    format_shape(shape)
                ))
                .into());
            }
            let f = flags(array);
            if f & NPY_ARRAY_C_CONTIGUOUS == 0 || f & NPY_ARRAY_OWNDATA == 0 {
                return Err(Error::Value(format!(
                    "storage for `{name}` must be a C-contiguous array that owns its data"
                ))
                .into());
            }
            if dtype.has_object() {
                return Err(Error::Type(format!(
                    "storage for `{name}` has dtype {dtype}; object dtypes cannot be stored"
                ))
                .into());
            }
            let bytes = dtype.itemsize() * shape[2..].iter().product::<usize>();
            let len = bytes * batch_size * max_length;
            // SAFETY: a live numpy array; `data` is non-null for allocated
            // arrays, and a dangling pointer is fine for 0 bytes.
            let data = unsafe { (*array.as_array_ptr()).fields.data as *mut u8 };
            let ptr = if len == 0 {
                NonNull::dangling()
            } else {
                NonNull::new(data)
                    .ok_or_else(|| Error::Value(format!("storage for `{name}` has no data")))?
            };
            columns.push(NumpyColumn { ptr, len });
            item_bytes.push(bytes);
            leaves.push(Leaf {
                name,
                dtype: dtype.unbind(),
                shape: shape[2..].to_vec(),
            });
            arrays.push(array.clone().unbind());
        }
        let ring = TrajectoryRing::new(columns, item_bytes, batch_size, max_length)?;
        Ok(TrajectoryBufferCore {
            ring,
            leaves,
            storage: arrays,
            dict_keys,
        })
    }

    /// Appends one batch: `leaves` as in `add_leaves_from` (a list or tuple
    /// of the flattened trajectory's fields, data_spec order).
    fn add_leaves(&mut self, leaves: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        Ok(self.add_leaves_from(&leaves)?)
    }

    /// Appends one batch given as nests, flattened natively: `fields` are
    /// the data_spec's top-level children in order (see `add_fields_from`);
    /// `add_nested([items])` appends a whole nest `items`.
    fn add_nested(&mut self, fields: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        Ok(self.add_fields_from(&fields)?)
    }

    /// Forgets the contents (the storage keeps its bytes until overwritten).
    fn clear(&mut self) {
        self.ring.clear();
    }

    /// Restores the position of a buffer whose storage this one was given a
    /// copy of (for pickling and deep copies): `cursor`, `len` and `writes`
    /// as that buffer's getters read them. ValueError naming the value when
    /// they cannot be this buffer's.
    fn set_position(&mut self, cursor: usize, len: usize, writes: u64) -> PyResult<()> {
        self.ring
            .set_position(cursor, len, writes)
            .map_err(|e| Error::Value(e).into())
    }

    /// Items stored per env (`<= max_length`).
    #[getter]
    fn len(&self) -> usize {
        self.ring.len()
    }

    /// The slot (index along T) the next item goes to.
    #[getter]
    fn cursor(&self) -> usize {
        self.ring.cursor()
    }

    /// The slot of the oldest stored item.
    #[getter]
    fn start(&self) -> usize {
        self.ring.start()
    }

    /// Batches added since construction or the last `clear()` (the id of
    /// the next item).
    #[getter]
    fn writes(&self) -> u64 {
        self.ring.writes()
    }

    #[getter]
    fn batch_size(&self) -> usize {
        self.ring.batch_size()
    }

    #[getter]
    fn max_length(&self) -> usize {
        self.ring.max_length()
    }

    /// The spec leaves' names, in storage order.
    #[getter]
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.leaves.iter().map(|l| l.name.as_str()))
    }
}

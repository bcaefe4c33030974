//! `MailboxesCore`: the cross-process mailboxes (`crate::mailbox`) over a
//! numpy view of shared memory, for `ParallelPyEnvironment`. Waits release
//! the GIL.

use std::time::Duration;

use numpy::npyffi::flags::{NPY_ARRAY_C_CONTIGUOUS, NPY_ARRAY_WRITEABLE};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

use super::arrays::describe;
use super::error::{Error, Result};
use crate::mailbox::{Mailboxes, SLOT_BYTES};

/// Request/reply mailboxes, one slot per worker process, in shared memory.
#[pyclass(module = "tfdrive._core", name = "MailboxesCore", frozen)]
pub struct MailboxesCore {
    boxes: Mailboxes,
    /// Keeps the memory alive (see `Mailboxes::new`).
    #[allow(dead_code)]
    memory: Py<PyUntypedArray>,
}

fn seconds(timeout: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(timeout).map_err(|_| {
        Error::Value(format!(
            "timeout must be a finite number of seconds >= 0, got {timeout}"
        ))
    })
}

#[pymethods]
impl MailboxesCore {
    /// `memory`: a writable, C-contiguous numpy array of at least
    /// `slots * SLOT_BYTES` bytes that every process maps (e.g. a view of a
    /// `multiprocessing` RawArray), zeroed before first use.
    #[new]
    fn new(memory: &Bound<'_, PyAny>, slots: usize) -> Result<Self> {
        let array = memory.cast::<PyUntypedArray>().map_err(|_| {
            Error::Type(format!(
                "memory must be a numpy array; got {}",
                describe(memory)
            ))
        })?;
        // SAFETY: a live numpy array object.
        let flags = unsafe { (*array.as_array_ptr()).fields.flags };
        if flags & NPY_ARRAY_C_CONTIGUOUS == 0 || flags & NPY_ARRAY_WRITEABLE == 0 {
            return Err(Error::Value(
                "memory must be a writable, C-contiguous array".to_string(),
            ));
        }
        let bytes = array.len() * array.dtype().itemsize();
        let needed = slots.saturating_mul(SLOT_BYTES);
        if bytes < needed {
            return Err(Error::Value(format!(
                "memory has {bytes} bytes; {slots} slots need {needed}"
            )));
        }
        // SAFETY: the array's data holds at least `needed` bytes (checked)
        // and stays alive as `memory` below; Python only hands it to other
        // mailboxes.
        let data = unsafe { (*array.as_array_ptr()).fields.data as *mut u8 };
        let boxes = unsafe { Mailboxes::new(data, slots) }?;
        Ok(MailboxesCore {
            boxes,
            memory: array.clone().unbind(),
        })
    }

    /// SLOT_BYTES: the bytes one slot takes.
    #[classattr]
    fn slot_bytes() -> usize {
        SLOT_BYTES
    }

    /// The number of slots.
    #[getter]
    fn slots(&self) -> usize {
        self.boxes.slots()
    }

    /// Parent: posts `command` to `slot`; returns the request's sequence number.
    fn post(&self, slot: usize, command: u32) -> Result<u32> {
        Ok(self.boxes.post(slot, command)?)
    }

    /// Worker: waits (GIL released) for a request after `last_seq`; returns
    /// `(seq, command)`, or None after `timeout` seconds.
    fn wait_request(
        &self,
        py: Python<'_>,
        slot: usize,
        last_seq: u32,
        timeout: f64,
    ) -> Result<Option<(u32, u32)>> {
        let timeout = seconds(timeout)?;
        Ok(py.detach(|| self.boxes.wait_request(slot, last_seq, timeout))?)
    }

    /// Worker: answers request `seq` of `slot` with `status`.
    fn reply(&self, slot: usize, seq: u32, status: u32) -> Result<()> {
        Ok(self.boxes.reply(slot, seq, status)?)
    }

    /// Parent: waits (GIL released) for the reply to request `seq`; returns
    /// its status, or None after `timeout` seconds.
    fn wait_reply(
        &self,
        py: Python<'_>,
        slot: usize,
        seq: u32,
        timeout: f64,
    ) -> Result<Option<u32>> {
        let timeout = seconds(timeout)?;
        Ok(py.detach(|| self.boxes.wait_reply(slot, seq, timeout))?)
    }
}

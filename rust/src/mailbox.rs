//! Request/reply mailboxes between processes, in shared memory.
//!
//! `ParallelPyEnvironment` runs envs in worker processes and exchanges
//! actions and time steps through shared arrays; these mailboxes say when
//! to read them. Each worker owns one slot of four `u32` words in a block
//! of memory that every process maps:
//!
//! - `request_seq`, `command`: the parent writes the command, then bumps the
//!   sequence number (release) and wakes the worker;
//! - `reply_seq`, `status`: the worker writes the status, then stores the
//!   sequence number it answers (release) and wakes the parent.
//!
//! One request is outstanding per slot at a time (the parent waits for the
//! reply before it posts again). Waiting sleeps in the kernel (a futex on
//! Linux, short sleeps elsewhere) with a timeout, so a caller can check
//! that the process on the other side is still alive.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A mailbox used out of bounds, or over misaligned memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxError(pub String);

impl std::fmt::Display for MailboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MailboxError {}

/// Bytes per slot: a cache line, so workers do not share one.
pub const SLOT_BYTES: usize = 64;

const REQUEST_SEQ: usize = 0;
const COMMAND: usize = 1;
const REPLY_SEQ: usize = 2;
const STATUS: usize = 3;

/// `slots` mailboxes over `slots * SLOT_BYTES` bytes of shared memory.
pub struct Mailboxes {
    base: *const AtomicU32,
    slots: usize,
}

// SAFETY: the words are only accessed through atomics; the memory's owner
// keeps it mapped for the mailboxes' lifetime (see `Mailboxes::new`).
unsafe impl Send for Mailboxes {}
unsafe impl Sync for Mailboxes {}

impl Mailboxes {
    /// Mailboxes over the memory at `base`.
    ///
    /// # Safety
    /// `base` must point at `slots * SLOT_BYTES` bytes that stay mapped while
    /// the mailboxes exist, and that are only accessed through mailboxes.
    pub unsafe fn new(base: *mut u8, slots: usize) -> Result<Self, MailboxError> {
        if !(base as usize).is_multiple_of(std::mem::align_of::<AtomicU32>()) {
            return Err(MailboxError(
                "the mailbox memory is not 4-byte aligned".to_string(),
            ));
        }
        Ok(Mailboxes {
            base: base as *const AtomicU32,
            slots,
        })
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn word(&self, slot: usize, index: usize) -> Result<&AtomicU32, MailboxError> {
        if slot >= self.slots {
            return Err(MailboxError(format!(
                "mailbox slot {slot} out of range (there are {})",
                self.slots
            )));
        }
        // SAFETY: in bounds (slot < slots, index < 4 <= SLOT_BYTES / 4) of
        // the memory `new`'s caller keeps mapped; aligned (checked in `new`).
        Ok(unsafe { &*self.base.add(slot * SLOT_BYTES / 4 + index) })
    }

    /// Parent: posts `command` to `slot` and wakes its worker; returns the
    /// request's sequence number (what `wait_reply` waits for).
    pub fn post(&self, slot: usize, command: u32) -> Result<u32, MailboxError> {
        self.word(slot, COMMAND)?.store(command, Ordering::Relaxed);
        let seq = self.word(slot, REQUEST_SEQ)?;
        let next = seq.fetch_add(1, Ordering::Release).wrapping_add(1);
        wake(seq);
        Ok(next)
    }

    /// Worker: waits until `slot` has a request after `last_seq`; returns
    /// `(seq, command)`, or None after `timeout`.
    pub fn wait_request(
        &self,
        slot: usize,
        last_seq: u32,
        timeout: Duration,
    ) -> Result<Option<(u32, u32)>, MailboxError> {
        let seq = self.word(slot, REQUEST_SEQ)?;
        let deadline = Instant::now() + timeout;
        loop {
            let current = seq.load(Ordering::Acquire);
            if current != last_seq {
                let command = self.word(slot, COMMAND)?.load(Ordering::Relaxed);
                return Ok(Some((current, command)));
            }
            match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => wait_while_equal(seq, current, left, WORKER_YIELD),
                _ => return Ok(None),
            }
        }
    }

    /// Worker: answers request `seq` of `slot` with `status` and wakes the parent.
    pub fn reply(&self, slot: usize, seq: u32, status: u32) -> Result<(), MailboxError> {
        self.word(slot, STATUS)?.store(status, Ordering::Relaxed);
        let reply = self.word(slot, REPLY_SEQ)?;
        reply.store(seq, Ordering::Release);
        wake(reply);
        Ok(())
    }

    /// Parent: waits for the reply to request `seq` of `slot`; returns its
    /// status, or None after `timeout`.
    pub fn wait_reply(
        &self,
        slot: usize,
        seq: u32,
        timeout: Duration,
    ) -> Result<Option<u32>, MailboxError> {
        let reply = self.word(slot, REPLY_SEQ)?;
        let deadline = Instant::now() + timeout;
        loop {
            let current = reply.load(Ordering::Acquire);
            if current == seq {
                return Ok(Some(self.word(slot, STATUS)?.load(Ordering::Relaxed)));
            }
            match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => {
                    wait_while_equal(reply, current, left, PARENT_YIELD)
                }
                _ => return Ok(None),
            }
        }
    }
}

/// How long a worker yields its core before sleeping on a request: about
/// one policy call. A futex wake-up on a VM takes tens of µs, as long as a
/// step of a few envs; a worker that yields through the policy call picks
/// up the next step at once, and yielding leaves the core to the policy
/// (64 Gymnasium CartPoles, 2 workers, XLA PPO, 2 cores: 145k -> 197k env
/// steps/s; docs/benchmarks.md).
const WORKER_YIELD: Duration = Duration::from_micros(300);
/// The parent yields less: while it waits, the workers need the cores.
const PARENT_YIELD: Duration = Duration::from_micros(50);

/// Sleeps while `word == value`, at most `timeout` (may return early).
#[cfg(target_os = "linux")]
fn wait_while_equal(word: &AtomicU32, value: u32, timeout: Duration, yield_for: Duration) {
    // A short spin first: a worker's reply often lands within microseconds.
    for _ in 0..64 {
        if word.load(Ordering::Acquire) != value {
            return;
        }
        std::hint::spin_loop();
    }
    // Then yield the core (see WORKER_YIELD) before sleeping.
    let until = Instant::now() + yield_for.min(timeout);
    while Instant::now() < until {
        if word.load(Ordering::Acquire) != value {
            return;
        }
        std::thread::yield_now();
    }
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: FUTEX_WAIT reads the aligned u32 at `word` (shared memory, so
    // not FUTEX_PRIVATE) and sleeps while it equals `value`; `ts` outlives
    // the call. Errors (EAGAIN, EINTR, ETIMEDOUT) just end the wait: callers
    // loop and re-check the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            value,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes the (at most one) process sleeping on `word`.
#[cfg(target_os = "linux")]
fn wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on the aligned u32 at `word`; no memory is written.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
    }
}

#[cfg(not(target_os = "linux"))]
fn wait_while_equal(word: &AtomicU32, value: u32, timeout: Duration, _yield_for: Duration) {
    let deadline = Instant::now() + timeout;
    while word.load(Ordering::Acquire) == value && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(20));
    }
}

#[cfg(not(target_os = "linux"))]
fn wake(_word: &AtomicU32) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(slots: usize) -> Vec<u32> {
        vec![0u32; slots * SLOT_BYTES / 4]
    }

    #[test]
    fn request_and_reply_between_threads() {
        let mut words = memory(2);
        let boxes = unsafe { Mailboxes::new(words.as_mut_ptr() as *mut u8, 2) }.unwrap();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut last = 0;
                for _ in 0..1000 {
                    let (seq, command) = boxes
                        .wait_request(1, last, Duration::from_secs(5))
                        .unwrap()
                        .unwrap();
                    boxes.reply(1, seq, command * 2).unwrap();
                    last = seq;
                }
            });
            for i in 1..=1000u32 {
                let seq = boxes.post(1, i).unwrap();
                assert_eq!(seq, i);
                let status = boxes.wait_reply(1, seq, Duration::from_secs(5)).unwrap();
                assert_eq!(status, Some(i * 2));
            }
        });
        // Slot 0 was never used.
        assert_eq!(
            boxes.wait_request(0, 0, Duration::from_millis(1)).unwrap(),
            None
        );
    }

    #[test]
    fn timeouts_and_bad_slots() {
        let mut words = memory(1);
        let boxes = unsafe { Mailboxes::new(words.as_mut_ptr() as *mut u8, 1) }.unwrap();
        let start = Instant::now();
        assert_eq!(
            boxes.wait_reply(0, 1, Duration::from_millis(20)).unwrap(),
            None
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(boxes
            .post(1, 0)
            .unwrap_err()
            .0
            .contains("slot 1 out of range"));
        let misaligned = unsafe { (words.as_mut_ptr() as *mut u8).add(1) };
        assert!(unsafe { Mailboxes::new(misaligned, 1) }.is_err());
    }
}

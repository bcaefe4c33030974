//! A persistent thread pool for stepping env batches.
//!
//! `run(pieces, f)` calls `f(p)` once for every `p in 0..pieces`; the calling
//! thread and the workers claim pieces from a shared counter, so a worker
//! that the OS has not scheduled (a busy, shared machine) never holds the
//! caller up: once every piece is claimed the caller closes the job, and a
//! worker that arrives late skips it. The caller waits only for pieces that
//! a worker actually claimed. Idle workers spin briefly (back-to-back steps
//! cost no wake-up) and then sleep on a condition variable.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps.
const SPIN: Duration = Duration::from_micros(20);

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    generation: AtomicU64,
    /// The current job; written by the caller only while no worker is
    /// entered and the job is closed, read by workers only while entered in
    /// an open job (see `run`).
    job: UnsafeCell<Option<Job>>,
    pieces: AtomicUsize,
    next: AtomicUsize,
    closed: AtomicBool,
    entered: AtomicUsize,
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
    panicked: AtomicBool,
}

// SAFETY: `job` is guarded by the `closed`/`entered` protocol described in `run`.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    /// Claims and runs pieces until none is left.
    fn work(&self, f: &(dyn Fn(usize) + Sync)) {
        let pieces = self.pieces.load(Ordering::Acquire);
        loop {
            let p = self.next.fetch_add(1, Ordering::AcqRel);
            if p >= pieces {
                return;
            }
            f(p);
        }
    }
}

/// The most threads a pool may have: far more than any machine has cores,
/// few enough that a mistyped `num_threads` cannot exhaust the process's threads.
pub const MAX_THREADS: usize = 1024;

/// A fixed set of `num_threads - 1` worker threads plus the caller.
pub struct ThreadPool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    num_threads: usize,
    /// The process that started the workers: a `fork()`ed child inherits the
    /// pool but not its threads, and must not wait for them.
    owner_pid: u32,
}

impl ThreadPool {
    /// A pool that runs jobs on `num_threads` threads (at least 1; the caller is one of them).
    ///
    /// # Errors
    /// The OS's error if it refuses a worker thread; the workers already
    /// started are stopped and joined first, so nothing is left running.
    pub fn new(num_threads: usize) -> std::io::Result<Self> {
        Self::with_builders(num_threads, |_| std::thread::Builder::new())
    }

    /// `new`, with worker `index`'s thread built from `builder(index)` (tests
    /// make a spawn fail with an impossible stack size).
    fn with_builders(
        num_threads: usize,
        builder: impl Fn(usize) -> std::thread::Builder,
    ) -> std::io::Result<Self> {
        let num_threads = num_threads.max(1);
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            job: UnsafeCell::new(None),
            pieces: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(true),
            entered: AtomicUsize::new(0),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
        });
        let mut pool = ThreadPool {
            shared,
            handles: Vec::with_capacity(num_threads - 1),
            num_threads,
            owner_pid: std::process::id(),
        };
        for index in 1..num_threads {
            let shared = Arc::clone(&pool.shared);
            let handle = builder(index)
                .name(format!("tfdrive-env-{index}"))
                .spawn(move || worker(&shared))?; // Dropping `pool` joins the started ones.
            pool.handles.push(handle);
        }
        Ok(pool)
    }

    /// The number of threads a job may run on (the caller included).
    pub fn num_threads(&self) -> usize {
        self.num_threads
    }

    /// Calls `f(p)` for each `p in 0..pieces`, spread over the pool, and
    /// returns when every call has returned.
    ///
    /// # Panics
    /// Re-raises (as a new panic) if any call panicked.
    pub fn run(&self, pieces: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.num_threads == 1 || pieces <= 1 {
            for p in 0..pieces {
                f(p);
            }
            return;
        }
        let s = &*self.shared;
        // Protocol: workers enter (`entered += 1`) and then check `closed`;
        // they read `job` only when it is open and leave (`entered -= 1`)
        // when no piece is left. The caller writes `job` while it is closed
        // and nobody is entered, opens it, and after claiming pieces itself
        // closes it and waits until nobody is entered. SeqCst on
        // `entered`/`closed` makes a worker either see the job closed or be
        // waited for.
        //
        // SAFETY: the lifetime of `f` is erased; no worker uses it after
        // `run` returns (it waits for `entered == 0` after closing).
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        unsafe { *s.job.get() = Some(job) };
        s.pieces.store(pieces, Ordering::SeqCst);
        s.next.store(0, Ordering::SeqCst);
        s.closed.store(false, Ordering::SeqCst);
        s.generation.fetch_add(1, Ordering::SeqCst);
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        let caller = catch_unwind(AssertUnwindSafe(|| s.work(f)));
        s.closed.store(true, Ordering::SeqCst);
        let mut spins = 0u32;
        while s.entered.load(Ordering::SeqCst) != 0 {
            spins += 1;
            if spins < 2000 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        unsafe { *s.job.get() = None };
        if let Err(payload) = caller {
            std::panic::resume_unwind(payload);
        }
        if s.panicked.swap(false, Ordering::SeqCst) {
            // A kernel bug, not bad input (inputs are checked before a job
            // starts): re-raised on the caller's thread like its own panics.
            #[allow(clippy::panic)]
            {
                panic!("an env worker thread panicked");
            }
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let g = s.generation.load(Ordering::Acquire);
            if g != seen {
                seen = g;
                break;
            }
            if s.shutdown.load(Ordering::Acquire) {
                return;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) || start.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, Ordering::SeqCst);
            while s.generation.load(Ordering::SeqCst) == seen && !s.shutdown.load(Ordering::SeqCst)
            {
                guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            s.sleeping.fetch_sub(1, Ordering::SeqCst);
        }
        s.entered.fetch_add(1, Ordering::SeqCst);
        if !s.closed.load(Ordering::SeqCst) {
            // SAFETY: the job is open and this worker is entered: the caller
            // neither rewrites nor drops it until `entered` returns to 0.
            if let Some(job) = unsafe { *s.job.get() } {
                let f: &(dyn Fn(usize) + Sync) = unsafe { &*job };
                if catch_unwind(AssertUnwindSafe(|| s.work(f))).is_err() {
                    s.panicked.store(true, Ordering::SeqCst);
                }
            }
        }
        s.entered.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        if std::process::id() != self.owner_pid {
            // In a forked child the workers do not exist: joining them would
            // wait on threads of the parent. Their handles are forgotten.
            for handle in self.handles.drain(..) {
                std::mem::forget(handle);
            }
            return;
        }
        self.shared.shutdown.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("num_threads", &self.num_threads)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_spawn_is_an_error_not_a_panic() {
        // Worker 3 asks for an impossible stack: its spawn fails after two
        // workers have started (dropping the half-built pool joins them).
        let result = ThreadPool::with_builders(5, |index| {
            let builder = std::thread::Builder::new();
            if index == 3 {
                builder.stack_size(usize::MAX / 2)
            } else {
                builder
            }
        });
        assert!(result.is_err());
        // Nothing is left in a broken state: a new pool works as usual.
        let pool = ThreadPool::new(3).unwrap();
        let count = AtomicUsize::new(0);
        pool.run(6, &|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn runs_every_piece_once_many_times() {
        let pool = ThreadPool::new(3).unwrap();
        let counts: Vec<AtomicUsize> = (0..7).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..2000 {
            pool.run(7, &|p| {
                counts[p].fetch_add(1, Ordering::Relaxed);
            });
        }
        for c in &counts {
            assert_eq!(c.load(Ordering::Relaxed), 2000);
        }
    }

    #[test]
    fn sleeping_workers_wake_up() {
        let pool = ThreadPool::new(2).unwrap();
        let n = AtomicUsize::new(0);
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(2));
            pool.run(4, &|_| {
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            });
        }
        assert_eq!(n.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn worker_panic_is_reported() {
        let pool = ThreadPool::new(2).unwrap();
        let worker_ran = AtomicBool::new(false);
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.run(64, &|_| {
                std::thread::sleep(Duration::from_micros(50));
                if std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("tfdrive-env"))
                {
                    worker_ran.store(true, Ordering::SeqCst);
                    panic!("boom");
                }
            })
        }));
        // On a busy machine the caller may claim every piece itself.
        assert_eq!(r.is_err(), worker_ran.load(Ordering::SeqCst));
        pool.run(2, &|_| {});
    }

    #[test]
    fn caller_panic_is_reraised() {
        let pool = ThreadPool::new(2).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| pool.run(1, &|_| panic!("caller"))));
        assert!(r.is_err());
        pool.run(2, &|_| {});
    }
}

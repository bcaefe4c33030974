//! The opt-in per-stage breakdown of a driver run (`timing=True`): one clock
//! that every callback of the loop times itself with.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A stage of the loop.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    /// `policy.action` and `get_initial_state`.
    Policy,
    /// `env.step`.
    Env,
    /// Part of `Env`: waiting to re-take the GIL after a native env step.
    GilWait,
    /// Building trajectories and transitions, reading step types.
    Assembly,
    /// Observer calls: transition, trajectory (Python and native) and info.
    Observers,
}

/// Wall time per stage, measured only when the clock is on; otherwise it
/// runs closures plainly and adds nothing. Cells let a callback time itself
/// while the collector that owns the clock is borrowed.
#[derive(Debug, Default)]
pub(crate) struct StageClock {
    on: bool,
    spent: [Cell<Duration>; 5],
}

impl StageClock {
    pub(crate) fn new(on: bool) -> Self {
        StageClock {
            on,
            ..Default::default()
        }
    }

    /// The current instant when the clock is on.
    pub(crate) fn start(&self) -> Option<Instant> {
        self.on.then(Instant::now)
    }

    /// Runs `f`, adding its wall time to `stage`.
    pub(crate) fn time<T>(&self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let Some(start) = self.start() else {
            return f();
        };
        let out = f();
        self.add(stage, start.elapsed());
        out
    }

    pub(crate) fn add(&self, stage: Stage, duration: Duration) {
        if self.on {
            let cell = &self.spent[stage as usize];
            cell.set(cell.get() + duration);
        }
    }

    pub(crate) fn spent(&self, stage: Stage) -> Duration {
        self.spent[stage as usize].get()
    }

    /// The totals so far, or None when the clock is off.
    pub(crate) fn times(&self) -> Option<StageTimes> {
        self.on.then(|| StageTimes {
            policy: self.spent(Stage::Policy),
            env: self.spent(Stage::Env),
            gil_wait: self.spent(Stage::GilWait),
            assembly: self.spent(Stage::Assembly),
            observers: self.spent(Stage::Observers),
        })
    }
}

/// Wall time spent in each stage of a run (see `Stage`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StageTimes {
    pub(crate) policy: Duration,
    pub(crate) env: Duration,
    pub(crate) gil_wait: Duration,
    pub(crate) assembly: Duration,
    pub(crate) observers: Duration,
}

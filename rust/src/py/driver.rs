//! `DriverCore`: the native engine behind `tfdrive.drivers.py_driver.PyDriver`.
//!
//! It runs `driver::run` with Python callbacks: any object with the
//! PyEnvironment protocol (`step`, `batched`, `batch_size`, `get_info`), any
//! object with the PyPolicy protocol (`action`, `get_initial_state`) and
//! plain callables as observers (see `collect.rs` for the callbacks and
//! `timing.rs` for the stage breakdown).

use std::time::Instant;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::arrays::StepTypes;
use super::collect::{native_env, snapshot, Observer, PythonCollect};
use super::error::Error;
use super::timing::{StageClock, StageTimes};
use crate::driver::{self, Limits};
use crate::trajectory;

/// The step loop of a PyDriver; holds its env, policy, observers and limits.
#[pyclass(module = "tfdrive._core", name = "DriverCore", frozen)]
pub struct DriverCore {
    env: Py<PyAny>,
    policy: Py<PyAny>,
    observers: Py<PyAny>,
    transition_observers: Py<PyAny>,
    info_observers: Py<PyAny>,
    limits: Limits,
    trajectory_type: Py<PyAny>,
}

#[pymethods]
impl DriverCore {
    /// `max_steps` / `max_episodes`: `inf` for unlimited. `trajectory_type`
    /// is called as `trajectory_type(step_type, observation, action,
    /// policy_info, next_step_type, reward, discount)`.
    #[new]
    #[pyo3(signature = (
        env, policy, observers, transition_observers, info_observers,
        max_steps, max_episodes, end_episode_on_boundary, trajectory_type,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        env: Py<PyAny>,
        policy: Py<PyAny>,
        observers: Py<PyAny>,
        transition_observers: Py<PyAny>,
        info_observers: Py<PyAny>,
        max_steps: f64,
        max_episodes: f64,
        end_episode_on_boundary: bool,
        trajectory_type: Py<PyAny>,
    ) -> Self {
        DriverCore {
            env,
            policy,
            observers,
            transition_observers,
            info_observers,
            limits: Limits {
                max_steps,
                max_episodes,
                end_episode_on_boundary,
            },
            trajectory_type,
        }
    }

    /// Runs the policy in the env from `time_step` and `policy_state` until
    /// a limit is reached. Returns `(time_step, policy_state, stats)`: the
    /// last time step, the state the policy last returned, and a `RunStats`.
    ///
    /// `progress`, if not None, is called as `progress(num_steps,
    /// num_episodes)` with the run's totals every 0.2 s and once at the end.
    /// `timing=True` adds the per-stage breakdown to the stats.
    #[pyo3(signature = (time_step, policy_state, progress=None, timing=false))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        time_step: Bound<'py, PyAny>,
        policy_state: Bound<'py, PyAny>,
        progress: Option<Bound<'py, PyAny>>,
        timing: bool,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, RunStats)> {
        let started = Instant::now();
        let env = self.env.bind(py).clone();
        let batched = env.getattr(intern!(py, "batched"))?.is_truthy()?;
        let mut collect = PythonCollect {
            py,
            native_env: native_env(&env)?,
            env,
            policy: self.policy.bind(py).clone(),
            observers: snapshot(self.observers.bind(py))?
                .into_iter()
                .map(Observer::classify)
                .collect::<PyResult<_>>()?,
            transition_observers: snapshot(self.transition_observers.bind(py))?,
            info_observers: snapshot(self.info_observers.bind(py))?,
            trajectory_type: self.trajectory_type.bind(py).clone(),
            end_episode_on_boundary: self.limits.end_episode_on_boundary,
            progress,
            last_report: Instant::now(),
            clock: StageClock::new(timing),
        };
        let out = driver::run(&mut collect, self.limits, batched, time_step, policy_state)?;
        if let Some(progress) = &collect.progress {
            progress.call1((out.progress.steps, out.progress.episodes))?;
        }
        let stats = RunStats {
            num_steps: out.progress.steps,
            num_episodes: out.progress.episodes,
            iterations: out.iterations,
            seconds: started.elapsed().as_secs_f64(),
            stages: collect.clock.times(),
        };
        Ok((out.time_step, out.policy_state, stats))
    }
}

/// What one `run()` did: counts, wall time and, with `timing=True`, the
/// seconds spent per stage.
#[pyclass(module = "tfdrive._core", name = "RunStats", frozen)]
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Steps collected (boundary transitions excluded), summed over a batch.
    #[pyo3(get)]
    num_steps: u64,
    /// Episodes collected, summed over a batch.
    #[pyo3(get)]
    num_episodes: u64,
    /// Loop iterations, i.e. `policy.action` calls.
    #[pyo3(get)]
    iterations: u64,
    /// Wall time of the whole run, in seconds.
    #[pyo3(get)]
    seconds: f64,
    stages: Option<StageTimes>,
}

#[pymethods]
impl RunStats {
    /// Seconds per stage (`policy`, `env`, `gil_wait`, `assembly`,
    /// `observers`, and `other`: the loop itself, interrupt checks,
    /// progress), or None without `timing=True`. `env` excludes `gil_wait`,
    /// the time a native env step waited to re-take the GIL; they add up to
    /// `seconds`.
    #[getter]
    fn stages<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = self.stages else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        let measured = s.policy + s.env + s.assembly + s.observers;
        let other = (self.seconds - measured.as_secs_f64()).max(0.0);
        dict.set_item("policy", s.policy.as_secs_f64())?;
        dict.set_item("env", s.env.saturating_sub(s.gil_wait).as_secs_f64())?;
        dict.set_item("gil_wait", s.gil_wait.as_secs_f64())?;
        dict.set_item("assembly", s.assembly.as_secs_f64())?;
        dict.set_item("observers", s.observers.as_secs_f64())?;
        dict.set_item("other", other)?;
        Ok(Some(dict))
    }

    fn __repr__(&self) -> String {
        format!(
            "RunStats(num_steps={}, num_episodes={}, iterations={}, seconds={:.6})",
            self.num_steps, self.num_episodes, self.iterations, self.seconds
        )
    }
}

/// `count_steps(step_type, next_step_type, end_episode_on_boundary=True)`:
/// what a (batch of) transition(s) adds to a driver's counters, as
/// `(num_steps, num_episodes)`.
#[pyfunction]
#[pyo3(signature = (step_type, next_step_type, end_episode_on_boundary = true))]
pub(crate) fn count_steps(
    step_type: &Bound<'_, PyAny>,
    next_step_type: &Bound<'_, PyAny>,
    end_episode_on_boundary: bool,
) -> PyResult<(u64, u64)> {
    let first = StepTypes::read(step_type, "step_type")?;
    let next = StepTypes::read(next_step_type, "next_step_type")?;
    let p = trajectory::progress(first.as_slice()?, next.as_slice()?, end_episode_on_boundary)
        .map_err(Error::from)?;
    Ok((p.steps, p.episodes))
}

//! `DriverCore`: the native engine behind `tfdrive.drivers.py_driver.PyDriver`.
//!
//! It runs `driver::run` with Python callbacks: any object with the
//! PyEnvironment protocol (`step`, `batched`, `batch_size`, `get_info`), any
//! object with the PyPolicy protocol (`action`, `get_initial_state`) and
//! plain callables as observers. Time steps and policy steps are read by
//! field name, so tfdrive's, TF-Agents' and users' namedtuples all work.
//! Native observers (`_native_observer`) are updated in Rust.

use std::time::{Duration, Instant};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::arrays::{RewardsView, StepTypes};
use super::buffer::TrajectoryBufferCore;
use super::envs::NativeVecEnv;
use super::error::{in_use, Error, Result};
use super::lookups::native_environment_class;
use super::observers::EpisodeMetricCore;
use crate::driver::{self, Collect, Limits};
use crate::trajectory::{self, Progress, FIRST};

/// How often a progress callback is called during a run.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

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
            stages: timing.then(StageTimes::default),
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
            stages: collect.stages,
        };
        Ok((out.time_step, out.policy_state, stats))
    }
}

/// Wall time spent in each stage of the loop (the opt-in breakdown).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StageTimes {
    /// `policy.action` and `get_initial_state`.
    policy: Duration,
    /// `env.step`.
    env: Duration,
    /// Building trajectories and transitions, reading step types.
    assembly: Duration,
    /// Observer calls: transition, trajectory (Python and native) and info.
    observers: Duration,
    /// Part of `env`: waiting to re-take the GIL after a native env step.
    gil_wait: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    Policy,
    Env,
    Assembly,
}

impl StageTimes {
    fn add(&mut self, stage: Stage, since: Instant) {
        let slot = match stage {
            Stage::Policy => &mut self.policy,
            Stage::Env => &mut self.env,
            Stage::Assembly => &mut self.assembly,
        };
        *slot += since.elapsed();
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

/// The Rust env inside a `tfdrive.environments.native.NativeEnvironment`
/// (its `_native_env`), which the driver steps directly: only when `env`
/// holds it itself (a wrapper that forwards attribute reads to a native env
/// does not) and its class keeps NativeEnvironment's `step` and `_step`, so
/// that nothing a wrapper or subclass does on a step is skipped.
fn native_env<'py>(env: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, NativeVecEnv>>> {
    let py = env.py();
    let Some(attributes) = env.getattr_opt(intern!(py, "__dict__"))? else {
        return Ok(None);
    };
    let Ok(attributes) = attributes.cast_into::<PyDict>() else {
        return Ok(None);
    };
    let Some(native) = attributes.get_item(intern!(py, "_native_env"))? else {
        return Ok(None);
    };
    let Ok(native) = native.cast_into::<NativeVecEnv>() else {
        return Ok(None);
    };
    let base = native_environment_class(py)?;
    let class = env.get_type();
    for method in [intern!(py, "step"), intern!(py, "_step")] {
        if !class.getattr(method)?.is(&base.getattr(method)?) {
            return Ok(None);
        }
    }
    Ok(Some(native))
}

/// Times the building of what observers receive, apart from their calls.
struct AssemblyClock {
    on: bool,
    spent: Duration,
}

impl AssemblyClock {
    fn new(on: bool) -> Self {
        AssemblyClock {
            on,
            spent: Duration::ZERO,
        }
    }

    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        if !self.on {
            return f();
        }
        let start = Instant::now();
        let out = f();
        self.spent += start.elapsed();
        out
    }
}

/// Observer lists are read once per `run()`, so a list changed between two
/// runs takes effect at the next one.
fn snapshot<'py>(observers: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    observers.try_iter()?.collect()
}

/// A trajectory observer: native ones run in Rust, without a Python call.
enum Observer<'py> {
    Python(Bound<'py, PyAny>),
    Metric(Bound<'py, EpisodeMetricCore>),
    Buffer(Bound<'py, TrajectoryBufferCore>),
}

impl<'py> Observer<'py> {
    /// Native when the object carries a native core in `_native_observer`.
    fn classify(observer: Bound<'py, PyAny>) -> PyResult<Self> {
        let native = observer.getattr_opt(intern!(observer.py(), "_native_observer"))?;
        if let Some(native) = native {
            if let Ok(metric) = native.cast::<EpisodeMetricCore>() {
                return Ok(Observer::Metric(metric.clone()));
            }
            if let Ok(buffer) = native.cast::<TrajectoryBufferCore>() {
                return Ok(Observer::Buffer(buffer.clone()));
            }
        }
        Ok(Observer::Python(observer))
    }
}

/// `Collect` over Python objects: every callback holds the GIL.
struct PythonCollect<'py> {
    py: Python<'py>,
    env: Bound<'py, PyAny>,
    /// Set for native envs: stepped in Rust, without a Python call.
    native_env: Option<Bound<'py, NativeVecEnv>>,
    policy: Bound<'py, PyAny>,
    observers: Vec<Observer<'py>>,
    transition_observers: Vec<Bound<'py, PyAny>>,
    info_observers: Vec<Bound<'py, PyAny>>,
    trajectory_type: Bound<'py, PyAny>,
    end_episode_on_boundary: bool,
    progress: Option<Bound<'py, PyAny>>,
    last_report: Instant,
    stages: Option<StageTimes>,
}

impl<'py> PythonCollect<'py> {
    /// Runs `f`, adding its wall time to `stage` when timing is on.
    fn timed<T>(&mut self, stage: Stage, f: impl FnOnce(&mut Self) -> T) -> T {
        if self.stages.is_none() {
            return f(self);
        }
        let start = Instant::now();
        let out = f(self);
        if let Some(stages) = &mut self.stages {
            stages.add(stage, start);
        }
        out
    }

    /// `action_step._replace(state=state)`: what transition observers get.
    fn with_input_state(
        &self,
        action_step: &Bound<'py, PyAny>,
        state: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(self.py);
        kwargs.set_item(intern!(self.py, "state"), state)?;
        action_step.call_method(intern!(self.py, "_replace"), (), Some(&kwargs))
    }

    /// The seven `Trajectory` fields, in order: the time step's step type
    /// and observation, the action and info, and the next time step's step
    /// type, reward and discount.
    fn trajectory_fields(
        &self,
        time_step: &Bound<'py, PyAny>,
        action_step: &Bound<'py, PyAny>,
        next_time_step: &Bound<'py, PyAny>,
    ) -> PyResult<[Bound<'py, PyAny>; 7]> {
        let py = self.py;
        Ok([
            time_step.getattr(intern!(py, "step_type"))?,
            time_step.getattr(intern!(py, "observation"))?,
            action_step.getattr(intern!(py, "action"))?,
            action_step.getattr(intern!(py, "info"))?,
            next_time_step.getattr(intern!(py, "step_type"))?,
            next_time_step.getattr(intern!(py, "reward"))?,
            next_time_step.getattr(intern!(py, "discount"))?,
        ])
    }

    /// Hands the transition to every observer, in TF-Agents' order; returns
    /// the time spent building what they receive (when timing).
    fn dispatch(
        &self,
        time_step: &Bound<'py, PyAny>,
        action_step: &Bound<'py, PyAny>,
        state: &Bound<'py, PyAny>,
        next_time_step: &Bound<'py, PyAny>,
        step_types: &StepTypes<'py>,
        next_step_types: &StepTypes<'py>,
    ) -> Result<Duration> {
        let py = self.py;
        let mut assembly = AssemblyClock::new(self.stages.is_some());
        if !self.transition_observers.is_empty() {
            let transition = assembly.time(|| {
                let action_step = self.with_input_state(action_step, state)?;
                PyTuple::new(py, [time_step, &action_step, next_time_step])
            })?;
            for observer in &self.transition_observers {
                observer.call1((&transition,))?;
            }
        }
        // Read and built only for the observers that need them: the fields
        // for Python observers and the buffer, the Trajectory for Python ones.
        let mut fields = None;
        let mut traj = None;
        let mut rewards = None;
        for observer in &self.observers {
            match observer {
                Observer::Python(observer) => {
                    let traj = match &traj {
                        Some(traj) => traj,
                        None => traj.insert(assembly.time(|| -> Result<_> {
                            let fields = match &fields {
                                Some(fields) => fields,
                                None => fields.insert(self.trajectory_fields(
                                    time_step,
                                    action_step,
                                    next_time_step,
                                )?),
                            };
                            Ok(self.trajectory_type.call1(PyTuple::new(py, fields)?)?)
                        })?),
                    };
                    observer.call1((traj,))?;
                }
                Observer::Buffer(buffer) => {
                    let fields = match &fields {
                        Some(fields) => fields,
                        None => fields.insert(self.trajectory_fields(
                            time_step,
                            action_step,
                            next_time_step,
                        )?),
                    };
                    buffer
                        .try_borrow_mut()
                        .map_err(in_use("trajectory buffer"))?
                        .add_fields_from(fields)?;
                }
                Observer::Metric(metric) => {
                    let rewards = match &rewards {
                        Some(rewards) => rewards,
                        None => rewards.insert(RewardsView::read(
                            &next_time_step.getattr(intern!(py, "reward"))?,
                            "next_time_step.reward",
                        )?),
                    };
                    metric
                        .try_borrow_mut()
                        .map_err(in_use("metric"))?
                        .observe_arrays(step_types, next_step_types, rewards)?;
                }
            }
        }
        for observer in &self.info_observers {
            let info = self.env.call_method0(intern!(py, "get_info"))?;
            observer.call1((info,))?;
        }
        Ok(assembly.spent)
    }
}

impl<'py> Collect for PythonCollect<'py> {
    type TimeStep = Bound<'py, PyAny>;
    type State = Bound<'py, PyAny>;
    type ActionStep = Bound<'py, PyAny>;
    type Error = Error;

    fn check_interrupt(&mut self) -> Result<()> {
        Ok(self.py.check_signals()?)
    }

    fn is_first(&mut self, time_step: &Self::TimeStep) -> Result<bool> {
        let step_type = time_step.getattr(intern!(self.py, "step_type"))?;
        let step_types = StepTypes::read(&step_type, "time_step.step_type")?;
        Ok(step_types.as_slice()?.contains(&FIRST))
    }

    fn initial_state(&mut self) -> Result<Self::State> {
        self.timed(Stage::Policy, |c| {
            // TF-Agents asks for `env.batch_size or 1`.
            let batch_size = c.env.getattr(intern!(c.py, "batch_size"))?;
            let batch_size = if batch_size.is_truthy()? {
                batch_size
            } else {
                pyo3::types::PyInt::new(c.py, 1).into_any()
            };
            Ok(c.policy
                .call_method1(intern!(c.py, "get_initial_state"), (batch_size,))?)
        })
    }

    fn action(
        &mut self,
        time_step: &Self::TimeStep,
        state: &Self::State,
    ) -> Result<Self::ActionStep> {
        self.timed(Stage::Policy, |c| {
            Ok(c.policy
                .call_method1(intern!(c.py, "action"), (time_step, state))?)
        })
    }

    fn step(&mut self, action_step: &Self::ActionStep) -> Result<Self::TimeStep> {
        let action = action_step.getattr(intern!(self.py, "action"))?;
        self.timed(Stage::Env, |c| match &c.native_env {
            Some(native) => {
                let mut native = native.try_borrow_mut().map_err(in_use("native env"))?;
                let next = native.step_time_step(c.py, &action)?;
                if let Some(stages) = &mut c.stages {
                    stages.gil_wait += native.gil_wait();
                }
                Ok(next)
            }
            None => Ok(c.env.call_method1(intern!(c.py, "step"), (action,))?),
        })
    }

    fn observe(
        &mut self,
        time_step: &Self::TimeStep,
        action_step: &Self::ActionStep,
        state: &Self::State,
        next_time_step: &Self::TimeStep,
    ) -> Result<Progress> {
        let py = self.py;
        let (step_types, next_step_types) = self.timed(Stage::Assembly, |_| -> Result<_> {
            let step_type = time_step.getattr(intern!(py, "step_type"))?;
            let next_step_type = next_time_step.getattr(intern!(py, "step_type"))?;
            Ok((
                StepTypes::read(&step_type, "time_step.step_type")?,
                StepTypes::read(&next_step_type, "next_time_step.step_type")?,
            ))
        })?;
        if step_types.as_slice()?.is_empty() || next_step_types.as_slice()?.is_empty() {
            // Zero envs take no step and end no episode: the run would never end.
            return Err(Error::Value(
                "time_step.step_type is empty (a batch of 0 environments): a run over it \
                 could never reach max_steps or max_episodes"
                    .to_owned(),
            ));
        }
        let start = self.stages.is_some().then(Instant::now);
        let assembled = self.dispatch(
            time_step,
            action_step,
            state,
            next_time_step,
            &step_types,
            &next_step_types,
        )?;
        if let (Some(stages), Some(start)) = (&mut self.stages, start) {
            let total = start.elapsed();
            stages.assembly += assembled;
            stages.observers += total.saturating_sub(assembled);
        }
        Ok(trajectory::progress(
            step_types.as_slice()?,
            next_step_types.as_slice()?,
            self.end_episode_on_boundary,
        )?)
    }

    fn output_state(&mut self, action_step: Self::ActionStep) -> Result<Self::State> {
        Ok(action_step.getattr(intern!(self.py, "state"))?)
    }

    fn tick(&mut self, done: Progress) -> Result<()> {
        if let Some(progress) = &self.progress {
            if self.last_report.elapsed() >= PROGRESS_INTERVAL {
                progress.call1((done.steps, done.episodes))?;
                self.last_report = Instant::now();
            }
        }
        Ok(())
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

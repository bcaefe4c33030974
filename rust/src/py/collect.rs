//! `PythonCollect`: the step loop's callbacks (`driver::Collect`) over
//! Python objects, with observer dispatch. Every callback holds the GIL.
//!
//! Time steps and policy steps are read by field name, so tfdrive's,
//! TF-Agents' and users' namedtuples all work. Native observers
//! (`_native_observer`) and native envs are updated in Rust.

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
use super::timing::{Stage, StageClock};
use crate::driver::Collect;
use crate::trajectory::{self, Progress, FIRST};

/// How often a progress callback is called during a run.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// The Rust env inside a `tfdrive.environments.native.NativeEnvironment`
/// (its `_native_env`), which the driver steps directly: only when `env`
/// holds it itself (a wrapper that forwards attribute reads to a native env
/// does not) and its class keeps NativeEnvironment's `step` and `_step`, so
/// that nothing a wrapper or subclass does on a step is skipped.
pub(crate) fn native_env<'py>(
    env: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, NativeVecEnv>>> {
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

/// Observer lists are read once per `run()`, so a list changed between two
/// runs takes effect at the next one.
pub(crate) fn snapshot<'py>(observers: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    observers.try_iter()?.collect()
}

/// A trajectory observer: native ones run in Rust, without a Python call.
pub(crate) enum Observer<'py> {
    Python(Bound<'py, PyAny>),
    Metric(Bound<'py, EpisodeMetricCore>),
    Buffer(Bound<'py, TrajectoryBufferCore>),
}

impl<'py> Observer<'py> {
    /// Native when the object carries a native core in `_native_observer`.
    pub(crate) fn classify(observer: Bound<'py, PyAny>) -> PyResult<Self> {
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
pub(crate) struct PythonCollect<'py> {
    pub(crate) py: Python<'py>,
    pub(crate) env: Bound<'py, PyAny>,
    /// Set for native envs: stepped in Rust, without a Python call.
    pub(crate) native_env: Option<Bound<'py, NativeVecEnv>>,
    pub(crate) policy: Bound<'py, PyAny>,
    pub(crate) observers: Vec<Observer<'py>>,
    pub(crate) transition_observers: Vec<Bound<'py, PyAny>>,
    pub(crate) info_observers: Vec<Bound<'py, PyAny>>,
    pub(crate) trajectory_type: Bound<'py, PyAny>,
    pub(crate) end_episode_on_boundary: bool,
    pub(crate) progress: Option<Bound<'py, PyAny>>,
    pub(crate) last_report: Instant,
    pub(crate) clock: StageClock,
}

impl<'py> PythonCollect<'py> {
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

    /// The trajectory fields, read on the first call of a dispatch and kept
    /// in `slot` for the observers after it.
    fn fields_once<'a>(
        &self,
        slot: &'a mut Option<[Bound<'py, PyAny>; 7]>,
        time_step: &Bound<'py, PyAny>,
        action_step: &Bound<'py, PyAny>,
        next_time_step: &Bound<'py, PyAny>,
    ) -> PyResult<&'a [Bound<'py, PyAny>; 7]> {
        Ok(match slot {
            Some(fields) => fields,
            None => slot.insert(self.trajectory_fields(time_step, action_step, next_time_step)?),
        })
    }

    /// Hands the transition to every observer, in TF-Agents' order, timing
    /// what it builds for them as assembly.
    fn dispatch(
        &self,
        time_step: &Bound<'py, PyAny>,
        action_step: &Bound<'py, PyAny>,
        state: &Bound<'py, PyAny>,
        next_time_step: &Bound<'py, PyAny>,
        step_types: &StepTypes<'py>,
        next_step_types: &StepTypes<'py>,
    ) -> Result<()> {
        let py = self.py;
        if !self.transition_observers.is_empty() {
            let transition = self.clock.time(Stage::Assembly, || {
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
                        None => {
                            traj.insert(self.clock.time(Stage::Assembly, || -> Result<_> {
                                let fields = self.fields_once(
                                    &mut fields,
                                    time_step,
                                    action_step,
                                    next_time_step,
                                )?;
                                Ok(self.trajectory_type.call1(PyTuple::new(py, fields)?)?)
                            })?)
                        }
                    };
                    observer.call1((traj,))?;
                }
                Observer::Buffer(buffer) => {
                    let fields =
                        self.fields_once(&mut fields, time_step, action_step, next_time_step)?;
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
        Ok(())
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
        let py = self.py;
        self.clock.time(Stage::Policy, || {
            // TF-Agents asks for `env.batch_size or 1`.
            let batch_size = self.env.getattr(intern!(py, "batch_size"))?;
            let batch_size = if batch_size.is_truthy()? {
                batch_size
            } else {
                pyo3::types::PyInt::new(py, 1).into_any()
            };
            Ok(self
                .policy
                .call_method1(intern!(py, "get_initial_state"), (batch_size,))?)
        })
    }

    fn action(
        &mut self,
        time_step: &Self::TimeStep,
        state: &Self::State,
    ) -> Result<Self::ActionStep> {
        self.clock.time(Stage::Policy, || {
            Ok(self
                .policy
                .call_method1(intern!(self.py, "action"), (time_step, state))?)
        })
    }

    fn step(&mut self, action_step: &Self::ActionStep) -> Result<Self::TimeStep> {
        let action = action_step.getattr(intern!(self.py, "action"))?;
        self.clock.time(Stage::Env, || match &self.native_env {
            Some(native) => {
                let mut native = native.try_borrow_mut().map_err(in_use("native env"))?;
                let next = native.step_time_step(self.py, &action)?;
                self.clock.add(Stage::GilWait, native.gil_wait());
                Ok(next)
            }
            None => Ok(self.env.call_method1(intern!(self.py, "step"), (action,))?),
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
        let (step_types, next_step_types) = self.clock.time(Stage::Assembly, || -> Result<_> {
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
        // Observers get the dispatch's time less what it spent on assembly.
        let start = self.clock.start();
        let assembled_before = self.clock.spent(Stage::Assembly);
        self.dispatch(
            time_step,
            action_step,
            state,
            next_time_step,
            &step_types,
            &next_step_types,
        )?;
        if let Some(start) = start {
            let assembled = self.clock.spent(Stage::Assembly) - assembled_before;
            self.clock
                .add(Stage::Observers, start.elapsed().saturating_sub(assembled));
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

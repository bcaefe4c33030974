//! Native observers at the Python boundary.
//!
//! A Python observer object that carries one of these classes in its
//! `_native_observer` attribute (e.g. `tfdrive.metrics.py_metrics`) is run by
//! the driver in Rust, with no Python call and no `Trajectory` object built
//! for it. Called from Python (TF-Agents' own driver, user code), the same
//! object works through its `observe` method.

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::arrays::{RewardsView, StepTypes};
use super::error::{state_item, Error, Result};
use crate::observers::metrics::{EpisodeMetric, MetricKind, MetricState, Transitions};

/// The state of one episode metric (see `observers::metrics`).
#[pyclass(module = "tfdrive._core", name = "EpisodeMetricCore")]
pub struct EpisodeMetricCore {
    metric: EpisodeMetric,
}

impl EpisodeMetricCore {
    /// Updates the metric from a batch of step types and rewards.
    pub(crate) fn observe_arrays(
        &mut self,
        step_type: &StepTypes<'_>,
        next_step_type: &StepTypes<'_>,
        reward: &RewardsView<'_>,
    ) -> Result<()> {
        let transitions = Transitions {
            step_type: step_type.as_slice()?,
            next_step_type: next_step_type.as_slice()?,
            reward: reward.rewards()?,
        };
        self.metric.observe(&transitions).map_err(Error::from)
    }
}

#[pymethods]
impl EpisodeMetricCore {
    /// `kind`: one of "average_return", "average_episode_length",
    /// "max_return", "min_return", "environment_steps",
    /// "number_of_episodes". `buffer_size`: None keeps every episode.
    /// `batch_size`: None takes it from the first batch.
    #[new]
    #[pyo3(signature = (kind, buffer_size=None, batch_size=None))]
    fn new(kind: &str, buffer_size: Option<usize>, batch_size: Option<usize>) -> PyResult<Self> {
        let kind = MetricKind::from_name(kind).ok_or_else(|| {
            Error::Value(format!(
                "kind must be one of 'average_return', 'average_episode_length', \
                 'max_return', 'min_return', 'environment_steps', 'number_of_episodes'; \
                 got {kind:?}"
            ))
        })?;
        // The per-env accumulators are allocated up front: a batch size that
        // cannot fit is a MemoryError here, not an abort in the allocator.
        if let Some(n) = batch_size {
            let mut probe: Vec<f64> = Vec::new();
            if probe.try_reserve_exact(n).is_err() {
                return Err(PyMemoryError::new_err(format!(
                    "batch_size={n}: not enough memory for that many per-env accumulators"
                )));
            }
        }
        Ok(EpisodeMetricCore {
            metric: EpisodeMetric::new(kind, buffer_size, batch_size),
        })
    }

    /// Updates the metric with a trajectory's `step_type`, `next_step_type`
    /// and `reward` (0-d for an unbatched env, `[B]` for a batched one).
    fn observe(
        &mut self,
        step_type: &Bound<'_, PyAny>,
        next_step_type: &Bound<'_, PyAny>,
        reward: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let step_type = StepTypes::read(step_type, "trajectory.step_type")?;
        let next_step_type = StepTypes::read(next_step_type, "trajectory.next_step_type")?;
        let reward = RewardsView::read(reward, "trajectory.reward")?;
        Ok(self.observe_arrays(&step_type, &next_step_type, &reward)?)
    }

    /// Clears the window of finished episodes, the accumulators and the count.
    fn reset(&mut self) {
        self.metric.reset();
    }

    /// The finished episodes' values in the window, oldest first (`float64`).
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.metric.window().to_vec().into_pyarray(py)
    }

    /// The running count of a counter metric.
    #[getter]
    fn count(&self) -> i64 {
        self.metric.count()
    }

    #[setter]
    fn set_count(&mut self, count: i64) {
        self.metric.set_count(count);
    }

    /// The batch size, once known.
    #[getter]
    fn batch_size(&self) -> Option<usize> {
        self.metric.batch_size()
    }

    /// The metric's state: a dict of `batch_size` (int or None),
    /// `accumulators` (float64 `[batch_size]`, the running episode values),
    /// `window` (float64, the finished episodes' values, oldest first) and
    /// `count` (int). `set_state` takes it back.
    fn get_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.metric.state();
        let dict = PyDict::new(py);
        dict.set_item("batch_size", state.batch_size)?;
        dict.set_item("accumulators", state.accumulators.into_pyarray(py))?;
        dict.set_item("window", state.window.into_pyarray(py))?;
        dict.set_item("count", state.count)?;
        Ok(dict)
    }

    /// Restores a state from `get_state()` of a metric of the same kind and
    /// buffer size. Raises KeyError for a missing key, ValueError for values
    /// that cannot be this metric's (naming the key).
    fn set_state(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let restored = MetricState {
            batch_size: state_item(state, "batch_size")?.extract()?,
            accumulators: state_item(state, "accumulators")?.extract()?,
            window: state_item(state, "window")?.extract()?,
            count: state_item(state, "count")?.extract()?,
        };
        self.metric.restore(restored).map_err(PyValueError::new_err)
    }

    /// Pickling: `(kind, buffer_size, batch_size)` rebuild the metric, then
    /// `__setstate__` restores its state.
    fn __getnewargs__(&self) -> (&'static str, Option<usize>, Option<usize>) {
        (
            self.metric.kind().name(),
            self.metric.window().maxlen(),
            self.metric.batch_size(),
        )
    }

    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.get_state(py)
    }

    fn __setstate__(&mut self, state: &Bound<'_, PyDict>) -> PyResult<()> {
        self.set_state(state)
    }
}

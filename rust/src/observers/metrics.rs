//! Episode metrics with TF-Agents' `py_metrics` semantics, updated per batch
//! of transitions.
//!
//! Streaming metrics keep one accumulator per env (the batch size is taken
//! from the first batch unless given) and push each finished episode's value
//! into a FIFO of the last `buffer_size` values:
//! - return: reset to 0 where `step_type` is FIRST, `+= reward` everywhere,
//!   pushed where `next_step_type` is LAST;
//! - length: `+= 1` where `step_type` is not LAST (boundaries are no steps),
//!   pushed and reset to 0 where `next_step_type` is LAST.
//!
//! Counters: environment steps (transitions that are not boundaries) and
//! episodes (transitions whose next step is LAST).

use std::collections::VecDeque;
use std::fmt;

use crate::trajectory::{FIRST, LAST};

/// Which statistic a metric computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Mean undiscounted return over the last `buffer_size` episodes.
    AverageReturn,
    /// Mean episode length over the last `buffer_size` episodes.
    AverageEpisodeLength,
    /// Largest return over the last `buffer_size` episodes.
    MaxReturn,
    /// Smallest return over the last `buffer_size` episodes.
    MinReturn,
    /// Count of transitions that are not boundaries.
    EnvironmentSteps,
    /// Count of transitions whose next step is LAST.
    NumberOfEpisodes,
}

impl MetricKind {
    /// Parses the snake_case name used at the Python boundary.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "average_return" => MetricKind::AverageReturn,
            "average_episode_length" => MetricKind::AverageEpisodeLength,
            "max_return" => MetricKind::MaxReturn,
            "min_return" => MetricKind::MinReturn,
            "environment_steps" => MetricKind::EnvironmentSteps,
            "number_of_episodes" => MetricKind::NumberOfEpisodes,
            _ => return None,
        })
    }

    /// The name `from_name` takes.
    pub fn name(self) -> &'static str {
        match self {
            MetricKind::AverageReturn => "average_return",
            MetricKind::AverageEpisodeLength => "average_episode_length",
            MetricKind::MaxReturn => "max_return",
            MetricKind::MinReturn => "min_return",
            MetricKind::EnvironmentSteps => "environment_steps",
            MetricKind::NumberOfEpisodes => "number_of_episodes",
        }
    }

    fn is_streaming(self) -> bool {
        !matches!(
            self,
            MetricKind::EnvironmentSteps | MetricKind::NumberOfEpisodes
        )
    }

    fn is_return(self) -> bool {
        matches!(
            self,
            MetricKind::AverageReturn | MetricKind::MaxReturn | MetricKind::MinReturn
        )
    }
}

/// Rewards of one batch, as the environment produced them.
#[derive(Debug, Clone, Copy)]
pub enum Rewards<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl Rewards<'_> {
    fn len(&self) -> usize {
        match self {
            Rewards::F32(r) => r.len(),
            Rewards::F64(r) => r.len(),
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            Rewards::F32(r) => f64::from(r[i]),
            Rewards::F64(r) => r[i],
        }
    }
}

/// One batch of B transitions (B = 1 for an unbatched env).
#[derive(Debug, Clone, Copy)]
pub struct Transitions<'a> {
    pub step_type: &'a [i32],
    pub next_step_type: &'a [i32],
    pub reward: Rewards<'a>,
}

/// A batch whose size differs from the metric's batch size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMismatch {
    pub expected: usize,
    pub field: &'static str,
    pub got: usize,
}

impl fmt::Display for BatchMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the metric's batch_size is {} but trajectory.{} has {} elements",
            self.expected, self.field, self.got
        )
    }
}

impl std::error::Error for BatchMismatch {}

/// The last `maxlen` values (all of them when unbounded), oldest first.
/// A metric's state, as `EpisodeMetric::state` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricState {
    pub batch_size: Option<usize>,
    pub accumulators: Vec<f64>,
    pub window: Vec<f64>,
    pub count: i64,
}

#[derive(Debug, Clone)]
pub struct Window {
    values: VecDeque<f64>,
    maxlen: Option<usize>,
}

impl Window {
    pub fn new(maxlen: Option<usize>) -> Self {
        Window {
            values: VecDeque::with_capacity(maxlen.unwrap_or(16).min(1 << 16)),
            maxlen,
        }
    }

    pub fn push(&mut self, value: f64) {
        if self.maxlen == Some(0) {
            return;
        }
        if Some(self.values.len()) == self.maxlen {
            self.values.pop_front();
        }
        self.values.push_back(value);
    }

    pub fn clear(&mut self) {
        self.values.clear();
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values, oldest first.
    pub fn to_vec(&self) -> Vec<f64> {
        self.values.iter().copied().collect()
    }

    pub fn maxlen(&self) -> Option<usize> {
        self.maxlen
    }
}

/// One metric's state: per-env accumulators, the window of finished
/// episodes (streaming metrics) or a running count.
#[derive(Debug, Clone)]
pub struct EpisodeMetric {
    kind: MetricKind,
    batch_size: Option<usize>,
    accumulators: Vec<f64>,
    window: Window,
    count: i64,
}

impl EpisodeMetric {
    /// `buffer_size`: None for an unbounded window. `batch_size`: None to
    /// take it from the first batch observed.
    pub fn new(kind: MetricKind, buffer_size: Option<usize>, batch_size: Option<usize>) -> Self {
        let mut metric = EpisodeMetric {
            kind,
            batch_size,
            accumulators: Vec::new(),
            window: Window::new(buffer_size),
            count: 0,
        };
        metric.reset();
        metric
    }

    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    pub fn batch_size(&self) -> Option<usize> {
        self.batch_size
    }

    /// Clears the window, the accumulators and the count.
    pub fn reset(&mut self) {
        self.window.clear();
        self.accumulators = vec![0.0; self.batch_size.unwrap_or(0)];
        self.count = 0;
    }

    /// Sets the counter (TF-Agents' `EnvironmentSteps.reset(environment_steps)`).
    pub fn set_count(&mut self, count: i64) {
        self.count = count;
    }

    /// The running count (counters) — 0 for streaming metrics.
    pub fn count(&self) -> i64 {
        self.count
    }

    /// Finished episodes' values in the window, oldest first.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Updates the metric with one batch of transitions.
    /// Everything a restored metric needs besides its kind and buffer size.
    pub fn state(&self) -> MetricState {
        MetricState {
            batch_size: self.batch_size,
            accumulators: self.accumulators.clone(),
            window: self.window.to_vec(),
            count: self.count,
        }
    }

    /// Puts the metric back in `state` (from `state()` of a metric of the
    /// same kind and buffer size).
    ///
    /// # Errors
    /// A message naming the field when `state` cannot be this metric's: the
    /// accumulators do not match the batch size, or the window holds more
    /// values than the buffer size.
    pub fn restore(&mut self, state: MetricState) -> Result<(), String> {
        let expected = state.batch_size.unwrap_or(0);
        if state.accumulators.len() != expected {
            return Err(format!(
                "state['accumulators'] has {} values, expected batch_size={expected}",
                state.accumulators.len()
            ));
        }
        if let Some(maxlen) = self.window.maxlen() {
            if state.window.len() > maxlen {
                return Err(format!(
                    "state['window'] has {} values, more than buffer_size={maxlen}",
                    state.window.len()
                ));
            }
        }
        self.batch_size = state.batch_size;
        self.accumulators = state.accumulators;
        self.window.clear();
        for value in state.window {
            self.window.push(value);
        }
        self.count = state.count;
        Ok(())
    }

    pub fn observe(&mut self, t: &Transitions<'_>) -> Result<(), BatchMismatch> {
        let n = t.step_type.len();
        if !self.kind.is_streaming() {
            // Counters sum over whatever batch they are given.
            self.count += match self.kind {
                MetricKind::EnvironmentSteps => t.step_type.iter().filter(|&&s| s != LAST).count(),
                _ => t.next_step_type.iter().filter(|&&s| s == LAST).count(),
            } as i64;
            return Ok(());
        }
        let batch_size = match self.batch_size {
            Some(b) => b,
            None => {
                // The first batch fixes the batch size, and starts afresh.
                self.batch_size = Some(n);
                self.reset();
                n
            }
        };
        self.check(batch_size, "step_type", n)?;
        self.check(batch_size, "next_step_type", t.next_step_type.len())?;
        if self.kind.is_return() {
            self.check(batch_size, "reward", t.reward.len())?;
        }
        for i in 0..batch_size {
            let first = t.step_type[i] == FIRST;
            let boundary = t.step_type[i] == LAST;
            let ends = t.next_step_type[i] == LAST;
            let acc = &mut self.accumulators[i];
            if self.kind.is_return() {
                if first {
                    *acc = 0.0;
                }
                *acc += t.reward.get(i);
                if ends {
                    self.window.push(*acc);
                }
            } else {
                if !boundary {
                    *acc += 1.0;
                }
                if ends {
                    self.window.push(*acc);
                    *acc = 0.0;
                }
            }
        }
        Ok(())
    }

    fn check(&self, expected: usize, field: &'static str, got: usize) -> Result<(), BatchMismatch> {
        if expected == got {
            Ok(())
        } else {
            Err(BatchMismatch {
                expected,
                field,
                got,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trajectory::MID;

    fn batch<'a>(st: &'a [i32], nst: &'a [i32], r: &'a [f32]) -> Transitions<'a> {
        Transitions {
            step_type: st,
            next_step_type: nst,
            reward: Rewards::F32(r),
        }
    }

    /// Two episodes of an unbatched env: returns 1+2 = 3 then 4, lengths 2 and 1.
    fn two_episodes(m: &mut EpisodeMetric) {
        m.observe(&batch(&[FIRST], &[MID], &[1.0])).unwrap();
        m.observe(&batch(&[MID], &[LAST], &[2.0])).unwrap();
        m.observe(&batch(&[LAST], &[FIRST], &[0.0])).unwrap();
        m.observe(&batch(&[FIRST], &[LAST], &[4.0])).unwrap();
    }

    #[test]
    fn returns_and_lengths() {
        let mut ret = EpisodeMetric::new(MetricKind::AverageReturn, Some(10), None);
        two_episodes(&mut ret);
        assert_eq!(ret.window().to_vec(), vec![3.0, 4.0]);
        assert_eq!(ret.batch_size(), Some(1));
        let mut len = EpisodeMetric::new(MetricKind::AverageEpisodeLength, Some(10), None);
        two_episodes(&mut len);
        assert_eq!(len.window().to_vec(), vec![2.0, 1.0]);
    }

    #[test]
    fn counters() {
        let mut steps = EpisodeMetric::new(MetricKind::EnvironmentSteps, None, None);
        two_episodes(&mut steps);
        assert_eq!(steps.count(), 3);
        let mut episodes = EpisodeMetric::new(MetricKind::NumberOfEpisodes, None, None);
        two_episodes(&mut episodes);
        assert_eq!(episodes.count(), 2);
    }

    #[test]
    fn window_keeps_the_last_values() {
        let mut w = Window::new(Some(2));
        for v in [1.0, 2.0, 3.0] {
            w.push(v);
        }
        assert_eq!(w.to_vec(), vec![2.0, 3.0]);
        let mut unbounded = Window::new(None);
        for v in 0..100 {
            unbounded.push(f64::from(v));
        }
        assert_eq!(unbounded.len(), 100);
    }

    #[test]
    fn batched_envs_accumulate_separately() {
        let mut ret = EpisodeMetric::new(MetricKind::AverageReturn, Some(10), None);
        ret.observe(&batch(&[FIRST, FIRST], &[MID, LAST], &[1.0, 5.0]))
            .unwrap();
        ret.observe(&batch(&[MID, LAST], &[LAST, FIRST], &[2.0, 0.0]))
            .unwrap();
        assert_eq!(ret.window().to_vec(), vec![5.0, 3.0]);
        let err = ret.observe(&batch(&[MID], &[MID], &[0.0])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the metric's batch_size is 2 but trajectory.step_type has 1 elements"
        );
    }

    #[test]
    fn reset_keeps_a_given_batch_size() {
        let mut ret = EpisodeMetric::new(MetricKind::MaxReturn, Some(3), Some(2));
        ret.observe(&batch(&[FIRST, FIRST], &[LAST, LAST], &[1.0, 2.0]))
            .unwrap();
        ret.reset();
        assert!(ret.window().is_empty());
        assert_eq!(ret.batch_size(), Some(2));
    }
}

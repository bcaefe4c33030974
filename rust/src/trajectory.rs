//! Step and episode counting from `step_type` arrays.
//!
//! A trajectory pairs a time step with the NEXT one: it is a *boundary* when
//! its own step type is LAST (the LAST -> FIRST transition that restarts an
//! episode) and it *ends an episode* when the next step type is LAST. The
//! driver counts, per transition and summed over the batch:
//! - steps: transitions that are not boundaries;
//! - episodes: boundaries (`end_episode_on_boundary`) or episode ends.

use std::fmt;

/// `StepType.FIRST`: the first time step of an episode.
pub const FIRST: i32 = 0;
/// `StepType.MID`: any time step between the first and the last.
pub const MID: i32 = 1;
/// `StepType.LAST`: the last time step of an episode.
pub const LAST: i32 = 2;

/// What transitions add to the driver's step and episode counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Transitions that are not boundaries.
    pub steps: u64,
    /// Boundaries, or episode ends when episodes end on LAST.
    pub episodes: u64,
}

impl std::ops::AddAssign for Progress {
    fn add_assign(&mut self, other: Progress) {
        self.steps += other.steps;
        self.episodes += other.episodes;
    }
}

/// The two step-type arrays of a transition have shapes that do not broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Number of elements in `time_step.step_type`.
    pub step_type: usize,
    /// Number of elements in `next_time_step.step_type`.
    pub next_step_type: usize,
}

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "time_step.step_type has {} elements but next_time_step.step_type has {}; \
             a transition needs both of the same batch size",
            self.step_type, self.next_step_type
        )
    }
}

impl std::error::Error for ShapeMismatch {}

/// Counts what one transition (or one batch of transitions) adds.
///
/// `step_type` and `next_step_type` are the flattened step types of the time
/// step and the next time step, each of length B (or 1, which broadcasts,
/// as numpy does for a 0-d step type).
pub fn progress(
    step_type: &[i32],
    next_step_type: &[i32],
    end_episode_on_boundary: bool,
) -> Result<Progress, ShapeMismatch> {
    let n = broadcast_len(step_type.len(), next_step_type.len()).ok_or(ShapeMismatch {
        step_type: step_type.len(),
        next_step_type: next_step_type.len(),
    })?;
    let at = |s: &[i32], i: usize| if s.len() == 1 { s[0] } else { s[i] };
    let mut p = Progress::default();
    for i in 0..n {
        let boundary = at(step_type, i) == LAST;
        let episode_end = if end_episode_on_boundary {
            boundary
        } else {
            at(next_step_type, i) == LAST
        };
        p.steps += u64::from(!boundary);
        p.episodes += u64::from(episode_end);
    }
    Ok(p)
}

fn broadcast_len(a: usize, b: usize) -> Option<usize> {
    match (a, b) {
        _ if a == b => Some(a),
        (1, n) | (n, 1) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_env_transitions() {
        // first, last, boundary of a two-step episode.
        let first = progress(&[FIRST], &[MID], true).unwrap();
        let last = progress(&[MID], &[LAST], true).unwrap();
        let boundary = progress(&[LAST], &[FIRST], true).unwrap();
        assert_eq!(
            first,
            Progress {
                steps: 1,
                episodes: 0
            }
        );
        assert_eq!(
            last,
            Progress {
                steps: 1,
                episodes: 0
            }
        );
        assert_eq!(
            boundary,
            Progress {
                steps: 0,
                episodes: 1
            }
        );
    }

    #[test]
    fn episodes_end_on_last_when_asked() {
        let last = progress(&[MID], &[LAST], false).unwrap();
        let boundary = progress(&[LAST], &[FIRST], false).unwrap();
        assert_eq!(
            last,
            Progress {
                steps: 1,
                episodes: 1
            }
        );
        assert_eq!(
            boundary,
            Progress {
                steps: 0,
                episodes: 0
            }
        );
    }

    #[test]
    fn batched_sums_over_envs() {
        let p = progress(&[FIRST, LAST, MID, LAST], &[MID, FIRST, LAST, FIRST], true).unwrap();
        assert_eq!(
            p,
            Progress {
                steps: 2,
                episodes: 2
            }
        );
        let p = progress(&[FIRST, LAST, MID, LAST], &[MID, FIRST, LAST, FIRST], false).unwrap();
        assert_eq!(
            p,
            Progress {
                steps: 2,
                episodes: 1
            }
        );
    }

    #[test]
    fn scalar_broadcasts_and_mismatch_is_reported() {
        let p = progress(&[LAST], &[FIRST, FIRST, FIRST], true).unwrap();
        assert_eq!(
            p,
            Progress {
                steps: 0,
                episodes: 3
            }
        );
        let err = progress(&[MID, MID], &[MID, MID, MID], true).unwrap_err();
        assert_eq!(
            err,
            ShapeMismatch {
                step_type: 2,
                next_step_type: 3
            }
        );
        assert!(err.to_string().contains("has 2 elements"));
    }

    #[test]
    fn progress_adds_up() {
        let mut total = Progress::default();
        total += Progress {
            steps: 3,
            episodes: 1,
        };
        total += Progress {
            steps: 2,
            episodes: 0,
        };
        assert_eq!(
            total,
            Progress {
                steps: 5,
                episodes: 1
            }
        );
    }
}

//! The driver's step loop, generic over where the environment, the policy
//! and the observers live (Python objects or native Rust ones).
//!
//! One iteration, exactly as TF-Agents' `PyDriver.run`:
//! 1. unbatched env, `time_step` is FIRST and an episode already ended in
//!    this run: `policy_state = policy.get_initial_state(...)`;
//! 2. `action_step = policy.action(time_step, policy_state)`;
//! 3. `next_time_step = env.step(action_step.action)`;
//! 4. the transition, carrying the INPUT `policy_state`, goes to the
//!    observers, and its step types advance the counters;
//! 5. `time_step = next_time_step`, `policy_state = action_step.state`.

use crate::trajectory::Progress;

/// When `run` stops. A limit of `f64::INFINITY` means unlimited; the loop
/// runs while `steps < max_steps && episodes < max_episodes`, so a batched
/// env can overshoot a limit by up to its batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_steps: f64,
    pub max_episodes: f64,
    /// Count episodes on boundaries (LAST -> FIRST) rather than on LAST.
    pub end_episode_on_boundary: bool,
}

impl Limits {
    fn allow(&self, done: Progress) -> bool {
        (done.steps as f64) < self.max_steps && (done.episodes as f64) < self.max_episodes
    }
}

/// What one iteration needs from the world outside the loop.
pub trait Collect {
    type TimeStep;
    type State;
    type ActionStep;
    type Error;

    /// Called first in every iteration, so that a Ctrl-C that arrives while
    /// native code runs stops a long run between two iterations. (Python
    /// callbacks may still raise `KeyboardInterrupt` mid-iteration: then the
    /// observers after the one that raised miss that transition; see
    /// `PyDriver`'s docs.)
    fn check_interrupt(&mut self) -> Result<(), Self::Error>;
    /// Whether `time_step` starts an episode.
    fn is_first(&mut self, time_step: &Self::TimeStep) -> Result<bool, Self::Error>;
    /// A fresh policy state for a new episode of an unbatched env.
    fn initial_state(&mut self) -> Result<Self::State, Self::Error>;
    /// `policy.action(time_step, state)`.
    fn action(
        &mut self,
        time_step: &Self::TimeStep,
        state: &Self::State,
    ) -> Result<Self::ActionStep, Self::Error>;
    /// `env.step(action_step.action)`.
    fn step(&mut self, action_step: &Self::ActionStep) -> Result<Self::TimeStep, Self::Error>;
    /// Assembles the transition, with `state` (the policy's INPUT state) in
    /// place of the action step's, hands it to the observers and returns
    /// what it adds to the counters.
    fn observe(
        &mut self,
        time_step: &Self::TimeStep,
        action_step: &Self::ActionStep,
        state: &Self::State,
        next_time_step: &Self::TimeStep,
    ) -> Result<Progress, Self::Error>;
    /// The state the policy returned, which the next iteration starts from.
    fn output_state(&mut self, action_step: Self::ActionStep) -> Result<Self::State, Self::Error>;
    /// Called after every iteration with the run's totals so far (e.g. to
    /// refresh a progress bar); does nothing by default.
    fn tick(&mut self, _done: Progress) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Where a run ended: the last time step and policy state, the steps and
/// episodes it collected and its number of iterations (policy calls).
#[derive(Debug)]
pub struct Outcome<T, S> {
    pub time_step: T,
    pub policy_state: S,
    pub progress: Progress,
    pub iterations: u64,
}

/// Runs the loop from `time_step` and `policy_state` until a limit is reached
/// or a callback fails; the error reaches the caller unchanged.
pub fn run<C: Collect>(
    collect: &mut C,
    limits: Limits,
    batched: bool,
    mut time_step: C::TimeStep,
    mut policy_state: C::State,
) -> Result<Outcome<C::TimeStep, C::State>, C::Error> {
    let mut done = Progress::default();
    let mut iterations = 0;
    while limits.allow(done) {
        collect.check_interrupt()?;
        // Only unbatched envs get a fresh state, and never before the first
        // episode of this run has ended (the caller's state is used as is).
        if !batched && done.episodes > 0 && collect.is_first(&time_step)? {
            policy_state = collect.initial_state()?;
        }
        let action_step = collect.action(&time_step, &policy_state)?;
        let next_time_step = collect.step(&action_step)?;
        done += collect.observe(&time_step, &action_step, &policy_state, &next_time_step)?;
        time_step = next_time_step;
        policy_state = collect.output_state(action_step)?;
        iterations += 1;
        collect.tick(done)?;
    }
    Ok(Outcome {
        time_step,
        policy_state,
        progress: done,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trajectory::{progress, FIRST, LAST, MID};

    /// TF-Agents' driver mocks in plain Rust: an env that adds the action
    /// to its state and ends at state >= 3, and a policy that emits
    /// `state % 2 + 1` and resets its state to 2 on FIRST.
    #[derive(Default)]
    struct Mock {
        env_state: i32,
        delivered: Vec<(i32, i32, i32, i32)>, // (step_type, obs, action, next_step_type)
        initial_state_calls: usize,
        fail_on_step: Option<usize>,
        steps: usize,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Ts {
        step_type: i32,
        obs: i32,
    }

    impl Collect for Mock {
        type TimeStep = Ts;
        type State = i32;
        type ActionStep = (i32, i32);
        type Error = String;

        fn check_interrupt(&mut self) -> Result<(), String> {
            Ok(())
        }
        fn is_first(&mut self, ts: &Ts) -> Result<bool, String> {
            Ok(ts.step_type == FIRST)
        }
        fn initial_state(&mut self) -> Result<i32, String> {
            self.initial_state_calls += 1;
            Ok(2)
        }
        fn action(&mut self, ts: &Ts, state: &i32) -> Result<(i32, i32), String> {
            let state = if ts.step_type == FIRST { 2 } else { *state };
            Ok((state % 2 + 1, state + 1))
        }
        fn step(&mut self, action: &(i32, i32)) -> Result<Ts, String> {
            self.steps += 1;
            if self.fail_on_step == Some(self.steps) {
                return Err("env failed".into());
            }
            if self.env_state >= 3 {
                self.env_state = 0;
                return Ok(Ts {
                    step_type: FIRST,
                    obs: 0,
                });
            }
            self.env_state += action.0;
            let step_type = if self.env_state >= 3 { LAST } else { MID };
            Ok(Ts {
                step_type,
                obs: self.env_state,
            })
        }
        fn observe(
            &mut self,
            ts: &Ts,
            action: &(i32, i32),
            _state: &i32,
            next: &Ts,
        ) -> Result<Progress, String> {
            self.delivered
                .push((ts.step_type, ts.obs, action.0, next.step_type));
            progress(&[ts.step_type], &[next.step_type], true).map_err(|e| e.to_string())
        }
        fn output_state(&mut self, action: (i32, i32)) -> Result<i32, String> {
            Ok(action.1)
        }
    }

    fn limits(max_steps: Option<u64>, max_episodes: Option<u64>) -> Limits {
        let lim = |v: Option<u64>| v.map_or(f64::INFINITY, |v| v as f64);
        Limits {
            max_steps: lim(max_steps),
            max_episodes: lim(max_episodes),
            end_episode_on_boundary: true,
        }
    }

    fn first() -> Ts {
        Ts {
            step_type: FIRST,
            obs: 0,
        }
    }

    #[test]
    fn reference_sequence_counts() {
        // docs/SEMANTICS.md: (max_steps, max_episodes) -> trajectories delivered.
        let cases = [
            ((None, Some(1)), 3),
            ((None, Some(2)), 6),
            ((Some(2), Some(2)), 2),
            ((Some(4), Some(2)), 5),
            ((Some(4), Some(1)), 3),
            ((Some(4), None), 5),
        ];
        for ((steps, episodes), expected) in cases {
            let mut mock = Mock::default();
            run(&mut mock, limits(steps, episodes), false, first(), 2).unwrap();
            assert_eq!(
                mock.delivered.len(),
                expected,
                "limits {steps:?} {episodes:?}"
            );
        }
    }

    #[test]
    fn trajectories_follow_the_reference_sequence() {
        let mut mock = Mock::default();
        let out = run(&mut mock, limits(None, Some(2)), false, first(), 2).unwrap();
        let first_ = (FIRST, 0, 1, MID);
        let last = (MID, 1, 2, LAST);
        let boundary = (LAST, 3, 1, FIRST);
        assert_eq!(
            mock.delivered,
            vec![first_, last, boundary, first_, last, boundary]
        );
        assert_eq!(
            out.progress,
            Progress {
                steps: 4,
                episodes: 2
            }
        );
        assert_eq!(out.iterations, 6);
        assert_eq!(out.time_step, first());
        // One fresh state per new episode after the first one of the run.
        assert_eq!(mock.initial_state_calls, 1);
    }

    #[test]
    fn batched_envs_never_reset_the_state() {
        let mut mock = Mock::default();
        run(&mut mock, limits(None, Some(3)), true, first(), 2).unwrap();
        assert_eq!(mock.initial_state_calls, 0);
    }

    #[test]
    fn an_error_stops_the_run_and_keeps_what_was_delivered() {
        let mut mock = Mock {
            fail_on_step: Some(3),
            ..Mock::default()
        };
        let err = run(&mut mock, limits(Some(10), None), false, first(), 2).unwrap_err();
        assert_eq!(err, "env failed");
        assert_eq!(mock.delivered.len(), 2);
    }

    #[test]
    fn a_limit_already_reached_runs_nothing() {
        let mut mock = Mock::default();
        let out = run(&mut mock, limits(Some(0), None), false, first(), 7).unwrap();
        assert!(mock.delivered.is_empty());
        assert_eq!(out.policy_state, 7);
    }
}

//! MountainCar-v0 and MountainCarContinuous-v0 (Gymnasium's `MountainCarEnv`
//! and `Continuous_MountainCarEnv`; 200- and 999-step limits).

use super::cartpole::discrete_spec;
use super::rng::EnvRng;
use super::{ActionSpec, Dtype, Dynamics, ObservationSpec};

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;

/// Gymnasium's shared tail of a step: clip velocity, move, clip position,
/// stop at the left wall.
#[inline]
fn advance(position: f64, velocity: f64) -> (f64, f64) {
    let velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
    let position = (position + velocity).clamp(MIN_POSITION, MAX_POSITION);
    let velocity = if position == MIN_POSITION && velocity < 0.0 {
        0.0
    } else {
        velocity
    };
    (position, velocity)
}

/// The [`Dynamics`] items both cars share: the observation spec, a reset at
/// rest with the position drawn from `uniform(-0.6, -0.4)`, observation and
/// state `(position, velocity)`.
macro_rules! car_state_items {
    () => {
        fn observation_spec() -> ObservationSpec {
            ObservationSpec {
                shape: vec![2],
                minimum: vec![MIN_POSITION as f32, -MAX_SPEED as f32],
                maximum: vec![MAX_POSITION as f32, MAX_SPEED as f32],
            }
        }

        #[inline]
        fn reset(rng: &mut EnvRng) -> Self {
            Self {
                position: rng.uniform(-0.6, -0.4),
                velocity: 0.0,
            }
        }

        #[inline]
        fn observe(&self, obs: &mut [f32]) {
            obs[0] = self.position as f32;
            obs[1] = self.velocity as f32;
        }

        fn state(&self) -> Vec<f64> {
            vec![self.position, self.velocity]
        }

        fn from_state(s: &[f64]) -> Self {
            Self {
                position: s[0],
                velocity: s[1],
            }
        }
    };
}

/// The mountain-car state `(position, velocity)` in float64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MountainCar {
    pub position: f64,
    pub velocity: f64,
}

impl Dynamics for MountainCar {
    const NAME: &'static str = "MountainCar-v0";
    const OBS_DIM: usize = 2;
    const ACTION_DIM: usize = 1;
    const MAX_EPISODE_STEPS: u32 = 200;
    type Action = i64;

    fn action_spec() -> ActionSpec {
        discrete_spec(3)
    }

    #[inline]
    fn out_of_bounds(a: i64) -> Option<f64> {
        (!(0..=2).contains(&a)).then_some(a as f64)
    }

    #[inline]
    fn step(&mut self, action: &[i64]) -> (f32, bool) {
        let velocity = self.velocity
            + (action[0] - 1) as f64 * 0.001
            + (3.0 * self.position).cos() * (-0.0025);
        let (position, velocity) = advance(self.position, velocity);
        self.position = position;
        self.velocity = velocity;
        (-1.0, position >= 0.5 && velocity >= 0.0)
    }

    car_state_items!();
}

/// The continuous mountain-car state `(position, velocity)`; Gymnasium stores
/// it as float32 after every step, and so does this.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MountainCarContinuous {
    pub position: f64,
    pub velocity: f64,
}

impl Dynamics for MountainCarContinuous {
    const NAME: &'static str = "MountainCarContinuous-v0";
    const OBS_DIM: usize = 2;
    const ACTION_DIM: usize = 1;
    const MAX_EPISODE_STEPS: u32 = 999;
    type Action = f32;

    fn action_spec() -> ActionSpec {
        ActionSpec {
            shape: vec![1],
            dtype: Dtype::Float32,
            minimum: -1.0,
            maximum: 1.0,
        }
    }

    #[inline]
    fn out_of_bounds(a: f32) -> Option<f64> {
        (!(-1.0..=1.0).contains(&a)).then_some(a as f64)
    }

    #[inline]
    fn step(&mut self, action: &[f32]) -> (f32, bool) {
        let a = action[0] as f64;
        let force = a.clamp(-1.0, 1.0);
        let velocity = self.velocity + force * 0.0015 - 0.0025 * (3.0 * self.position).cos();
        let (position, velocity) = advance(self.position, velocity);
        // Gymnasium keeps `np.array([position, velocity], dtype=np.float32)`.
        self.position = position as f32 as f64;
        self.velocity = velocity as f32 as f64;
        let terminated = position >= 0.45 && velocity >= 0.0;
        let reward = if terminated { 100.0 } else { 0.0 } - a * a * 0.1;
        (reward as f32, terminated)
    }

    car_state_items!();
}

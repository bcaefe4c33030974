//! Pendulum-v1 (Gymnasium's `PendulumEnv`, g = 10, 200-step limit).

use super::rng::EnvRng;
use super::{ActionSpec, Dtype, Dynamics, ObservationSpec};
use std::f64::consts::PI;

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f32 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// The pendulum state `(theta, theta_dot)` in float64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pendulum {
    pub theta: f64,
    pub theta_dot: f64,
}

/// `((x + pi) mod 2 pi) - pi` with Python's floor modulo.
#[inline]
fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Dynamics for Pendulum {
    const NAME: &'static str = "Pendulum-v1";
    const OBS_DIM: usize = 3;
    const ACTION_DIM: usize = 1;
    const MAX_EPISODE_STEPS: u32 = 200;
    type Action = f32;

    fn action_spec() -> ActionSpec {
        ActionSpec {
            shape: vec![1],
            dtype: Dtype::Float32,
            minimum: -MAX_TORQUE as f64,
            maximum: MAX_TORQUE as f64,
        }
    }

    fn observation_spec() -> ObservationSpec {
        ObservationSpec::symmetric(&[1.0, 1.0, MAX_SPEED as f32])
    }

    #[inline]
    fn out_of_bounds(a: f32) -> Option<f64> {
        (!(-MAX_TORQUE..=MAX_TORQUE).contains(&a)).then_some(a as f64)
    }

    #[inline]
    fn reset(rng: &mut EnvRng) -> Self {
        Pendulum {
            theta: rng.uniform(-PI, PI),
            theta_dot: rng.uniform(-1.0, 1.0),
        }
    }

    #[inline]
    fn step(&mut self, action: &[f32]) -> (f32, bool) {
        let u = action[0].clamp(-MAX_TORQUE, MAX_TORQUE) as f64;
        let (th, thdot) = (self.theta, self.theta_dot);
        let costs = angle_normalize(th).powi(2) + 0.1 * thdot * thdot + 0.001 * (u * u);
        let newthdot = (thdot + (3.0 * G / (2.0 * L) * th.sin() + 3.0 / (M * L * L) * u) * DT)
            .clamp(-MAX_SPEED, MAX_SPEED);
        self.theta = th + newthdot * DT;
        self.theta_dot = newthdot;
        (-costs as f32, false)
    }

    #[inline]
    fn observe(&self, obs: &mut [f32]) {
        let (s, c) = self.theta.sin_cos();
        obs[0] = c as f32;
        obs[1] = s as f32;
        obs[2] = self.theta_dot as f32;
    }

    fn state(&self) -> Vec<f64> {
        vec![self.theta, self.theta_dot]
    }

    fn from_state(s: &[f64]) -> Self {
        Pendulum {
            theta: s[0],
            theta_dot: s[1],
        }
    }
}

//! Acrobot-v1 (Gymnasium's `AcrobotEnv`, "book" dynamics, RK4 over one
//! 0.2 s step, 500-step limit).

use super::cartpole::discrete_spec;
use super::rng::EnvRng;
use super::{ActionSpec, Dynamics, ObservationSpec};
use std::f64::consts::PI;

const DT: f64 = 0.2;
const L1: f64 = 1.0;
const M1: f64 = 1.0;
const M2: f64 = 1.0;
const LC1: f64 = 0.5;
const LC2: f64 = 0.5;
const I1: f64 = 1.0;
const I2: f64 = 1.0;
const G: f64 = 9.8;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;

/// The acrobot state `(theta1, theta2, dtheta1, dtheta2)` in float64.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Acrobot {
    pub s: [f64; 4],
}

/// The time derivative of `s` under torque `a` (Gymnasium's `_dsdt`, "book").
#[inline]
fn dsdt(s: [f64; 4], a: f64) -> [f64; 4] {
    let [theta1, theta2, dtheta1, dtheta2] = s;
    let (sin2, cos2) = theta2.sin_cos();
    let d1 = M1 * LC1 * LC1 + M2 * (L1 * L1 + LC2 * LC2 + 2.0 * L1 * LC2 * cos2) + I1 + I2;
    let d2 = M2 * (LC2 * LC2 + L1 * LC2 * cos2) + I2;
    let phi2 = M2 * LC2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -M2 * L1 * LC2 * dtheta2 * dtheta2 * sin2
        - 2.0 * M2 * L1 * LC2 * dtheta2 * dtheta1 * sin2
        + (M1 * LC1 + M2 * L1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - M2 * L1 * LC2 * dtheta1 * dtheta1 * sin2 - phi2)
        / (M2 * LC2 * LC2 + I2 - d2 * d2 / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2]
}

#[inline]
fn axpy(y: [f64; 4], h: f64, k: [f64; 4]) -> [f64; 4] {
    [
        y[0] + h * k[0],
        y[1] + h * k[1],
        y[2] + h * k[2],
        y[3] + h * k[3],
    ]
}

/// Wraps `x` into `[m, M]` by whole periods (Gymnasium's `wrap`).
#[inline]
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

impl Dynamics for Acrobot {
    const NAME: &'static str = "Acrobot-v1";
    const OBS_DIM: usize = 6;
    const ACTION_DIM: usize = 1;
    const MAX_EPISODE_STEPS: u32 = 500;
    type Action = i64;

    fn action_spec() -> ActionSpec {
        discrete_spec(3)
    }

    fn observation_spec() -> ObservationSpec {
        ObservationSpec::symmetric(&[1.0, 1.0, 1.0, 1.0, MAX_VEL_1 as f32, MAX_VEL_2 as f32])
    }

    #[inline]
    fn out_of_bounds(a: i64) -> Option<f64> {
        (!(0..=2).contains(&a)).then_some(a as f64)
    }

    #[inline]
    fn reset(rng: &mut EnvRng) -> Self {
        // Gymnasium draws float64 and keeps float32.
        let mut s = [0.0; 4];
        for v in &mut s {
            *v = rng.uniform(-0.1, 0.1) as f32 as f64;
        }
        Acrobot { s }
    }

    #[inline]
    fn step(&mut self, action: &[i64]) -> (f32, bool) {
        let torque = (action[0] - 1) as f64;
        let y0 = self.s;
        let dt2 = DT / 2.0;
        let k1 = dsdt(y0, torque);
        let k2 = dsdt(axpy(y0, dt2, k1), torque);
        let k3 = dsdt(axpy(y0, dt2, k2), torque);
        let k4 = dsdt(axpy(y0, DT, k3), torque);
        let mut ns = [0.0; 4];
        for i in 0..4 {
            ns[i] = y0[i] + DT / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        ns[0] = wrap(ns[0], -PI, PI);
        ns[1] = wrap(ns[1], -PI, PI);
        ns[2] = ns[2].clamp(-MAX_VEL_1, MAX_VEL_1);
        ns[3] = ns[3].clamp(-MAX_VEL_2, MAX_VEL_2);
        self.s = ns;
        let terminated = -ns[0].cos() - (ns[1] + ns[0]).cos() > 1.0;
        (if terminated { 0.0 } else { -1.0 }, terminated)
    }

    #[inline]
    fn observe(&self, obs: &mut [f32]) {
        let (s0, c0) = self.s[0].sin_cos();
        let (s1, c1) = self.s[1].sin_cos();
        obs[0] = c0 as f32;
        obs[1] = s0 as f32;
        obs[2] = c1 as f32;
        obs[3] = s1 as f32;
        obs[4] = self.s[2] as f32;
        obs[5] = self.s[3] as f32;
    }

    fn state(&self) -> Vec<f64> {
        self.s.to_vec()
    }

    fn from_state(s: &[f64]) -> Self {
        Acrobot {
            s: [s[0], s[1], s[2], s[3]],
        }
    }
}

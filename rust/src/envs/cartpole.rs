//! CartPole-v1 (Gymnasium's `CartPoleEnv`, Euler integrator, 500-step limit).

use super::rng::EnvRng;
use super::{ActionSpec, Dtype, Dynamics, ObservationSpec};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Multiplying by this instead of dividing by `TOTAL_MASS` differs by at most an ulp.
const INV_TOTAL_MASS: f64 = 1.0 / TOTAL_MASS;
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// The cart-pole state `(x, x_dot, theta, theta_dot)` in float64, as Gymnasium keeps it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CartPole {
    pub x: f64,
    pub x_dot: f64,
    pub theta: f64,
    pub theta_dot: f64,
}

/// `(sin x, cos x)`: Taylor polynomials (relative error below 1e-11) for
/// `|x| <= pi/4`, where a CartPole angle always is before termination; libm
/// beyond.
#[inline]
pub(super) fn sin_cos(x: f64) -> (f64, f64) {
    if x.abs() > std::f64::consts::FRAC_PI_4 {
        return x.sin_cos();
    }
    sin_cos_poly(x)
}

/// The polynomials of [`sin_cos`], branch-free (accurate for `|x| <= pi/4`).
#[inline(always)]
fn sin_cos_poly(x: f64) -> (f64, f64) {
    let x2 = x * x;
    let s = x
        * (1.0
            + x2 * (-1.0 / 6.0
                + x2 * (1.0 / 120.0
                    + x2 * (-1.0 / 5040.0
                        + x2 * (1.0 / 362_880.0
                            + x2 * (-1.0 / 39_916_800.0 + x2 * (1.0 / 6_227_020_800.0)))))));
    let c = 1.0
        + x2 * (-0.5
            + x2 * (1.0 / 24.0
                + x2 * (-1.0 / 720.0
                    + x2 * (1.0 / 40_320.0
                        + x2 * (-1.0 / 3_628_800.0 + x2 * (1.0 / 479_001_600.0))))));
    (s, c)
}

/// The `Discrete(n)` action helpers shared by the discrete envs.
pub(super) fn discrete_spec(n: i64) -> ActionSpec {
    ActionSpec {
        shape: vec![],
        dtype: Dtype::Int64,
        minimum: 0.0,
        maximum: (n - 1) as f64,
    }
}

impl Dynamics for CartPole {
    const NAME: &'static str = "CartPole-v1";
    const OBS_DIM: usize = 4;
    const ACTION_DIM: usize = 1;
    const MAX_EPISODE_STEPS: u32 = 500;
    type Action = i64;

    fn action_spec() -> ActionSpec {
        discrete_spec(2)
    }

    fn observation_spec() -> ObservationSpec {
        ObservationSpec::symmetric(&[
            (X_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
            (THETA_THRESHOLD * 2.0) as f32,
            f32::INFINITY,
        ])
    }

    #[inline]
    fn out_of_bounds(a: i64) -> Option<f64> {
        (!(0..=1).contains(&a)).then_some(a as f64)
    }

    #[inline]
    fn reset(rng: &mut EnvRng) -> Self {
        CartPole {
            x: rng.uniform(-0.05, 0.05),
            x_dot: rng.uniform(-0.05, 0.05),
            theta: rng.uniform(-0.05, 0.05),
            theta_dot: rng.uniform(-0.05, 0.05),
        }
    }

    #[inline]
    fn step(&mut self, action: &[i64]) -> (f32, bool) {
        let force = if action[0] == 1 {
            FORCE_MAG
        } else {
            -FORCE_MAG
        };
        let (sintheta, costheta) = sin_cos(self.theta);
        let temp =
            (force + POLEMASS_LENGTH * self.theta_dot * self.theta_dot * sintheta) * INV_TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASS_POLE * costheta * costheta * INV_TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta * INV_TOTAL_MASS;
        self.x += TAU * self.x_dot;
        self.x_dot += TAU * xacc;
        self.theta += TAU * self.theta_dot;
        self.theta_dot += TAU * thetaacc;
        let terminated = self.x < -X_THRESHOLD
            || self.x > X_THRESHOLD
            || self.theta < -THETA_THRESHOLD
            || self.theta > THETA_THRESHOLD;
        (1.0, terminated)
    }

    /// Lane-parallel CartPole: the same arithmetic as `step`, written over
    /// arrays so the compiler vectorizes it across envs; lanes whose angle
    /// is beyond the polynomial's range are redone with `step`.
    #[inline(always)]
    fn step_block(
        states: &mut [Self],
        actions: &[i64],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        const B: usize = super::classic::BLOCK;
        if states.len() != B {
            for (k, state) in states.iter_mut().enumerate() {
                let (r, t) = state.step(&actions[k..k + 1]);
                rewards[k] = r;
                terminated[k] = t;
            }
            return;
        }
        let (mut x, mut x_dot, mut theta, mut theta_dot, mut force) =
            ([0.0; B], [0.0; B], [0.0; B], [0.0; B], [0.0; B]);
        for k in 0..B {
            x[k] = states[k].x;
            x_dot[k] = states[k].x_dot;
            theta[k] = states[k].theta;
            theta_dot[k] = states[k].theta_dot;
            force[k] = if actions[k] == 1 {
                FORCE_MAG
            } else {
                -FORCE_MAG
            };
        }
        let mut out_of_range = false;
        for k in 0..B {
            let (sintheta, costheta) = sin_cos_poly(theta[k]);
            out_of_range |= theta[k].abs() > std::f64::consts::FRAC_PI_4;
            let temp = (force[k] + POLEMASS_LENGTH * theta_dot[k] * theta_dot[k] * sintheta)
                * INV_TOTAL_MASS;
            let thetaacc = (GRAVITY * sintheta - costheta * temp)
                / (LENGTH * (4.0 / 3.0 - MASS_POLE * costheta * costheta * INV_TOTAL_MASS));
            let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta * INV_TOTAL_MASS;
            let nx = x[k] + TAU * x_dot[k];
            let ntheta = theta[k] + TAU * theta_dot[k];
            x_dot[k] += TAU * xacc;
            theta_dot[k] += TAU * thetaacc;
            x[k] = nx;
            theta[k] = ntheta;
        }
        for k in 0..B {
            terminated[k] = x[k] < -X_THRESHOLD
                || x[k] > X_THRESHOLD
                || theta[k] < -THETA_THRESHOLD
                || theta[k] > THETA_THRESHOLD;
            rewards[k] = 1.0;
        }
        if out_of_range {
            for k in 0..B {
                if states[k].theta.abs() > std::f64::consts::FRAC_PI_4 {
                    let (r, t) = states[k].step(&actions[k..k + 1]);
                    rewards[k] = r;
                    terminated[k] = t;
                    x[k] = states[k].x;
                    x_dot[k] = states[k].x_dot;
                    theta[k] = states[k].theta;
                    theta_dot[k] = states[k].theta_dot;
                }
            }
        }
        for k in 0..B {
            states[k] = CartPole {
                x: x[k],
                x_dot: x_dot[k],
                theta: theta[k],
                theta_dot: theta_dot[k],
            };
        }
    }

    #[inline]
    fn observe(&self, obs: &mut [f32]) {
        obs[0] = self.x as f32;
        obs[1] = self.x_dot as f32;
        obs[2] = self.theta as f32;
        obs[3] = self.theta_dot as f32;
    }

    fn state(&self) -> Vec<f64> {
        vec![self.x, self.x_dot, self.theta, self.theta_dot]
    }

    fn from_state(s: &[f64]) -> Self {
        CartPole {
            x: s[0],
            x_dot: s[1],
            theta: s[2],
            theta_dot: s[3],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_sin_cos_matches_libm() {
        let mut x = -1.0;
        while x <= 1.0 {
            let (s, c) = sin_cos(x);
            assert!(
                (s - x.sin()).abs() <= 1e-11 * x.sin().abs().max(1e-300),
                "sin {x}"
            );
            assert!((c - x.cos()).abs() <= 1e-12, "cos {x}");
            x += 1e-4;
        }
    }
}

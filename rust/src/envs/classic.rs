//! The generic batch of classic-control sub-environments: per-env state,
//! RNG, time limit and auto-reset, stepped in place over a thread pool.

use super::pool::{ThreadPool, MAX_THREADS};
use super::rng::EnvRng;
use super::{
    ActionSpec, Actions, CreateError, EnvError, ObservationSpec, Snapshot, StepOutput, VecEnv,
    FIRST, LAST, MID,
};

/// One classic-control environment's dynamics (Gymnasium's, unwrapped),
/// without time limit or auto-reset.
pub trait Dynamics: Copy + Send + Sync + 'static {
    /// The Gymnasium id.
    const NAME: &'static str;
    /// Elements of one observation (`observation_spec().shape == [OBS_DIM]`).
    const OBS_DIM: usize;
    /// Elements of one action (1 for all classic-control envs).
    const ACTION_DIM: usize;
    /// Gymnasium's `max_episode_steps`.
    const MAX_EPISODE_STEPS: u32;
    /// `i64` for `Discrete` action spaces, `f32` for `Box`.
    type Action: ActionElement;

    /// One env's action spec.
    fn action_spec() -> ActionSpec;
    /// One env's observation spec (Gymnasium's `observation_space`).
    fn observation_spec() -> ObservationSpec;
    /// The action elements if `actions` has this env's dtype.
    #[inline]
    fn typed(actions: Actions<'_>) -> Option<&[Self::Action]> {
        Self::Action::typed(actions)
    }
    /// The action element as f64 when it is outside the spec's bounds (or NaN).
    fn out_of_bounds(a: Self::Action) -> Option<f64>;
    /// A fresh initial state drawn from `rng` (Gymnasium's `reset`).
    fn reset(rng: &mut EnvRng) -> Self;
    /// Advances by one step; returns `(reward, terminated)` (Gymnasium's `step`).
    fn step(&mut self, action: &[Self::Action]) -> (f32, bool);
    /// Advances every state of a block (at most [`BLOCK`] states, actions
    /// `ACTION_DIM` apart), writing each reward and termination flag. The
    /// default calls `step` per state; an env overrides it with
    /// lane-parallel code the compiler vectorizes across envs.
    #[inline]
    fn step_block(
        states: &mut [Self],
        actions: &[Self::Action],
        rewards: &mut [f32],
        terminated: &mut [bool],
    ) {
        for (k, state) in states.iter_mut().enumerate() {
            let (r, t) = state.step(&actions[k * Self::ACTION_DIM..(k + 1) * Self::ACTION_DIM]);
            rewards[k] = r;
            terminated[k] = t;
        }
    }
    /// Writes the observation (`OBS_DIM` float32 values).
    fn observe(&self, obs: &mut [f32]);
    /// Gymnasium's `env.unwrapped.state`, as float64.
    fn state(&self) -> Vec<f64>;
    /// The dynamics in a given Gymnasium state.
    fn from_state(state: &[f64]) -> Self;
}

/// An action element type (`i64` or `f32`), picked out of [`Actions`] by dtype.
pub trait ActionElement: Copy + Send + Sync + 'static {
    /// The elements if `actions` has this dtype.
    fn typed(actions: Actions<'_>) -> Option<&[Self]>;
}

impl ActionElement for i64 {
    #[inline]
    fn typed(actions: Actions<'_>) -> Option<&[i64]> {
        match actions {
            Actions::Int64(a) => Some(a),
            Actions::Float32(_) => None,
        }
    }
}

impl ActionElement for f32 {
    #[inline]
    fn typed(actions: Actions<'_>) -> Option<&[f32]> {
        match actions {
            Actions::Float32(a) => Some(a),
            Actions::Int64(_) => None,
        }
    }
}

/// Envs advanced together by [`Dynamics::step_block`].
pub const BLOCK: usize = 8;

#[derive(Clone, Copy)]
struct Slot<D> {
    dynamics: D,
    rng: EnvRng,
    elapsed: u32,
    needs_reset: bool,
}

/// `B` sub-environments with dynamics `D`: Gymnasium's env wrapped in its
/// `TimeLimit`, with TF-Agents' per-env auto-reset.
pub struct ClassicVecEnv<D: Dynamics> {
    slots: Vec<Slot<D>>,
    pool: ThreadPool,
    action_spec: ActionSpec,
    observation_spec: ObservationSpec,
}

/// Envs per piece of work that threads claim (a batch of at most this many
/// runs on the calling thread alone).
const PIECE: usize = 256;
/// At most this many pieces per step.
const MAX_PIECES: usize = 64;

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: chunks write disjoint index ranges of the pointed-to buffers.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    // A method (not field access) so that closures capture the whole wrapper.
    #[inline]
    fn get(&self) -> *mut T {
        self.0
    }
}

struct Buffers {
    step_type: SendPtr<i32>,
    reward: SendPtr<f32>,
    discount: SendPtr<f32>,
    observation: SendPtr<f32>,
}

impl<D: Dynamics> ClassicVecEnv<D> {
    /// `num_envs` sub-environments seeded from `(seed, index)`, stepped on
    /// `num_threads` threads. They need a `reset()` (or a first `step()`).
    ///
    /// # Errors
    /// `OutOfMemory` when the slots (and one step's output) cannot be
    /// allocated, `TooManyThreads` above `MAX_THREADS`, `Spawn` when the OS
    /// refuses a thread.
    pub fn new(num_envs: usize, seed: u64, num_threads: usize) -> Result<Self, CreateError> {
        if num_threads > MAX_THREADS {
            return Err(CreateError::TooManyThreads {
                requested: num_threads,
            });
        }
        // Reserve one step's output too, so that a batch that fits here does
        // not abort on its first step.
        let per_env = std::mem::size_of::<Slot<D>>() + 12 + 4 * D::OBS_DIM;
        let fits = num_envs
            .checked_mul(per_env)
            .is_some_and(|bytes| bytes <= isize::MAX as usize);
        let mut slots = Vec::new();
        let mut probe: Vec<u8> = Vec::new();
        if !fits
            || slots.try_reserve_exact(num_envs).is_err()
            || probe
                .try_reserve_exact(num_envs * (12 + 4 * D::OBS_DIM))
                .is_err()
        {
            return Err(CreateError::OutOfMemory { num_envs });
        }
        drop(probe);
        slots.extend((0..num_envs).map(|i| {
            let rng = EnvRng::for_env(seed, i as u64);
            // A placeholder state; the first reset draws from `rng` itself.
            Slot {
                dynamics: D::reset(&mut rng.clone()),
                rng,
                elapsed: 0,
                needs_reset: true,
            }
        }));
        Ok(ClassicVecEnv {
            slots,
            pool: ThreadPool::new(num_threads).map_err(CreateError::Spawn)?,
            action_spec: D::action_spec(),
            observation_spec: D::observation_spec(),
        })
    }

    fn validate<'a>(&self, actions: Actions<'a>) -> Result<&'a [D::Action], EnvError> {
        let spec = &self.action_spec;
        let typed = D::typed(actions).ok_or_else(|| EnvError::ActionDtype {
            spec: spec.clone(),
            got: actions.dtype().name().to_string(),
        })?;
        let n = self.slots.len();
        if typed.len() != n * D::ACTION_DIM {
            let mut expected = vec![n];
            expected.extend(&spec.shape);
            let got = if D::ACTION_DIM == 1 || typed.len() % D::ACTION_DIM != 0 {
                vec![typed.len()]
            } else {
                vec![typed.len() / D::ACTION_DIM, D::ACTION_DIM]
            };
            return Err(EnvError::ActionShape {
                spec: spec.clone(),
                expected,
                got,
            });
        }
        if let Some((i, v)) = typed
            .iter()
            .enumerate()
            .find_map(|(i, &a)| D::out_of_bounds(a).map(|v| (i, v)))
        {
            return Err(EnvError::ActionOutOfBounds {
                spec: spec.clone(),
                env_index: i / D::ACTION_DIM,
                value: v,
            });
        }
        Ok(typed)
    }

    /// Runs `kernel(env_index, slot, out...)` over all envs, split over threads.
    fn run(&mut self, actions: Option<&[D::Action]>, reset_all: bool) -> StepOutput {
        let n = self.slots.len();
        let obs_dim = D::OBS_DIM;
        let mut out = StepOutput {
            step_type: vec![0i32; n],
            reward: vec![0f32; n],
            discount: vec![0f32; n],
            observation: vec![0f32; n * obs_dim],
        };
        let bufs = Buffers {
            step_type: SendPtr(out.step_type.as_mut_ptr()),
            reward: SendPtr(out.reward.as_mut_ptr()),
            discount: SendPtr(out.discount.as_mut_ptr()),
            observation: SendPtr(out.observation.as_mut_ptr()),
        };
        let slots_ptr = SendPtr(self.slots.as_mut_ptr());
        let pieces = if self.pool.num_threads() == 1 {
            1
        } else {
            n.div_ceil(PIECE).clamp(1, MAX_PIECES)
        };
        let piece = |p: usize| {
            let start = n * p / pieces;
            let end = n * (p + 1) / pieces;
            // SAFETY: [start, end) ranges are disjoint across pieces and in
            // bounds of every buffer (obs scaled by obs_dim); the buffers
            // outlive the pool run.
            unsafe {
                let slots = std::slice::from_raw_parts_mut(slots_ptr.get().add(start), end - start);
                let st =
                    std::slice::from_raw_parts_mut(bufs.step_type.get().add(start), end - start);
                let rw = std::slice::from_raw_parts_mut(bufs.reward.get().add(start), end - start);
                let dc =
                    std::slice::from_raw_parts_mut(bufs.discount.get().add(start), end - start);
                let ob = std::slice::from_raw_parts_mut(
                    bufs.observation.get().add(start * obs_dim),
                    (end - start) * obs_dim,
                );
                let acts = actions.map(|a| &a[start * D::ACTION_DIM..end * D::ACTION_DIM]);
                step_chunk_dispatch::<D>(slots, acts, reset_all, st, rw, dc, ob);
            }
        };
        self.pool.run(pieces, &piece);
        out
    }
}

/// [`step_chunk`], compiled for AVX2 when the CPU has it (wider vectors for
/// `step_block`; IEEE arithmetic without FMA contraction gives the same bits
/// either way).
#[inline]
fn step_chunk_dispatch<D: Dynamics>(
    slots: &mut [Slot<D>],
    actions: Option<&[D::Action]>,
    reset_all: bool,
    step_type: &mut [i32],
    reward: &mut [f32],
    discount: &mut [f32],
    observation: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe {
                step_chunk_avx2::<D>(
                    slots,
                    actions,
                    reset_all,
                    step_type,
                    reward,
                    discount,
                    observation,
                )
            };
            return;
        }
    }
    step_chunk::<D>(
        slots,
        actions,
        reset_all,
        step_type,
        reward,
        discount,
        observation,
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn step_chunk_avx2<D: Dynamics>(
    slots: &mut [Slot<D>],
    actions: Option<&[D::Action]>,
    reset_all: bool,
    step_type: &mut [i32],
    reward: &mut [f32],
    discount: &mut [f32],
    observation: &mut [f32],
) {
    step_chunk::<D>(
        slots,
        actions,
        reset_all,
        step_type,
        reward,
        discount,
        observation,
    )
}

#[inline(always)]
fn step_chunk<D: Dynamics>(
    slots: &mut [Slot<D>],
    actions: Option<&[D::Action]>,
    reset_all: bool,
    step_type: &mut [i32],
    reward: &mut [f32],
    discount: &mut [f32],
    observation: &mut [f32],
) {
    let n = slots.len();
    let stepping = actions.filter(|_| !reset_all);
    let mut start = 0;
    while start < n {
        let m = BLOCK.min(n - start);
        let mut next = [slots[start].dynamics; BLOCK];
        let mut rewards = [0f32; BLOCK];
        let mut terminated = [false; BLOCK];
        if let Some(acts) = stepping {
            for k in 0..m {
                next[k] = slots[start + k].dynamics;
            }
            D::step_block(
                &mut next[..m],
                &acts[start * D::ACTION_DIM..(start + m) * D::ACTION_DIM],
                &mut rewards[..m],
                &mut terminated[..m],
            );
        }
        for k in 0..m {
            let i = start + k;
            let slot = &mut slots[i];
            if stepping.is_none() || slot.needs_reset {
                slot.dynamics = D::reset(&mut slot.rng);
                slot.elapsed = 0;
                slot.needs_reset = false;
                step_type[i] = FIRST;
                reward[i] = 0.0;
                discount[i] = 1.0;
            } else {
                slot.dynamics = next[k];
                slot.elapsed += 1;
                let truncated = slot.elapsed >= D::MAX_EPISODE_STEPS;
                reward[i] = rewards[k];
                if terminated[k] || truncated {
                    step_type[i] = LAST;
                    discount[i] = if terminated[k] { 0.0 } else { 1.0 };
                    slot.needs_reset = true;
                } else {
                    step_type[i] = MID;
                    discount[i] = 1.0;
                }
            }
            slot.dynamics
                .observe(&mut observation[i * D::OBS_DIM..(i + 1) * D::OBS_DIM]);
        }
        start += m;
    }
}

impl<D: Dynamics> VecEnv for ClassicVecEnv<D> {
    fn name(&self) -> &'static str {
        D::NAME
    }

    fn num_envs(&self) -> usize {
        self.slots.len()
    }

    fn num_threads(&self) -> usize {
        self.pool.num_threads()
    }

    fn max_episode_steps(&self) -> u32 {
        D::MAX_EPISODE_STEPS
    }

    fn action_spec(&self) -> &ActionSpec {
        &self.action_spec
    }

    fn observation_spec(&self) -> &ObservationSpec {
        &self.observation_spec
    }

    fn reset(&mut self) -> StepOutput {
        self.run(None, true)
    }

    fn step(&mut self, actions: Actions<'_>) -> Result<StepOutput, EnvError> {
        let typed = self.validate(actions)?;
        Ok(self.run(Some(typed), false))
    }

    fn seed(&mut self, seed: u64) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            slot.rng = EnvRng::for_env(seed, i as u64);
            slot.needs_reset = true;
        }
    }

    fn get_state(&self, index: usize) -> (Vec<f64>, u32) {
        let slot = &self.slots[index];
        (slot.dynamics.state(), slot.elapsed)
    }

    fn set_state(&mut self, index: usize, state: &[f64], elapsed: u32) {
        let slot = &mut self.slots[index];
        slot.dynamics = D::from_state(state);
        slot.elapsed = elapsed;
        slot.needs_reset = false;
    }

    fn snapshot(&self) -> Snapshot {
        let state_size = self.slots.first().map_or(0, |s| s.dynamics.state().len());
        Snapshot {
            states: self.slots.iter().flat_map(|s| s.dynamics.state()).collect(),
            state_size,
            elapsed: self.slots.iter().map(|s| s.elapsed).collect(),
            needs_reset: self.slots.iter().map(|s| s.needs_reset).collect(),
            rng: self.slots.iter().map(|s| s.rng.state()).collect(),
        }
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        let n = self.slots.len();
        let own = self.snapshot();
        for (field, len) in [
            ("elapsed", snapshot.elapsed.len()),
            ("needs_reset", snapshot.needs_reset.len()),
            ("rng", snapshot.rng.len()),
        ] {
            if len != n {
                return Err(format!("snapshot {field} has {len} entries, expected {n}"));
            }
        }
        if snapshot.state_size != own.state_size || snapshot.states.len() != own.states.len() {
            return Err(format!(
                "snapshot states are {} values of size {}, expected {} of size {}",
                snapshot.states.len(),
                snapshot.state_size,
                own.states.len(),
                own.state_size
            ));
        }
        if let Some(bad) = snapshot.states.iter().find(|v| !v.is_finite()) {
            return Err(format!("snapshot states must be finite, got {bad}"));
        }
        // An env truncated by the time limit waits for its reset at the limit.
        let past_limit = |(&e, &reset): (&u32, &bool)| {
            e > D::MAX_EPISODE_STEPS || (e == D::MAX_EPISODE_STEPS && !reset)
        };
        if let Some((bad, _)) = snapshot
            .elapsed
            .iter()
            .zip(&snapshot.needs_reset)
            .find(|pair| past_limit(*pair))
        {
            return Err(format!(
                "snapshot elapsed {bad} is past max_episode_steps={}",
                D::MAX_EPISODE_STEPS
            ));
        }
        let chunks = snapshot.states.chunks(snapshot.state_size.max(1));
        for (i, (slot, state)) in self.slots.iter_mut().zip(chunks).enumerate() {
            slot.dynamics = D::from_state(state);
            slot.elapsed = snapshot.elapsed[i];
            slot.needs_reset = snapshot.needs_reset[i];
            slot.rng = EnvRng::from_state(snapshot.rng[i]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{make, CartPole, Dtype, MountainCar, Pendulum, NAMES};
    use super::*;

    fn random_discrete(rng: &mut EnvRng, n: usize, k: i64) -> Vec<i64> {
        (0..n).map(|_| (rng.next_u64() % k as u64) as i64).collect()
    }

    #[test]
    fn reset_gives_first() {
        let mut env = ClassicVecEnv::<CartPole>::new(5, 0, 1).unwrap();
        let out = env.reset();
        assert_eq!(out.step_type, vec![FIRST; 5]);
        assert_eq!(out.reward, vec![0.0; 5]);
        assert_eq!(out.discount, vec![1.0; 5]);
        assert_eq!(out.observation.len(), 20);
        assert!(out.observation.iter().all(|v| v.abs() <= 0.05));
    }

    #[test]
    fn deterministic_across_thread_counts() {
        for name in NAMES {
            let n = 700;
            let mut envs: Vec<Box<dyn VecEnv>> = [1, 2, 3]
                .iter()
                .map(|&t| make(name, n, 42, Some(t)).unwrap())
                .collect();
            let outs: Vec<StepOutput> = envs.iter_mut().map(|e| e.reset()).collect();
            assert!(outs.windows(2).all(|w| w[0] == w[1]));
            let mut rng = EnvRng::for_env(1, 1);
            let spec = envs[0].action_spec().clone();
            for _ in 0..300 {
                let outs: Vec<StepOutput> = match spec.dtype {
                    Dtype::Int64 => {
                        let a = random_discrete(&mut rng, n, spec.maximum as i64 + 1);
                        envs.iter_mut()
                            .map(|e| e.step(Actions::Int64(&a)).unwrap())
                            .collect()
                    }
                    Dtype::Float32 => {
                        let a: Vec<f32> = (0..n)
                            .map(|_| rng.uniform(spec.minimum, spec.maximum) as f32)
                            .collect();
                        envs.iter_mut()
                            .map(|e| e.step(Actions::Float32(&a)).unwrap())
                            .collect()
                    }
                };
                assert!(outs.windows(2).all(|w| w[0] == w[1]), "{name}");
            }
        }
    }

    #[test]
    fn auto_reset_per_env_and_time_limit() {
        let mut env = ClassicVecEnv::<MountainCar>::new(2, 0, 1).unwrap();
        env.reset();
        // env 1 is put just before the goal: it terminates, then resets.
        env.set_state(1, &[0.499, 0.05], 3);
        let out = env.step(Actions::Int64(&[1, 2])).unwrap();
        assert_eq!(out.step_type, vec![MID, LAST]);
        assert_eq!(out.discount, vec![1.0, 0.0]);
        assert_eq!(out.reward, vec![-1.0, -1.0]);
        let out = env.step(Actions::Int64(&[1, 2])).unwrap();
        assert_eq!(out.step_type, vec![MID, FIRST]);
        assert_eq!(out.reward, vec![-1.0, 0.0]);
        assert_eq!(out.discount, vec![1.0, 1.0]);
        assert_eq!(env.get_state(1).1, 0);
        // Truncation: LAST with discount 1.
        env.set_state(0, &[-0.5, 0.0], 199);
        let out = env.step(Actions::Int64(&[1, 1])).unwrap();
        assert_eq!(out.step_type, vec![LAST, MID]);
        assert_eq!(out.discount, vec![1.0, 1.0]);
    }

    #[test]
    fn invalid_actions_are_rejected_without_change() {
        let mut env = ClassicVecEnv::<CartPole>::new(3, 0, 1).unwrap();
        env.reset();
        let before = env.get_state(0);
        let err = env.step(Actions::Int64(&[0, 2, 1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "action 2 of env 1 is out of bounds [0, 1] of action_spec BoundedArraySpec(shape=(), \
             dtype=dtype('int64'), name='action', minimum=0, maximum=1)"
        );
        assert!(matches!(
            env.step(Actions::Int64(&[0, 1])),
            Err(EnvError::ActionShape { .. })
        ));
        assert!(matches!(
            env.step(Actions::Float32(&[0.0; 3])),
            Err(EnvError::ActionDtype { .. })
        ));
        assert_eq!(env.get_state(0), before);
        let mut p = ClassicVecEnv::<Pendulum>::new(1, 0, 1).unwrap();
        assert!(matches!(
            p.step(Actions::Float32(&[f32::NAN])),
            Err(EnvError::ActionOutOfBounds { .. })
        ));
        assert!(p.step(Actions::Float32(&[2.0])).is_ok());
    }

    #[test]
    fn seed_changes_streams_and_repeats() {
        let mut a = ClassicVecEnv::<CartPole>::new(4, 1, 1).unwrap();
        let mut b = ClassicVecEnv::<CartPole>::new(4, 2, 1).unwrap();
        assert_ne!(a.reset().observation, b.reset().observation);
        b.seed(1);
        let mut c = ClassicVecEnv::<CartPole>::new(4, 1, 1).unwrap();
        assert_eq!(b.reset().observation, c.reset().observation);
    }
}

#[cfg(test)]
mod bench {
    use super::super::CartPole;
    use super::*;

    /// `cargo test --release -- --ignored --nocapture bench_cartpole_kernel`
    #[test]
    #[ignore]
    fn bench_cartpole_kernel() {
        let only: Option<usize> = std::env::var("BENCH_THREADS")
            .ok()
            .and_then(|v| v.parse().ok());
        for (n, threads) in [(4096, 1), (4096, 2), (65536, 1)] {
            if only.is_some_and(|t| t != threads) {
                continue;
            }
            let mut env = ClassicVecEnv::<CartPole>::new(n, 0, threads).unwrap();
            env.reset();
            let actions: Vec<i64> = (0..n as i64).map(|i| i % 2).collect();
            let iters = 50_000_000 / n;
            let t = std::time::Instant::now();
            for _ in 0..iters {
                std::hint::black_box(env.step(Actions::Int64(&actions)).unwrap());
            }
            let dt = t.elapsed().as_secs_f64();
            println!(
                "{n} envs {threads} threads: {:.1} M steps/s",
                (n * iters) as f64 / dt / 1e6
            );
        }
    }
}

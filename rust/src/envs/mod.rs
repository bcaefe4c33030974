//! Native vectorized environments (Gymnasium's classic control), plain Rust.
//!
//! A [`VecEnv`] holds `B` sub-environments and steps them all at once, in
//! place, into freshly allocated batch buffers ([`StepOutput`]), split over a
//! persistent thread pool. Every sub-environment owns its state and its RNG
//! (seeded from `(seed, env index)`), so results are identical whatever the
//! thread count. Auto-reset follows TF-Agents' `PyEnvironment`: stepping a
//! sub-environment whose last step was `LAST` (or that was never reset)
//! returns its reset (`FIRST`, reward 0, discount 1) and ignores its action.

mod acrobot;
mod cartpole;
mod classic;
mod mountain_car;
mod pendulum;
pub mod pool;
pub mod rng;

pub use pool::MAX_THREADS;

use std::fmt;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use classic::{ClassicVecEnv, Dynamics};
pub use mountain_car::{MountainCar, MountainCarContinuous};
pub use pendulum::Pendulum;

/// TF-Agents' step types, as stored in `StepOutput::step_type`.
pub const FIRST: i32 = 0;
/// A step in the middle of an episode.
pub const MID: i32 = 1;
/// The last step of an episode (terminated or truncated).
pub const LAST: i32 = 2;

/// The element type of an action array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    Int64,
    Float32,
}

impl Dtype {
    /// numpy's name for the dtype (`"int64"`, `"float32"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Int64 => "int64",
            Dtype::Float32 => "float32",
        }
    }
}

/// A batch of actions, flattened row-major to `[B, *action_shape]`.
#[derive(Clone, Copy, Debug)]
pub enum Actions<'a> {
    Int64(&'a [i64]),
    Float32(&'a [f32]),
}

impl Actions<'_> {
    /// The dtype of the elements.
    pub fn dtype(&self) -> Dtype {
        match self {
            Actions::Int64(_) => Dtype::Int64,
            Actions::Float32(_) => Dtype::Float32,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Actions::Int64(a) => a.len(),
            Actions::Float32(a) => a.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The spec of one sub-environment's action: TF-Agents'
/// `BoundedArraySpec(shape, dtype, minimum, maximum, name='action')`.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub minimum: f64,
    pub maximum: f64,
}

impl ActionSpec {
    /// The number of elements of one action.
    pub fn size(&self) -> usize {
        self.shape.iter().product()
    }

    fn bound(&self, v: f64) -> String {
        match self.dtype {
            Dtype::Int64 => format!("{}", v as i64),
            Dtype::Float32 => format!("{v:?}"),
        }
    }
}

impl fmt::Display for ActionSpec {
    /// Formats like TF-Agents' repr:
    /// `BoundedArraySpec(shape=(), dtype=dtype('int64'), name='action', minimum=0, maximum=1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match self.shape.as_slice() {
            [] => "()".to_string(),
            [n] => format!("({n},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        write!(
            f,
            "BoundedArraySpec(shape={shape}, dtype=dtype('{}'), name='action', minimum={}, maximum={})",
            self.dtype.name(),
            self.bound(self.minimum),
            self.bound(self.maximum)
        )
    }
}

/// The spec of one sub-environment's observation: float32, shape
/// `[obs_dim]`, with Gymnasium's `observation_space` bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationSpec {
    pub shape: Vec<usize>,
    pub minimum: Vec<f32>,
    pub maximum: Vec<f32>,
}

impl ObservationSpec {
    /// The spec of a vector bounded by `[-high, high]` elementwise.
    pub(crate) fn symmetric(high: &[f32]) -> Self {
        ObservationSpec {
            shape: vec![high.len()],
            minimum: high.iter().map(|h| -h).collect(),
            maximum: high.to_vec(),
        }
    }
}

/// Why a step was refused. Nothing is mutated when a step fails.
#[derive(Clone, Debug, PartialEq)]
pub enum EnvError {
    /// The action array has the wrong dtype.
    ActionDtype { spec: ActionSpec, got: String },
    /// The action array has the wrong shape (`expected` includes the batch dimension).
    ActionShape {
        spec: ActionSpec,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// An action element is outside `[minimum, maximum]` (or NaN).
    ActionOutOfBounds {
        spec: ActionSpec,
        env_index: usize,
        value: f64,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::ActionDtype { spec, got } => write!(
                f,
                "action has dtype {got}, expected {} for action_spec {spec}",
                spec.dtype.name()
            ),
            EnvError::ActionShape { spec, expected, got } => write!(
                f,
                "action has shape {got:?}, expected {expected:?} (batch_size + action_spec.shape) for action_spec {spec}"
            ),
            EnvError::ActionOutOfBounds { spec, env_index, value } => write!(
                f,
                "action {} of env {env_index} is out of bounds [{}, {}] of action_spec {spec}",
                spec.bound(*value),
                spec.bound(spec.minimum),
                spec.bound(spec.maximum)
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// One batched time step, in freshly allocated buffers the caller owns
/// (move them into numpy without copying; they are never reused).
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutput {
    /// `[B]` int32: FIRST (0), MID (1) or LAST (2).
    pub step_type: Vec<i32>,
    /// `[B]` float32.
    pub reward: Vec<f32>,
    /// `[B]` float32: 0.0 on termination, else 1.0.
    pub discount: Vec<f32>,
    /// `[B, *observation_shape]` float32, row-major.
    pub observation: Vec<f32>,
}

/// A batch of `B` native sub-environments stepped together (the driver's
/// native fast path; also what `tfdrive.environments.native` wraps).
///
/// - `reset()` resets every sub-environment: step_type FIRST, reward 0,
///   discount 1.
/// - `step(actions)` takes `[B, *action_spec.shape]` actions (validated:
///   dtype, length, bounds; nothing changes on error) and advances each
///   sub-environment; one whose previous step was LAST (or that was never
///   reset) resets instead and ignores its action. Terminated gives LAST with
///   discount 0, truncated (time limit) LAST with discount 1.
/// - Work runs on the env's own threads; call it with the GIL released.
///   Results do not depend on the thread count.
pub trait VecEnv: Send + Sync {
    /// The Gymnasium id, e.g. `"CartPole-v1"`.
    fn name(&self) -> &'static str;
    /// `B`.
    fn num_envs(&self) -> usize;
    /// The threads stepping uses (the caller included).
    fn num_threads(&self) -> usize;
    /// The time limit (Gymnasium's `max_episode_steps`).
    fn max_episode_steps(&self) -> u32;
    /// One sub-environment's action spec.
    fn action_spec(&self) -> &ActionSpec;
    /// One sub-environment's observation spec.
    fn observation_spec(&self) -> &ObservationSpec;
    /// Resets every sub-environment.
    fn reset(&mut self) -> StepOutput;
    /// Steps every sub-environment (see the trait docs).
    fn step(&mut self, actions: Actions<'_>) -> Result<StepOutput, EnvError>;
    /// Re-seeds every sub-environment's RNG from `(seed, env index)`; the next
    /// resets draw from the new streams.
    fn seed(&mut self, seed: u64);
    /// Sub-environment `index`'s physical state (Gymnasium's `env.state`,
    /// as float64) and its elapsed steps in the episode.
    fn get_state(&self, index: usize) -> (Vec<f64>, u32);
    /// Sets sub-environment `index`'s state and elapsed steps; its next step
    /// is a regular step from that state.
    fn set_state(&mut self, index: usize, state: &[f64], elapsed: u32);
    /// Every sub-environment's whole state (physics, elapsed steps, pending
    /// reset, RNG), so that a restored copy steps exactly as this env would.
    fn snapshot(&self) -> Snapshot;
    /// Restores `snapshot` (of an env of the same name and batch size).
    ///
    /// # Errors
    /// A message naming the field that does not fit this env; nothing
    /// changes then.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), String>;
}

/// A native env batch's whole state (see `VecEnv::snapshot`); each field has
/// one entry per sub-environment, `states` `state_size` values each.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub states: Vec<f64>,
    pub state_size: usize,
    pub elapsed: Vec<u32>,
    pub needs_reset: Vec<bool>,
    pub rng: Vec<u64>,
}

/// The Gymnasium ids of the native environments.
pub const NAMES: [&str; 5] = [
    "CartPole-v1",
    "Pendulum-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Acrobot-v1",
];

/// Why `make` could not create a native env batch.
#[derive(Debug)]
pub enum CreateError {
    /// No native env has this name.
    UnknownName(String),
    /// `num_envs` sub-environments do not fit in memory.
    OutOfMemory { num_envs: usize },
    /// `num_threads` is above `MAX_THREADS`.
    TooManyThreads { requested: usize },
    /// The OS refused a worker thread (those already started were joined).
    Spawn(std::io::Error),
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::UnknownName(name) => write!(
                f,
                "Unknown native environment {name:?}; available: {}",
                NAMES.join(", ")
            ),
            CreateError::OutOfMemory { num_envs } => {
                write!(
                    f,
                    "num_envs={num_envs}: not enough memory for that many environments"
                )
            }
            CreateError::TooManyThreads { requested } => write!(
                f,
                "num_threads={requested} is above the limit of {MAX_THREADS} threads"
            ),
            CreateError::Spawn(err) => write!(f, "could not start an env worker thread: {err}"),
        }
    }
}

/// Makes native env `name` with `num_envs` sub-environments, seeded with
/// `seed`, stepped on `num_threads` threads (`None`: one per available core,
/// at most one per 2048 envs; at most `MAX_THREADS`).
pub fn make(
    name: &str,
    num_envs: usize,
    seed: u64,
    num_threads: Option<usize>,
) -> Result<Box<dyn VecEnv>, CreateError> {
    fn boxed<D: Dynamics + 'static>(
        env: Result<ClassicVecEnv<D>, CreateError>,
    ) -> Result<Box<dyn VecEnv>, CreateError> {
        Ok(Box::new(env?))
    }
    let threads = num_threads.unwrap_or_else(|| default_threads(num_envs));
    match name {
        "CartPole-v1" => boxed(ClassicVecEnv::<CartPole>::new(num_envs, seed, threads)),
        "Pendulum-v1" => boxed(ClassicVecEnv::<Pendulum>::new(num_envs, seed, threads)),
        "MountainCar-v0" => boxed(ClassicVecEnv::<MountainCar>::new(num_envs, seed, threads)),
        "MountainCarContinuous-v0" => boxed(ClassicVecEnv::<MountainCarContinuous>::new(
            num_envs, seed, threads,
        )),
        "Acrobot-v1" => boxed(ClassicVecEnv::<Acrobot>::new(num_envs, seed, threads)),
        _ => Err(CreateError::UnknownName(name.to_owned())),
    }
}

/// One thread per available core, but at most one per 2048 sub-environments
/// (a CartPole step costs about 10 ns per env: smaller shares do not pay for
/// the hand-over).
pub fn default_threads(num_envs: usize) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    cores.min(num_envs / 2048).max(1)
}

"""The train loop: collect with tfdrive's driver, train, evaluate, and write the outputs.

    from tfdrive.train import loop
    result = loop.train("ppo", "CartPole-v1", out="runs/cartpole")
    print(result.solved, result.final_return, result.paths["policy"])

`train()` alternates rounds of the agent's learner (see `learners`: PPO
collects a `[B, T]` batch and trains on it, DQN adds to a replay buffer and
trains on sampled windows) with a greedy evaluation every `eval_every` env
steps: the mean return of the agent's `policy` over `eval_episodes` whole
episodes on separate envs. It writes into `out`:

- `tensorboard/`: scalars `eval/mean_return`, `train/episode_return` (the
  collect policy's last 100 episodes), `train/loss` and the agent's other
  loss terms, `train/env_steps_per_s`; the step axis is env steps.
- `learning_curve.png`: eval return against env steps and against wall
  seconds of training (collection and gradient steps; evaluation excluded).
- `checkpoint/`: agent (networks, optimizer, normalizers), counters and
  the replay buffer; a rerun with the same `out` resumes from it.
- `policy/`: the greedy policy as a SavedModel (`PolicySaver`), loadable
  with `SavedModelPyTFEagerPolicy(path, load_specs_from_pbtxt=True)`.
- `history.json` (the evaluations) and `result.json` (the summary).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tfdrive.train import recipes

__all__ = ["SOLVED_RETURNS", "EvalPoint", "TrainResult", "solved_return", "train"]

#: Mean greedy return at which an env counts as solved: Gymnasium's reward
#: thresholds, and for Pendulum-v1 (which has none) the level of issue 12.
SOLVED_RETURNS = {
    "CartPole-v1": 475.0,
    "Pendulum-v1": -300.0,
    "MountainCar-v0": -110.0,
    "MountainCarContinuous-v0": 90.0,
    "Acrobot-v1": -100.0,
}


@dataclasses.dataclass
class EvalPoint:
    """One greedy evaluation: when (env steps, wall seconds of training, gradient steps) and how well."""

    env_steps: int
    seconds: float
    train_steps: int
    mean_return: float
    min_return: float
    max_return: float


@dataclasses.dataclass
class TrainResult:
    """What `train()` did, with the whole evaluation history.

    `seconds` counts training wall time (collection and gradient steps);
    `wall_seconds` the whole call, evaluations and outputs included (this
    run only, when resumed).
    """

    agent: str
    env: str
    backend: str
    seed: int
    num_envs: int
    eval_episodes: int
    env_steps: int
    train_steps: int
    seconds: float
    wall_seconds: float
    history: list[EvalPoint]
    threshold: float | None
    resumed: bool
    out: str
    paths: dict[str, str]

    @property
    def final_return(self) -> float:
        """The last evaluation's mean return (that of the saved policy)."""
        return self.history[-1].mean_return

    @property
    def best_return(self) -> float:
        return max(p.mean_return for p in self.history)

    @property
    def first_solved(self) -> EvalPoint | None:
        """The first evaluation at or above `threshold`, if any."""
        if self.threshold is None:
            return None
        return next((p for p in self.history if p.mean_return >= self.threshold), None)

    @property
    def solved(self) -> bool:
        return self.first_solved is not None

    def to_dict(self) -> dict[str, Any]:
        first = self.first_solved
        summary = dataclasses.asdict(self)
        summary.update(
            final_return=self.final_return,
            best_return=self.best_return,
            solved=self.solved,
            solved_at_env_steps=first and first.env_steps,
            solved_at_seconds=first and first.seconds,
        )
        return summary


def solved_return(env: str) -> float | None:
    """The solved level of env id `env`: `SOLVED_RETURNS`, else Gymnasium's reward threshold."""
    if env in SOLVED_RETURNS:
        return SOLVED_RETURNS[env]
    try:
        import gymnasium

        return gymnasium.spec(env).reward_threshold
    except Exception:  # Not a Gymnasium id, or no Gymnasium: no level known.
        return None


def train(
    agent: str = "ppo",
    env: str = "CartPole-v1",
    *,
    steps: int | None = None,
    num_envs: int | None = None,
    out: str | None = None,
    seed: int = 0,
    eval_every: int | None = None,
    eval_episodes: int = 100,
    backend: str = "native",
    stop_when_solved: bool = True,
    recipe: recipes.Recipe | None = None,
    progress: bool = False,
    on_eval: Callable[[EvalPoint], Any] | None = None,
    jit_compile: bool = False,
    workers: int = 0,
    ray_address: str | None = None,
) -> TrainResult:
    """Trains `agent` on `env` and writes the outputs listed in the module docs.

    Args:
      agent: 'ppo' or 'dqn'.
      env: an env id: native (`tfdrive.environments.native.NAMES`) or, with
        `backend='gymnasium'`, any Gymnasium id.
      steps: env steps to train for (over the batch; a round can overshoot
        by up to one round); default `recipe.default_steps`.
      num_envs: envs collected from in parallel; default the recipe's.
      out: the output directory; default `train-runs/<env>-<agent>`. If it
        holds a checkpoint of the same agent and env, training resumes.
      seed: seeds TensorFlow, NumPy's sampling, and the envs.
      eval_every: env steps between greedy evaluations; default `steps / 25`.
      eval_episodes: episodes per evaluation (one per eval env).
      backend: 'native' or 'gymnasium' (see `environments.make`).
      stop_when_solved: stop at the first evaluation at or above the env's
        solved level (`solved_return`).
      recipe: the hyperparameters; default `recipes.default_recipe(agent, env)`.
      progress: show a tqdm bar with the current train and eval returns.
      on_eval: called with each new `EvalPoint`.
      jit_compile: run the collect and greedy policies compiled by XLA
        (`PyTFEagerPolicy(jit_compile=True)`; docs/xla.md says when it pays).
      workers: 0 collects in this process; N >= 1 collects on N Ray actors
        (`tfdrive.distributed`, needs `tfdrive[ray]`), each with the recipe's
        `num_envs // N` envs (at least 1).
      ray_address: with `workers`: None starts a local Ray instance,
        "HOST:PORT" joins that cluster.

    Returns:
      A `TrainResult`.

    Raises:
      ValueError: an unknown agent or backend, an env the agent cannot act
        in (DQN needs discrete actions), a non-positive size, or an `out`
        that holds another agent's or env's run.
      FloatingPointError: the loss became NaN or infinite.
    """
    import tensorflow as tf

    from tfdrive.metrics import py_metrics
    from tfdrive.policies import policy_saver, py_tf_eager_policy
    from tfdrive.specs import tensor_spec
    from tfdrive.train import curves, environments, evaluation, learners
    from tfdrive.utils import common

    started = time.perf_counter()
    recipe = recipe or recipes.default_recipe(agent, env)
    if recipe.agent != agent:
        raise ValueError(f"recipe is for {recipe.agent!r}, not for agent {agent!r}")
    if num_envs is not None:
        recipe = dataclasses.replace(recipe, num_envs=num_envs)
    steps = recipe.default_steps if steps is None else steps
    eval_every = eval_every or max(steps // 25, 1)
    for name, value in (
        ("steps", steps),
        ("num_envs", recipe.num_envs),
        ("eval_every", eval_every),
        ("eval_episodes", eval_episodes),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    out = out or os.path.join("train-runs", f"{env}-{agent}")
    threshold = solved_return(env)
    run_config = {"agent": agent, "env": env, "backend": backend}
    resumed = _check_run_config(out, run_config)

    tf.random.set_seed(seed)
    train_env = environments.make(env, recipe.num_envs, backend, seed, clip_actions=True)
    eval_env = environments.make(env, eval_episodes, backend, seed + 1_000_003, clip_actions=True)
    time_step_spec = tensor_spec.from_spec(train_env.time_step_spec())
    action_spec = tensor_spec.from_spec(train_env.action_spec())
    train_steps = tf.Variable(0, dtype=tf.int64, name="train_steps")
    env_steps = tf.Variable(0, dtype=tf.int64, name="env_steps")
    seconds = tf.Variable(0.0, dtype=tf.float64, name="train_seconds")
    tf_agent = recipes.build_agent(
        recipe, time_step_spec, action_spec, train_steps, total_env_steps=steps
    )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
    learner: Any
    if workers:
        from tfdrive.distributed import learners as distributed_learners

        per_worker = dataclasses.replace(recipe, num_envs=max(1, recipe.num_envs // workers))
        learner = distributed_learners.make_learner(
            tf_agent,
            per_worker,
            env,
            backend=backend,
            seed=seed,
            num_workers=workers,
            ray_address=ray_address,
        )
        episode_return = learner.episode_return
    else:
        episode_return = py_metrics.AverageReturnMetric(buffer_size=100)
        learner = learners.make_learner(
            tf_agent, train_env, recipe, [episode_return], seed=seed, jit_compile=jit_compile
        )
    checkpointer = common.Checkpointer(
        os.path.join(out, "checkpoint"),
        max_to_keep=2,
        agent=tf_agent,
        env_steps=env_steps,
        train_seconds=seconds,
        **learner.checkpoint_objects(),
    )
    checkpointer.initialize_or_restore()
    _write_json(os.path.join(out, "run.json"), run_config)
    history = [p for p in _load_history(out) if p.env_steps <= int(env_steps.numpy())]
    greedy = py_tf_eager_policy.PyTFEagerPolicy(
        tf_agent.policy, use_tf_function=True, batch_time_steps=False, jit_compile=jit_compile
    )
    writer = tf.summary.create_file_writer(os.path.join(out, "tensorboard"))

    def evaluate() -> EvalPoint:
        returns = evaluation.evaluate(greedy, eval_env)
        point = EvalPoint(
            env_steps=int(env_steps.numpy()),
            seconds=float(seconds.numpy()),
            train_steps=int(train_steps.numpy()),
            mean_return=float(returns.mean()),
            min_return=float(returns.min()),
            max_return=float(returns.max()),
        )
        history.append(point)
        with writer.as_default():
            _scalar("eval/mean_return", point.mean_return, point.env_steps)
        if on_eval is not None:
            on_eval(point)
        return point

    def is_solved(point: EvalPoint) -> bool:
        return threshold is not None and point.mean_return >= threshold

    def save_checkpoint() -> None:
        checkpointer.save(global_step=int(env_steps.numpy()))
        _write_json(os.path.join(out, "history.json"), [dataclasses.asdict(p) for p in history])

    bar = _Bar(steps, int(env_steps.numpy())) if progress else None
    try:
        if not history:
            evaluate()
        summary_every = max(steps // 200, recipe.steps_per_round)
        next_summary = int(env_steps.numpy()) + summary_every
        since, since_steps = float(seconds.numpy()), int(env_steps.numpy())
        while int(env_steps.numpy()) < steps and not (stop_when_solved and is_solved(history[-1])):
            round_start = time.perf_counter()
            result = learner.round()
            seconds.assign_add(time.perf_counter() - round_start)
            env_steps.assign_add(result.env_steps)
            now = int(env_steps.numpy())
            if now >= next_summary and result.loss_info is not None:
                rate = (now - since_steps) / max(float(seconds.numpy()) - since, 1e-9)
                _write_train_summaries(writer, now, result.loss_info, episode_return, rate)
                since, since_steps = float(seconds.numpy()), now
                next_summary = now + summary_every
            if now - history[-1].env_steps >= eval_every or now >= steps:
                evaluate()
                save_checkpoint()
            if bar is not None:
                bar.update(now, episode_return, history[-1])
    finally:
        if bar is not None:
            bar.close()
        writer.flush()
        if workers:
            learner.close()  # the Ray actors
    if history[-1].env_steps != int(env_steps.numpy()):
        evaluate()
    save_checkpoint()

    paths = {
        "out": out,
        "tensorboard": os.path.join(out, "tensorboard"),
        "learning_curve": os.path.join(out, "learning_curve.png"),
        "checkpoint": os.path.join(out, "checkpoint"),
        "policy": os.path.join(out, "policy"),
        "history": os.path.join(out, "history.json"),
        "result": os.path.join(out, "result.json"),
    }
    with warnings.catch_warnings():
        # TF warns that loading needs TFP's distribution type specs registered:
        # SavedModelPyTFEagerPolicy imports TFP with tfdrive.
        warnings.filterwarnings("ignore", message="Encoding a StructuredValue with type tfp")
        saver = policy_saver.PolicySaver(tf_agent.policy, batch_size=None, train_step=train_steps)
        saver.save(paths["policy"])
    curves.plot_learning_curves(
        {f"tfdrive {agent.upper()}": history},
        paths["learning_curve"],
        title=f"{agent.upper()} on {env} ({backend}, {recipe.num_envs} envs, seed {seed})",
        threshold=threshold,
    )
    train_result = TrainResult(
        agent=agent,
        env=env,
        backend=backend,
        seed=seed,
        num_envs=recipe.num_envs,
        eval_episodes=eval_episodes,
        env_steps=int(env_steps.numpy()),
        train_steps=int(train_steps.numpy()),
        seconds=float(seconds.numpy()),
        wall_seconds=time.perf_counter() - started,
        history=history,
        threshold=threshold,
        resumed=resumed,
        out=out,
        paths=paths,
    )
    _write_json(paths["result"], train_result.to_dict())
    return train_result


def _write_train_summaries(
    writer: Any, step: int, loss_info: Any, episode_return: Any, steps_per_s: float
) -> None:
    import tensorflow as tf

    with writer.as_default():
        _scalar("train/loss", float(loss_info.loss), step)
        extra = loss_info.extra
        for name in getattr(extra, "_fields", ()):
            value = getattr(extra, name)
            if tf.is_tensor(value) and value.dtype.is_floating:
                _scalar(f"train/{name}", float(tf.reduce_mean(value)), step)
        if episode_return.data.size:
            _scalar("train/episode_return", float(episode_return.result()), step)
        _scalar("train/env_steps_per_s", steps_per_s, step)


def _scalar(tag: str, value: float, step: int) -> None:
    """A scalar summary to the default writer (TensorBoard optional: `utils.summaries`)."""
    from tfdrive.utils import summaries

    summaries.scalar(tag, float(value), step)


def _check_run_config(out: str, config: dict[str, Any]) -> bool:
    """Whether `out` holds a run to resume; ValueError if it holds a different one."""
    path = os.path.join(out, "run.json")
    if not os.path.exists(path):
        return False
    with open(path) as f:
        found = json.load(f)
    if found != config:
        raise ValueError(
            f"{out!r} holds a {found.get('agent')} run on {found.get('env')} "
            f"({found.get('backend')}); it cannot resume as {config['agent']} on "
            f"{config['env']} ({config['backend']}): choose another --out"
        )
    return True


def _load_history(out: str) -> list[EvalPoint]:
    path = os.path.join(out, "history.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [EvalPoint(**point) for point in json.load(f)]


def _write_json(path: str, value: Any) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        json.dump(value, f, indent=2, default=_json_default)
    os.replace(temporary, path)  # Never a half-written file.


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


class _Bar:
    """A tqdm bar over env steps, showing the collect policy's and the last eval's return."""

    def __init__(self, total: int, initial: int):
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            initial=initial,
            desc="train",
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
        )

    def update(self, env_steps: int, episode_return: Any, last_eval: EvalPoint) -> None:
        self._bar.update(env_steps - self._bar.n)
        train_return = episode_return.result() if episode_return.data.size else math.nan
        self._bar.set_postfix(
            {"return": f"{float(train_return):.1f}", "eval": f"{last_eval.mean_return:.1f}"},
            refresh=False,
        )

    def close(self) -> None:
        if self._bar.n > self._bar.total:
            self._bar.total = self._bar.n
            self._bar.refresh()
        self._bar.close()

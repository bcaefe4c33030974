"""The `tfdrive` command: `train` an agent, `collect` experience and `bench` the collection stack.

    tfdrive train [--agent ppo|dqn] [--env CartPole-v1] [--num-envs N] [--steps N]
        [--out DIR] [--seed 0] [--eval-every N] [--eval-episodes 100]
        [--backend native|gymnasium] [--full] [--quiet] [--json]
    tfdrive collect --env CartPole-v1 --num-envs 256 --steps 1000000 \\
        [--policy ppo|random|DIR] [--hidden 64,64] [--backend native|gymnasium] [--seed 0]
        [--quiet] [--json]
    tfdrive bench [--quick] [--out DIR] [--envpool-python PATH]
    tfdrive --version

`train` runs `tfdrive.train.loop.train`: it collects with tfdrive's PyDriver,
trains a PPO or DQN agent, evaluates the greedy policy, and writes
TensorBoard scalars, a learning curve, a checkpoint (a rerun with the same
`--out` resumes) and the saved policy; it ends by saying whether the env
was solved and where the outputs are.

`collect` builds the environment (native Rust envs, or Gymnasium envs
batched by tfdrive's BatchedPyEnvironment), a PPOPolicy (actor and value
networks of `--hidden` units, run through PyTFEagerPolicy as one graph), a
random policy or a saved policy (`--policy DIR`, e.g. `train`'s output), and
runs tfdrive's PyDriver with native episode metrics and a progress bar. It
prints env steps/s, policy calls/s and the mean episode return and length.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from tfdrive import __version__
from tfdrive.builders import build_env, build_policy

# Errors that are the user's to fix (a bad environment id, seed or size):
# printed as one line, not as a traceback.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, MemoryError)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        units = tuple(int(u) for u in text.split(",") if u.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers, got {text!r}"
        ) from None
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"must be positive integers, got {text!r}")
    return units


def _whole(text: str) -> int:
    """An int written as ``1000000``, ``1_000_000`` or ``1e6``."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    return int(value)


def _positive(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _whole_at_least_0(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text!r}")
    return value


_XLA_HELP = (
    "compile the TF policy with XLA: faster at 1-256 envs; on TF 2.15 slower at "
    "thousands of envs (docs/xla.md)"
)


def _seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {text!r}")
    return value


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Sends the process's stderr (file descriptor 2) to /dev/null while active.

    TensorFlow's C++ runtime logs at import and at first device use (CUDA
    probing, oneDNN notes) straight to fd 2, before `TF_CPP_MIN_LOG_LEVEL`
    is read on some versions; Python exceptions still reach the caller.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _policy_choice(text: str) -> str:
    """`ppo`, `random`, or the directory of a saved policy (a SavedModel)."""
    if text in ("ppo", "random"):
        return text
    if os.path.isfile(os.path.join(text, "saved_model.pb")):
        return text
    raise argparse.ArgumentTypeError(
        f"must be ppo, random or the directory of a saved policy (with saved_model.pb, "
        f"e.g. tfdrive train's <out>/policy), got {text!r}"
    )


def _apply_tf_threads(setting: Any, default: Any = None) -> None:
    """Sizes TensorFlow's pools from `--tf-threads`, else from `default` (None: leave them).

    An explicit setting TensorFlow can no longer apply (it already runs in
    this process) is an error; the default is then skipped quietly.
    """
    from tfdrive.utils.tf_threads import set_tf_threads

    if setting is not None:
        try:
            set_tf_threads(intra_op=setting.intra_op, inter_op=setting.inter_op)
        except RuntimeError as error:
            raise ValueError(
                f"--tf-threads {setting.intra_op}/{setting.inter_op}: {error}"
            ) from None
    elif default is not None:
        try:
            set_tf_threads(intra_op=default.intra_op, inter_op=default.inter_op)
        except RuntimeError:
            pass  # `main()` called in a process whose TensorFlow already runs


def _tf_threads_in_effect() -> tuple[int, int]:
    """(intra-op, inter-op) pool sizes TensorFlow was configured with; 0 = its choice."""
    import tensorflow as tf

    threading = tf.config.threading
    return (
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )


def _tf_threads(text: str) -> Any:
    from tfdrive.utils.tf_threads import parse_tf_threads

    try:
        return parse_tf_threads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_tf_threads(command: argparse.ArgumentParser, default: str) -> None:
    """`--tf-threads` on `command`; None when not given (`default` names what then applies)."""
    command.add_argument(
        "--tf-threads",
        type=_tf_threads,
        default=None,
        help="TensorFlow's thread pools, INTRA/INTER (0 = TensorFlow's choice) or 'default' "
        f"(TensorFlow's, 0/0); default: {default} (docs/xla.md)",
    )


def collect(args: argparse.Namespace) -> dict[str, Any]:
    # Set-up (imports, envs, the policy's graph) runs with stderr quiet:
    # TensorFlow's C++ start-up logs would read as errors.
    with _quiet_stderr():
        from tfdrive.drivers.progress import ProgressBar
        from tfdrive.drivers.py_driver import PyDriver
        from tfdrive.metrics import py_metrics
        from tfdrive.utils.tf_threads import collect_threads

        _apply_tf_threads(args.tf_threads, default=collect_threads(args.num_envs))
        env = build_env(args.env, args.num_envs, args.backend, args.seed)
        policy = build_policy(args.policy, env, args.hidden, args.seed, jit_compile=args.xla)
        metrics = [
            py_metrics.AverageReturnMetric(buffer_size=100),
            py_metrics.AverageEpisodeLengthMetric(buffer_size=100),
            py_metrics.NumberOfEpisodes(),
            py_metrics.EnvironmentSteps(),
        ]
        time_step = env.reset()
        policy_state = policy.get_initial_state(env.batch_size or 1)
        # One short run first builds the policy's graph, so that the timed run
        # measures collection; a reset after it lets the metrics see whole episodes.
        PyDriver(env, policy, [], max_steps=env.batch_size or 1).run(time_step, policy_state)
        time_step = env.reset()
    bar = None if args.quiet else ProgressBar(total=args.steps)
    # The bar counts finished episodes as the summary does (NumberOfEpisodes).
    progress = bar and (lambda steps, _episodes: bar(steps, int(metrics[2].result())))
    driver = PyDriver(env, policy, metrics, max_steps=args.steps, progress=progress or False)
    start = time.perf_counter()
    try:
        driver.run(time_step, policy_state)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    stats = driver.last_run_stats
    assert stats is not None, "PyDriver.run returned without its stats"
    result = {
        "env": args.env,
        "backend": args.backend,
        "policy": args.policy,
        "num_envs": args.num_envs,
        "env_steps": stats.num_steps,
        "seconds": seconds,
        "env_steps_per_s": stats.num_steps / seconds,
        "policy_calls_per_s": stats.iterations / seconds,
        "episodes": int(metrics[2].result()),
        "mean_return": float(metrics[0].result()),
        "mean_episode_length": float(metrics[1].result()),
        "tf_threads": list(_tf_threads_in_effect()),
    }
    return result


def _print_collect(result: dict[str, Any]) -> None:
    policy = result["policy"]
    policy = f"{policy} policy" if policy in ("ppo", "random") else f"saved policy {policy}"
    print(
        f"{result['env']} x {result['num_envs']} ({result['backend']}), "
        f"{policy}: {result['env_steps']:,} env steps in "
        f"{result['seconds']:.2f} s"
    )
    print(f"  env steps/s:          {result['env_steps_per_s']:>14,.0f}")
    print(f"  policy calls/s:       {result['policy_calls_per_s']:>14,.0f}")
    print(f"  episodes finished:    {result['episodes']:>14,}")
    if result["episodes"] == 0:
        print("  no episode finished: no mean return or length (collect more --steps)")
        return
    print(f"  mean episode return:  {result['mean_return']:>14.2f}  (last 100 episodes)")
    print(f"  mean episode length:  {result['mean_episode_length']:>14.2f}  (last 100 episodes)")


def train(args: argparse.Namespace) -> Any:
    """Runs `tfdrive.train.loop.train` with the command's arguments; a `TrainResult`."""
    with _quiet_stderr():
        _apply_tf_threads(args.tf_threads)
        import tensorflow as tf
        from absl import logging

        from tfdrive.train import loop

        tf.get_logger().setLevel("ERROR")
        logging.set_verbosity(logging.ERROR)  # Saving the policy logs name sanitising.
        # Start TensorFlow's runtime here, so its device-probing logs stay quiet too.
        (tf.constant(0, tf.int64) + 1).numpy()
    return loop.train(
        args.agent,
        args.env,
        steps=args.steps,
        num_envs=args.num_envs,
        out=args.out,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        backend=args.backend,
        stop_when_solved=not args.full,
        progress=not args.quiet,
        jit_compile=args.xla,
        workers=args.workers,
        ray_address=args.ray_address,
    )


def _print_train(result: Any) -> None:
    first, last = result.first_solved, result.history[-1]
    episodes = f"over {result.eval_episodes} episodes"
    title = (
        f"{result.agent.upper()} on {result.env} ({result.backend}, {result.num_envs} envs, "
        f"seed {result.seed})"
    )
    if result.resumed:
        title += ", resumed from its checkpoint"
    print(title)
    if first is not None:
        print(
            f"  SOLVED: mean greedy return {first.mean_return:.1f} >= {result.threshold:g} "
            f"{episodes} at {first.env_steps:,} env steps, {first.seconds:.1f} s of training"
        )
    elif result.threshold is not None:
        print(
            f"  NOT SOLVED: best mean greedy return {result.best_return:.1f} {episodes} "
            f"(solved: >= {result.threshold:g}); train longer with a larger --steps "
            "(the same --out resumes)"
        )
    print(
        f"  final mean greedy return {last.mean_return:.1f} (min {last.min_return:.1f}, "
        f"max {last.max_return:.1f}) after {result.env_steps:,} env steps, "
        f"{result.train_steps:,} train steps, {result.seconds:.1f} s of training "
        f"({result.wall_seconds:.1f} s in all)"
    )
    paths = result.paths
    print(f"  outputs in {paths['out']}/:")
    print(
        f"    policy/               the saved greedy policy: tfdrive collect --policy "
        f"{paths['policy']}"
    )
    print("    learning_curve.png    return against env steps and wall seconds")
    print(f"    tensorboard/          tensorboard --logdir {paths['tensorboard']}")
    print("    checkpoint/           a rerun with the same --out resumes from it")
    print("    history.json, result.json")


def parser() -> argparse.ArgumentParser:
    from tfdrive.environments.native import NAMES

    p = argparse.ArgumentParser(prog="tfdrive", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"tfdrive {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a PPO or DQN agent; save the policy and curves")
    t.add_argument("--agent", choices=("ppo", "dqn"), default="ppo", help="the agent (default ppo)")
    t.add_argument(
        "--env",
        default="CartPole-v1",
        help=f"environment id (default CartPole-v1); native: {', '.join(NAMES)}; "
        "any Gymnasium id with --backend gymnasium",
    )
    t.add_argument(
        "--num-envs",
        type=_positive,
        default=None,
        help="envs collected from (default: the recipe's)",
    )
    t.add_argument(
        "--steps",
        type=_positive,
        default=None,
        help="env steps (default: 500000 for PPO, 200000 for DQN, 2e6 for PPO on Pendulum-v1)",
    )
    t.add_argument(
        "--out", default=None, help="output directory (default train-runs/<env>-<agent>)"
    )
    t.add_argument("--seed", type=_seed, default=0, help="seeds envs, networks, sampling (0)")
    t.add_argument(
        "--eval-every",
        type=_positive,
        default=None,
        help="env steps between evaluations (default steps / 25)",
    )
    t.add_argument(
        "--eval-episodes", type=_positive, default=100, help="episodes per evaluation (100)"
    )
    t.add_argument(
        "--backend",
        choices=("native", "gymnasium"),
        default="native",
        help="native: tfdrive's Rust envs; gymnasium: Gymnasium envs batched by tfdrive "
        "(default native)",
    )
    t.add_argument("--full", action="store_true", help="train all --steps, not only until solved")
    t.add_argument("--xla", action="store_true", help=_XLA_HELP)
    _add_tf_threads(t, default="default")
    t.add_argument(
        "--workers",
        type=_whole_at_least_0,
        default=0,
        help="collect on N Ray actors (pip install 'tfdrive[ray]'; default 0: in this process)",
    )
    t.add_argument(
        "--ray-address",
        default=None,
        help="with --workers: join the Ray cluster at HOST:PORT (default: start a local one)",
    )
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--json", action="store_true", help="print the result as JSON")
    c = sub.add_parser("collect", help="collect experience and report throughput and returns")
    c.add_argument(
        "--env",
        default="CartPole-v1",
        help=f"environment id (default CartPole-v1); native: {', '.join(NAMES)}; "
        "any Gymnasium id with --backend gymnasium",
    )
    c.add_argument("--num-envs", type=_positive, default=256, help="batch size (default 256)")
    c.add_argument(
        "--steps", type=_positive, default=1_000_000, help="env steps (default 1e6 = 1000000)"
    )
    c.add_argument(
        "--policy",
        type=_policy_choice,
        default="ppo",
        help="ppo: an (untrained) PPO actor-critic run as one TF graph; random: uniform "
        "actions; DIR: a saved policy, e.g. tfdrive train's <out>/policy (default ppo)",
    )
    c.add_argument("--hidden", type=_hidden, default=(64, 64), help="PPO layer sizes (64,64)")
    c.add_argument(
        "--backend",
        choices=("native", "gymnasium"),
        default="native",
        help="native: tfdrive's Rust envs; gymnasium: Gymnasium envs batched by tfdrive "
        "(default native)",
    )
    c.add_argument("--seed", type=_seed, default=0, help="seeds envs and policy (default 0)")
    c.add_argument("--xla", action="store_true", help=_XLA_HELP)
    _add_tf_threads(c, default="1/1 below 2048 envs, 0/1 from 2048")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    b = sub.add_parser("bench", help="run the benchmark suite side by side")
    b.add_argument("--quick", action="store_true", help="fewer sizes and repeats (minutes)")
    b.add_argument("--out", default="bench-results", help="directory for JSON and plots")
    b.add_argument(
        "--envpool-python",
        default=None,
        help="a Python with EnvPool installed, for the EnvPool column (default $ENVPOOL_PYTHON)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        if args.command == "train":
            result = train(args)
            if args.json:
                print(json.dumps(result.to_dict(), indent=2))
            else:
                _print_train(result)
            return 0
        if args.command == "collect":
            result = collect(args)
            if args.json:
                print(json.dumps(result, indent=2))
            else:
                _print_collect(result)
            return 0
        from tfdrive.benchmarks import suite

        return suite.main(quick=args.quick, out=args.out, envpool_python=args.envpool_python)
    except KeyboardInterrupt:
        print("tfdrive: interrupted", file=sys.stderr)
        return 130
    except (
        _USER_ERRORS + (FloatingPointError, ConnectionError, ImportError) + _gymnasium_errors()
    ) as e:
        print(f"tfdrive {args.command}: error: {e}", file=sys.stderr)
        return 2


def _gymnasium_errors() -> tuple[type[BaseException], ...]:
    """Gymnasium's own errors (an unknown id, ...), where Gymnasium is loaded."""
    gymnasium = sys.modules.get("gymnasium")
    return (gymnasium.error.Error,) if gymnasium is not None else ()


if __name__ == "__main__":
    sys.exit(main())

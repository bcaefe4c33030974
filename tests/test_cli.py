"""The `tfdrive` command: `collect` end to end, and its argument errors."""

from __future__ import annotations

import json

import pytest

from tfdrive import cli


def _collect(capsys, *args):
    assert cli.main(["collect", "--quiet", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_collect_random_policy_on_native_envs(capsys):
    result = _collect(capsys, "--policy", "random", "--num-envs", "8", "--steps", "2000")
    assert result["env"] == "CartPole-v1" and result["backend"] == "native"
    assert 2000 <= result["env_steps"] < 2000 + 8  # a batch can overshoot the limit
    assert result["episodes"] > 0
    # CartPole pays 1 per step, so the mean return equals the mean length.
    assert result["mean_return"] == pytest.approx(result["mean_episode_length"])
    assert 8 <= result["mean_episode_length"] <= 500
    assert result["env_steps_per_s"] > 0 and result["policy_calls_per_s"] > 0


def test_collect_ppo_on_gymnasium_envs(capsys):
    result = _collect(
        capsys, "--backend", "gymnasium", "--num-envs", "4", "--steps", "400", "--hidden", "16"
    )
    assert result["policy"] == "ppo" and result["num_envs"] == 4
    assert 400 <= result["env_steps"] < 404
    assert result["mean_episode_length"] > 0


def test_collect_sees_whole_episodes_after_the_warm_up(capsys):
    # Pendulum episodes last exactly 200 steps (its time limit).
    result = _collect(
        capsys, "--env", "Pendulum-v1", "--policy", "random", "--num-envs", "4", "--steps", "800"
    )
    assert result["episodes"] == 4
    assert result["mean_episode_length"] == 200.0


def test_collect_prints_a_human_summary(capsys):
    assert (
        cli.main(["collect", "--quiet", "--policy", "random", "--num-envs", "4", "--steps", "100"])
        == 0
    )
    out = capsys.readouterr().out
    assert "CartPole-v1 x 4 (native), random policy" in out
    assert "env steps/s:" in out and "mean episode return:" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--hidden", "64,x"], "argument --hidden: must be comma-separated integers, got '64,x'"),
        (["--hidden", "0"], "argument --hidden: must be positive integers, got '0'"),
        (["--num-envs", "0"], "argument --num-envs: must be at least 1, got '0'"),
        (["--steps", "1.5e3x"], "argument --steps: must be a whole number, got '1.5e3x'"),
        (["--steps", "2.5"], "argument --steps: must be a whole number, got '2.5'"),
        (["--seed", "-1"], "argument --seed: must be in [0, 2**63), got '-1'"),
        (["--seed", "99999999999999999999999"], "argument --seed: must be in [0, 2**63)"),
        (["--backend", "gpu"], "invalid choice: 'gpu'"),
    ],
)
def test_bad_arguments_are_named(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["collect", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_steps_accept_scientific_notation(capsys):
    result = _collect(capsys, "--policy", "random", "--num-envs", "4", "--steps", "2e2")
    assert 200 <= result["env_steps"] < 204


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--env", "NoSuchEnv-v0"],
            "tfdrive collect: error: 'NoSuchEnv-v0' is not a native environment (native: "
            "CartPole-v1, Pendulum-v1",
        ),
        (["--env", "NoSuchEnv-v0", "--backend", "gymnasium"], "tfdrive collect: error: "),
    ],
)
def test_unknown_environments_are_one_line_errors(capsys, args, message):
    assert cli.main(["collect", "--quiet", "--policy", "random", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_no_finished_episode_is_said_plainly(capsys):
    args = ["collect", "--quiet", "--policy", "random", "--num-envs", "2", "--steps", "2"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "no episode finished" in out and "mean episode return" not in out


def test_version(capsys):
    from tfdrive import __version__

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tfdrive {__version__}"


def test_progress_bar_shows_an_overshooting_run_as_complete():
    import io

    from tfdrive.drivers.progress import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(total=10, file=out)
    bar(12, 3)
    bar.close()
    last_frame = out.getvalue().split("\r")[-1]
    assert "100%" in last_frame and "12.0/12.0" in last_frame and "episodes=3" in last_frame


# `tfdrive train` ------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short DQN run through the command (JSON result, outputs in a temporary --out)."""
    import io
    from contextlib import redirect_stdout

    out = str(tmp_path_factory.mktemp("cli") / "run")
    args = ["train", "--agent", "dqn", "--steps", "1500", "--eval-every", "1000"]
    args += ["--eval-episodes", "5", "--out", out, "--quiet", "--json"]
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert cli.main(args) == 0
    return json.loads(buffer.getvalue())


def test_train_writes_a_json_result(trained):
    assert trained["agent"] == "dqn" and trained["env"] == "CartPole-v1"
    assert trained["env_steps"] >= 1500 and trained["solved"] is False
    assert trained["threshold"] == 475.0 and len(trained["history"]) >= 2
    for name in ("policy", "learning_curve", "checkpoint", "tensorboard"):
        assert trained["paths"][name].startswith(trained["out"])


def test_train_summary_says_whether_solved_and_where(trained, capsys):
    out = trained["out"]
    args = ["train", "--agent", "dqn", "--steps", "1500", "--eval-episodes", "5", "--quiet"]
    assert cli.main([*args, "--out", out]) == 0  # nothing left to train: resumes, evaluates
    text = capsys.readouterr().out
    assert "DQN on CartPole-v1 (native, 4 envs, seed 0), resumed from its checkpoint" in text
    assert "NOT SOLVED: best mean greedy return" in text and "(solved: >= 475)" in text
    assert f"outputs in {out}/" in text and f"--policy {out}/policy" in text


def test_collect_with_a_saved_policy(trained, capsys):
    policy = trained["paths"]["policy"]
    result = _collect(capsys, "--policy", policy, "--num-envs", "4", "--steps", "400")
    assert result["policy"] == policy and 400 <= result["env_steps"] < 404


def test_collect_refuses_a_policy_of_another_env(trained, capsys):
    args = ["collect", "--quiet", "--env", "Pendulum-v1", "--policy", trained["paths"]["policy"]]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "was saved for observation spec (shape [4], float32)" in err
    assert len(err.strip().splitlines()) == 1


def test_collect_policy_must_be_a_saved_model(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["collect", "--policy", str(tmp_path)])
    assert "must be ppo, random or the directory of a saved policy" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agent", "dqn", "--env", "Pendulum-v1"], "tfdrive train: error: dqn needs a discrete"),
        (["--env", "NoSuchEnv-v0"], "tfdrive train: error: 'NoSuchEnv-v0' is not a native"),
    ],
)
def test_train_user_errors_are_one_line(tmp_path, capsys, args, message):
    assert cli.main(["train", "--quiet", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agent", "sac"], "argument --agent: invalid choice: 'sac'"),
        (["--steps", "0"], "argument --steps: must be at least 1, got '0'"),
        (["--eval-episodes", "x"], "argument --eval-episodes: must be a whole number"),
    ],
)
def test_train_bad_arguments_are_named(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


# `--xla` and `--workers` --------------------------------------------------


def test_collect_with_an_xla_compiled_policy(trained, capsys):
    for policy in ("ppo", trained["paths"]["policy"]):
        result = _collect(capsys, "--xla", "--policy", policy, "--num-envs", "4", "--steps", "200")
        assert 200 <= result["env_steps"] < 204


def test_xla_needs_a_tensorflow_policy(capsys):
    assert cli.main(["collect", "--quiet", "--xla", "--policy", "random", "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert "--xla needs a TensorFlow policy" in err and len(err.strip().splitlines()) == 1


def test_train_with_xla_policies(tmp_path, capsys):
    args = ["train", "--agent", "dqn", "--steps", "600", "--eval-every", "600", "--xla"]
    args += ["--eval-episodes", "3", "--out", str(tmp_path / "run"), "--quiet", "--json"]
    assert cli.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env_steps"] >= 600 and len(result["history"]) >= 2


def test_workers_must_be_a_whole_number_at_least_0(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--workers", "-1"])
    assert "argument --workers: must be at least 0, got '-1'" in capsys.readouterr().err

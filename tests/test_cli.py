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

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
        (["--hidden", "64,x"], "--hidden must be comma-separated integers, got '64,x'"),
        (["--hidden", "0"], "--hidden must be positive integers, got '0'"),
        (["--num-envs", "0"], "must be at least 1, got 0"),
        (["--backend", "gpu"], "invalid choice: 'gpu'"),
    ],
)
def test_bad_arguments_are_named(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["collect", *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err

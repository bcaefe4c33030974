"""tfdrive.utils.tf_threads and `--tf-threads`: TensorFlow's pool sizes for collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

from tfdrive import cli  # noqa: E402
from tfdrive.utils.tf_threads import (  # noqa: E402
    SMALL_BATCH,
    TFThreads,
    collect_threads,
    parse_tf_threads,
    set_tf_threads,
)


def _fresh_python(code: str) -> str:
    """Runs `code` in a new interpreter (TensorFlow's pools are per process); its stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_parse():
    assert parse_tf_threads("0/1") == TFThreads(0, 1)
    assert parse_tf_threads("4/2") == TFThreads(intra_op=4, inter_op=2)
    assert parse_tf_threads("default") == TFThreads(0, 0)
    for text in ("2", "1/2/3", "a/1", "-1/1", ""):
        with pytest.raises(ValueError, match=f"--tf-threads must be INTRA/INTER .* got '{text}'"):
            parse_tf_threads(text)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(intra_op=-1), "intra_op must be an integer >= 0 or None, got -1"),
        (dict(inter_op=1.5), "inter_op must be an integer >= 0 or None, got 1.5"),
        (dict(inter_op=True), "inter_op must be an integer >= 0 or None, got True"),
        (dict(processes=0), "processes must be an integer >= 1, got 0"),
        (dict(processes=2, inter_op=1), "pass processes or intra_op/inter_op, not both"),
    ],
)
def test_bad_sizes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        set_tf_threads(**kwargs)


def test_sizes_apply_before_the_first_op_and_not_after():
    out = _fresh_python(
        "import os, tensorflow as tf\n"
        "from tfdrive.utils.tf_threads import set_tf_threads\n"
        "print(tuple(set_tf_threads(processes=2)) == (max(1, os.cpu_count() // 2), 1))\n"
        "print(tuple(set_tf_threads(intra_op=1, inter_op=2)))\n"
        "tf.constant(1.0) + 1.0\n"
        "print(tuple(set_tf_threads(intra_op=1, inter_op=2)))  # unchanged: allowed\n"
        "try:\n"
        "    set_tf_threads(inter_op=3)\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    lines = out.splitlines()
    assert lines[:3] == ["True", "(1, 2)", "(1, 2)"]
    assert lines[3] == (
        "set_tf_threads(inter_op=3): TensorFlow has already started with inter_op=2 and "
        "cannot resize its pools; call set_tf_threads before TensorFlow's first op"
    )


def test_collection_runs_one_intra_op_thread_below_the_large_batch_size():
    assert SMALL_BATCH == 2048
    assert collect_threads(1) == collect_threads(2047) == TFThreads(intra_op=1, inter_op=1)
    assert collect_threads(2048) == collect_threads(4096) == TFThreads(intra_op=0, inter_op=1)


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--num-envs", "4"), [1, 1]),
        (("--num-envs", "2048"), [0, 1]),
        (("--num-envs", "4", "--tf-threads", "2/3"), [2, 3]),
        (("--num-envs", "4", "--tf-threads", "default"), [0, 0]),
    ],
)
def test_collect_sets_the_pools(args, expected):
    code = (
        "import json; from tfdrive import cli\n"
        "cli.main(['collect', '--quiet', '--json', '--steps', '4096', "
        f"'--hidden', '8', *{list(args)!r}])\n"
    )
    assert json.loads(_fresh_python(code))["tf_threads"] == expected


def test_an_explicit_setting_tensorflow_can_no_longer_apply_is_a_one_line_error(capsys):
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # this process's TensorFlow runs with its pools fixed
    current = tf.config.threading.get_inter_op_parallelism_threads()
    wanted = current + 3
    assert cli.main(["collect", "--quiet", "--tf-threads", f"0/{wanted}"]) == 2
    err = capsys.readouterr().err
    assert (
        f"tfdrive collect: error: --tf-threads 0/{wanted}: set_tf_threads(inter_op={wanted})" in err
    )


def test_bad_setting_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["collect", "--tf-threads", "two"])
    assert exit_info.value.code == 2
    assert "argument --tf-threads: --tf-threads must be INTRA/INTER" in capsys.readouterr().err

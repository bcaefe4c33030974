"""Runs TF-Agents 0.19's own test modules against tfdrive and prints a table.

TF-Agents ships its test modules inside its wheel; they are tfdrive's
specification. For each module listed in `MODULES`, this script copies
``tf_agents/<path>_test.py`` out of the installed wheel into a temporary
folder, rewrites its imports, runs it with pytest (one process per module)
and reads the results back from a JUnit XML report. Nothing of TF-Agents is
committed: the test code is copied at run time.

Two settings (DEVELOPERS.md, "What drop-in means here"):

* ``a``: only the module under test is swapped to tfdrive, everything else
  stays TF-Agents' (the migration path of a TF-Agents user; TF 2.15 stack).
* ``b``: every ``tf_agents`` import that tfdrive provides is swapped
  (current TF / NumPy 2 with ``TF_USE_LEGACY_KERAS=1``).
* ``ref``: nothing is swapped: TF-Agents against itself on this stack, the
  reference for what the stack allows at all.

`expected.json` beside this file lists, per setting and module, the tests
known to fail. A test that fails and is not listed there is a regression and
makes the run exit 1; a listed test that now passes is reported so the list
can shrink.

Usage (from the repository root, with the Python of the stack to test)::

    python tests/tfa_suites/run.py --setting a [--modules networks/network ...]
        [--jobs 2] [--json OUT] [--update-expected]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED_PATH = HERE / "expected.json"

# Test module path under tf_agents/ (without `_test.py`) -> the tf_agents
# module(s) it tests, comma-separated (swapped alone in setting a).
MODULES: dict[str, str] = {
    "networks/network": "networks.network",
    "networks/utils": "networks.utils",
    "networks/sequential": "networks.sequential",
    "networks/nest_map": "networks.nest_map",
    "networks/encoding_network": "networks.encoding_network",
    "networks/mask_splitter_network": "networks.mask_splitter_network",
    "networks/actor_distribution_network": "networks.actor_distribution_network",
    "networks/actor_distribution_rnn_network": "networks.actor_distribution_rnn_network",
    "networks/value_network": "networks.value_network",
    "networks/value_rnn_network": "networks.value_rnn_network",
    "networks/categorical_projection_network": "networks.categorical_projection_network",
    "networks/normal_projection_network": "networks.normal_projection_network",
    "networks/q_network": "networks.q_network",
    "networks/q_rnn_network": "networks.q_rnn_network",
    "networks/categorical_q_network": "networks.categorical_q_network",
    "policies/tf_policy": "policies.tf_policy",
    "policies/actor_policy": "policies.actor_policy",
    "agents/ppo/ppo_policy": "agents.ppo.ppo_policy",
    "policies/random_tf_policy": "policies.random_tf_policy",
    "policies/random_py_policy": "policies.random_py_policy",
    "policies/greedy_policy": "policies.greedy_policy",
    "policies/epsilon_greedy_policy": "policies.epsilon_greedy_policy",
    "policies/q_policy": "policies.q_policy",
    "policies/boltzmann_policy": "policies.boltzmann_policy",
    "policies/gaussian_policy": "policies.gaussian_policy",
    "policies/ou_noise_policy": "policies.ou_noise_policy",
    "policies/scripted_py_policy": "policies.scripted_py_policy",
    "policies/fixed_policy": "policies.fixed_policy",
    "policies/py_tf_policy": "policies.py_tf_policy",
    "policies/tf_py_policy": "policies.tf_py_policy",
    "policies/batched_py_policy": "policies.batched_py_policy",
    "policies/py_tf_eager_policy": "policies.py_tf_eager_policy",
    "policies/policy_saver": "policies.policy_saver",
    "policies/policy_loader": "policies.policy_loader",
    "utils/common": "utils.common",
    # The numpy side (specs, time steps, trajectories, PyEnvironment, PyDriver, py metrics).
    "specs/array_spec": "specs.array_spec",
    "specs/tensor_spec": "specs.tensor_spec",
    "specs/distribution_spec": "specs.distribution_spec",
    "trajectories/time_step": "trajectories.time_step",
    "trajectories/policy_step": "trajectories.policy_step",
    "trajectories/trajectory": "trajectories.trajectory",
    "utils/nest_utils": "utils.nest_utils",
    "utils/tensor_normalizer": "utils.tensor_normalizer",
    "environments/py_environment": "environments.py_environment",
    "environments/batched_py_environment": "environments.batched_py_environment",
    "drivers/py_driver": "drivers.py_driver",
    "metrics/py_metric": "metrics.py_metric",
    "metrics/py_metrics": "metrics.py_metrics",
    # The rest of the collection path (environments, TF drivers, buffers, metrics).
    "environments/tf_environment": "environments.tf_environment",
    "environments/tf_py_environment": "environments.tf_py_environment",
    "environments/tf_wrappers": "environments.tf_wrappers",
    "environments/wrappers": "environments.wrappers",
    "environments/random_py_environment": "environments.random_py_environment",
    "environments/random_tf_environment": "environments.random_tf_environment",
    "environments/utils": "environments.utils",
    "environments/trajectory_replay": "environments.trajectory_replay",
    "environments/test_envs": "environments.test_envs",
    "environments/parallel_py_environment": "environments.parallel_py_environment",
    "environments/gym_wrapper": "environments.gym_wrapper",
    "environments/suite_gym": "environments.suite_gym",
    "drivers/dynamic_step_driver": "drivers.dynamic_step_driver",
    "drivers/dynamic_episode_driver": "drivers.dynamic_episode_driver",
    "drivers/tf_driver": "drivers.tf_driver",
    "drivers/test_utils": "drivers.test_utils",
    "replay_buffers/replay_buffer": "replay_buffers.replay_buffer",
    "replay_buffers/tf_uniform_replay_buffer": "replay_buffers.tf_uniform_replay_buffer",
    "replay_buffers/py_replay_buffers": (
        "replay_buffers.py_uniform_replay_buffer,replay_buffers.py_hashed_replay_buffer"
    ),
    "metrics/tf_metrics": "metrics.tf_metrics",
    "metrics/batched_py_metric": "metrics.batched_py_metric",
    "metrics/tf_py_metric": "metrics.tf_py_metric",
    "metrics/metric_equality": "metrics.tf_metrics,metrics.py_metrics",
    "eval/metric_utils": "eval.metric_utils",
    "train/utils/spec_utils": "train.utils.spec_utils",
    # Agents.
    "agents/tf_agent": "agents.tf_agent",
    "agents/dqn/dqn_agent": "agents.dqn.dqn_agent",
    "agents/ppo/ppo_agent": "agents.ppo.ppo_agent",
    "agents/ppo/ppo_utils": "agents.ppo.ppo_utils",
    "agents/ppo/ppo_actor_network": "agents.ppo.ppo_actor_network",
}

# absl flags (FLAGS.test_tmpdir, ...) are read by tf.test; pytest never parses
# them, so the copied suite gets a conftest that does.
CONFTEST = """\
import importlib.util
import os
import sys

from absl import flags
from absl.testing import absltest  # noqa: F401  (defines --test_srcdir)

flags.FLAGS(sys.argv[:1], known_only=True)
# test_utils.test_src_dir_path() joins test_srcdir, 'tf_agents' and a path:
# the wheel's own data files (gin configs) are found from site-packages.
_spec = importlib.util.find_spec("tf_agents")
flags.FLAGS.test_srcdir = os.path.dirname(list(_spec.submodule_search_locations)[0])
# What `multiprocessing.handle_test_main` does for a test module run as a
# script (TF-Agents' ParallelPyEnvironment needs it; pytest never runs main).
from tf_agents.system import system_multiprocessing  # noqa: E402

system_multiprocessing.enable_interactive_mode()
"""

_FROM_IMPORT = re.compile(r"^(\s*)from (tf_agents(?:\.\w+)*) import (.+)$", re.M)
_DOTTED = re.compile(r"\btf_agents((?:\.\w+)+)")


def _tfdrive_has_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec("tfdrive." + dotted) is not None
    except (ImportError, ValueError):
        return False


def _tfdrive_has_attr(package: str, name: str) -> bool:
    if _tfdrive_has_module(f"{package}.{name}" if package else name):
        return True
    try:
        module = importlib.import_module("tfdrive." + package if package else "tfdrive")
    except ImportError:
        return False
    return hasattr(module, name)


def _swap_all(package: str, names: str) -> bool:
    """Setting b: swap `from tf_agents.<package> import <names>` when tfdrive has every name."""
    parts = [p.strip() for p in names.strip("()\\ ").split(",") if p.strip()]
    return bool(parts) and all(_tfdrive_has_attr(package, p.split(" as ")[0]) for p in parts)


def rewrite(source: str, setting: str, module_under_test: str) -> str:
    """Returns the test module's source with its tf_agents imports swapped."""

    def swap_from(match: re.Match) -> str:
        indent, full, names = match.groups()
        package = full[len("tf_agents.") :] if full != "tf_agents" else ""
        if setting == "ref":
            return match.group(0)
        if setting == "a":
            first = names.split(",")[0].split(" as ")[0].strip()
            target = f"{package}.{first}" if package else first
            under_test = module_under_test.split(",")
            swap = (package in under_test or target in under_test) and "," not in names
        else:
            swap = _swap_all(package, names)
        if not swap:
            return match.group(0)
        return f"{indent}from tfdrive{full[len('tf_agents') :]} import {names}"

    source = _FROM_IMPORT.sub(swap_from, source)

    # Dotted references in strings (mock.patch targets) follow the same rule.
    def swap_dotted(match: re.Match) -> str:
        dotted = match.group(1)[1:]
        if setting == "ref":
            return match.group(0)
        if setting == "a":
            swap = any(
                dotted == module or dotted.startswith(module + ".")
                for module in module_under_test.split(",")
            )
        else:
            swap = _tfdrive_has_module(dotted.rsplit(".", 1)[0]) if "." in dotted else False
            swap = swap or _tfdrive_has_module(dotted)
        return "tfdrive" + match.group(1) if swap else match.group(0)

    lines = []
    for line in source.splitlines(keepends=True):
        if "tf_agents." in line and not line.lstrip().startswith(("from ", "import ")):
            line = _DOTTED.sub(swap_dotted, line)
        lines.append(line)
    return "".join(lines)


def tf_agents_root() -> Path:
    spec = importlib.util.find_spec("tf_agents")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("tf_agents is not installed in this Python (pip install tf-agents==0.19.0)")
    return Path(list(spec.submodule_search_locations)[0])


def run_module(name: str, setting: str, workdir: Path, timeout: float) -> dict:
    """Copies, rewrites and runs one test module; returns its results."""
    src = tf_agents_root() / f"{name}_test.py"
    folder = workdir / name.replace("/", "__")
    folder.mkdir(parents=True)
    (folder / "conftest.py").write_text(CONFTEST)
    test_file = folder / f"{Path(name).name}_test.py"
    test_file.write_text(rewrite(src.read_text(), setting, MODULES[name]))
    report = folder / "report.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(test_file),
        "-q",
        # No output capture: TF's captureWritesToStream (print-format tests)
        # redirects the real stdout itself, which pytest's capture hides.
        "-s",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(folder),
        f"--junitxml={report}",
        "-o",
        "junit_family=xunit1",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        output = f"timed out after {timeout:.0f} s\n{e.stdout or ''}"
    seconds = time.perf_counter() - start
    results: dict[str, str] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            test_id = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            if case.get("name") == "test_session":
                continue  # tf.test.TestCase's helper, which pytest collects and skips.
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped" and outcome == "passed":
                    outcome = "skipped"
            results[test_id] = outcome
    if not results:  # Collection error or crash: one synthetic failure.
        results["<module>"] = "failed"
    return {"module": name, "results": results, "seconds": seconds, "output": output}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=("a", "b", "ref"), required=True)
    parser.add_argument("--modules", nargs="*", help="subset of MODULES (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="modules run at once")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per module")
    parser.add_argument("--json", type=Path, help="write every test's outcome here")
    parser.add_argument("--show-failures", action="store_true", help="print pytest output")
    parser.add_argument(
        "--update-expected",
        action="store_true",
        help="record this run's failures as the known ones in expected.json",
    )
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"--modules: unknown {unknown}; known: {list(MODULES)}")

    expected = json.loads(EXPECTED_PATH.read_text()) if EXPECTED_PATH.exists() else {}
    known = expected.get(args.setting, {})
    workdir = Path(tempfile.mkdtemp(prefix=f"tfa_suites_{args.setting}_"))
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            runs = list(
                pool.map(
                    lambda n: run_module(n, args.setting, workdir / "first", args.timeout),
                    names,
                )
            )
        # A module with an unexpected failure runs once more, alone: a test
        # that fails only on a loaded machine (timing, memory) is not a
        # regression of tfdrive's; one that fails twice is.
        for i, run in enumerate(runs):
            allowed = set(known.get(run["module"], []))
            if any(o == "failed" and t not in allowed for t, o in run["results"].items()):
                runs[i] = run_module(run["module"], args.setting, workdir / "again", args.timeout)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    regressions, fixed = [], []
    header = f"| TF-Agents test module (setting {args.setting}) | passed | failed | skipped | % |"
    print(header + "\n|---|---|---|---|---|")
    total_passed = total = 0
    for run in runs:
        outcomes = list(run["results"].values())
        passed = outcomes.count("passed")
        failed = outcomes.count("failed")
        skipped = outcomes.count("skipped")
        count = len(outcomes)
        total_passed += passed
        total += count
        print(
            f"| {run['module']} | {passed}/{count} | {failed} | {skipped} "
            f"| {100.0 * passed / count:.0f} |"
        )
        allowed = set(known.get(run["module"], []))
        for test, outcome in run["results"].items():
            if outcome == "failed" and test not in allowed:
                regressions.append(f"{run['module']}: {test}")
            if outcome == "passed" and test in allowed:
                fixed.append(f"{run['module']}: {test}")
        if args.show_failures and failed:
            print(run["output"][-6000:])
    print(f"| all | {total_passed}/{total} | | | {100.0 * total_passed / max(total, 1):.0f} |")

    if args.json:
        args.json.write_text(json.dumps({r["module"]: r["results"] for r in runs}, indent=1))
    if args.update_expected:
        for run in runs:
            fails = sorted(t for t, o in run["results"].items() if o != "passed")
            known[run["module"]] = fails
        expected[args.setting] = dict(sorted(known.items()))
        EXPECTED_PATH.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        print(f"wrote {EXPECTED_PATH}")
        return 0
    if fixed:
        print("\nNow passing (shrink expected.json with --update-expected):")
        print("\n".join("  " + f for f in fixed))
    if regressions:
        print("\nREGRESSIONS (failing, not in expected.json):")
        print("\n".join("  " + r for r in regressions))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

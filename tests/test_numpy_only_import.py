"""tfdrive's numpy-only modules import and work with TensorFlow unavailable.

Each check runs in a fresh interpreter whose import system refuses
`tensorflow` (and its submodules), as if only numpy were installed.
"""

import subprocess
import sys
import textwrap

import pytest

BLOCKER = textwrap.dedent(
    """
    import sys

    class _NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"blocked import of {name}")
            return None

    sys.meta_path.insert(0, _NoTensorFlow())
    """
)


def _run(body):
    code = BLOCKER + textwrap.dedent(body)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_blocker_blocks_tensorflow():
    out = _run(
        """
        try:
            import tensorflow
        except ImportError as e:
            print("blocked:", e)
        """
    )
    assert out.strip() == "blocked: blocked import of tensorflow"


@pytest.mark.parametrize(
    "module",
    [
        "tfdrive",
        "tfdrive.specs",
        "tfdrive.specs.array_spec",
        "tfdrive.utils.nest",
        "tfdrive.utils.nest_utils",
        "tfdrive.trajectories",
        "tfdrive.trajectories.time_step",
        "tfdrive.trajectories.policy_step",
        "tfdrive.trajectories.trajectory",
        "tfdrive.environments",
        "tfdrive.drivers",
    ],
)
def test_module_imports_without_tensorflow(module):
    out = _run(
        f"""
        import importlib
        importlib.import_module({module!r})
        print("tensorflow" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_numpy_paths_run_without_tensorflow():
    out = _run(
        """
        import numpy as np
        from tfdrive.specs import array_spec
        from tfdrive.trajectories import policy_step, time_step as ts, trajectory
        from tfdrive.utils import nest_utils

        spec = array_spec.BoundedArraySpec((2,), np.int32, 0, 3)
        sample = array_spec.sample_spec_nest({"a": spec}, np.random.RandomState(0))
        step = ts.restart(np.zeros(2), batch_size=2)
        nxt = ts.transition(np.zeros(2), reward=np.array([1.0, 2.0]))
        act = policy_step.PolicyStep(np.zeros(2, np.int32))
        traj = trajectory.from_transition(step, act, nxt)
        batched = nest_utils.batch_nested_array({"a": np.zeros(2)})
        tts = ts.time_step_spec(array_spec.ArraySpec((2,), np.float32))
        ep = trajectory.to_transition(
            trajectory.mid(np.zeros((1, 3)), np.zeros((1, 3)), (), np.ones((1, 3)), np.ones((1, 3)))
        )
        print(sample["a"].dtype, traj.is_first().tolist(), traj.is_mid().tolist(),
              batched["a"].shape, type(tts.discount).__name__,
              type(ep.time_step.reward).__name__, "tensorflow" in sys.modules)
        """
    )
    assert out.split() == [
        "int32",
        "[True,",
        "True]",
        "[False,",
        "False]",
        "(1,",
        "2)",
        "BoundedArraySpec",
        "ndarray",
        "False",
    ]


def test_tensor_spec_needs_tensorflow():
    out = _run(
        """
        try:
            from tfdrive.specs import tensor_spec
        except ImportError as e:
            print("ImportError:", e)
        """
    )
    assert out.strip() == "ImportError: blocked import of tensorflow"

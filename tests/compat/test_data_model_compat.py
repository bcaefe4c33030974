"""Differential tests: tfdrive's data model against TF-Agents 0.19.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26):
`python -m pytest tests/compat/test_data_model_compat.py -o addopts=""`.
For the same inputs, tfdrive's helpers must return the same values, dtypes,
shapes and nest structures as TF-Agents', and raise the same exception types.
"""

import builtins
import collections
import pickle

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
from tf_agents.specs import array_spec as tfa_array_spec  # noqa: E402
from tf_agents.specs import tensor_spec as tfa_tensor_spec  # noqa: E402
from tf_agents.trajectories import policy_step as tfa_policy_step  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402
from tf_agents.trajectories import trajectory as tfa_trajectory  # noqa: E402
from tf_agents.utils import nest_utils as tfa_nest_utils  # noqa: E402

from tfdrive.specs import array_spec, tensor_spec  # noqa: E402
from tfdrive.trajectories import policy_step, trajectory  # noqa: E402
from tfdrive.trajectories import time_step as ts  # noqa: E402
from tfdrive.utils import nest_utils  # noqa: E402


def assert_same(ours, theirs):
    """Same nest structure (namedtuple names included), leaf kinds, dtypes, shapes, values."""
    tf.nest.assert_same_structure(ours, theirs)
    for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs), strict=True):
        if tf.is_tensor(b):
            assert tf.is_tensor(a), (a, b)
            assert a.dtype == b.dtype, (a, b)
            assert a.shape.as_list() == b.shape.as_list(), (a, b)
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        elif isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray), (a, b)
            assert a.dtype == b.dtype and a.shape == b.shape, (a, b)
            np.testing.assert_array_equal(a, b)
        else:
            assert type(a) is type(b), (a, b)
            assert a == b, (a, b)


def assert_same_error(ours_fn, theirs_fn, same_message=False):
    """Both raise the same exception type; tfdrive's message starts with TF-Agents' text."""
    with pytest.raises(Exception) as theirs:
        theirs_fn()
    # gin re-raises errors of configurables as dynamic subclasses: compare the
    # builtin exception type underneath.
    expected = next(c for c in theirs.type.__mro__ if getattr(builtins, c.__name__, None) is c)
    with pytest.raises(expected) as ours:
        ours_fn()
    if same_message:
        their_text = str(theirs.value).split("\n  In call to configurable")[0]
        assert str(ours.value).startswith(their_text.rstrip(".")), (ours.value, their_text)


# ------------------------------------------------------------------ array specs

ARRAY_SPEC_ARGS = [
    ((), np.int32),
    ((2, 3), np.float32),
    ([4], "uint8"),
    ((1,), np.float64),
]

BOUNDED_ARGS = [
    ((), np.int32, None, None),
    ((3,), np.float32, -1.0, [1.0, 2.0, 3.0]),
    ((2,), np.int8, 0, 5),
    ((2,), np.uint64, None, None),
    ((2, 2), np.float64, -np.inf, np.inf),
    ((), np.float16, None, 3.0),
    ((2,), np.int64, [0, 1], 7.9),
    ((2,), np.float32, 0, 1),
]


@pytest.mark.parametrize("shape, dtype", ARRAY_SPEC_ARGS)
def test_array_spec_equal_across(shape, dtype):
    ours = array_spec.ArraySpec(shape, dtype, "n")
    theirs = tfa_array_spec.ArraySpec(shape, dtype, "n")
    assert ours == theirs
    assert repr(ours) == repr(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    assert ours != tfa_array_spec.ArraySpec(shape, np.complex64)
    for value in (np.zeros(shape, dtype), np.zeros(shape, np.int16), 1, 1.0, [0]):
        assert ours.check_array(value) == theirs.check_array(value)
    assert ours == array_spec.ArraySpec.from_spec(theirs)
    assert array_spec.ArraySpec.from_array(np.zeros(shape, dtype)) == (
        tfa_array_spec.ArraySpec.from_array(np.zeros(shape, dtype))
    )


@pytest.mark.parametrize("shape, dtype, lo, hi", BOUNDED_ARGS)
def test_bounded_array_spec_equal_across(shape, dtype, lo, hi):
    ours = array_spec.BoundedArraySpec(shape, dtype, lo, hi, "b")
    theirs = tfa_array_spec.BoundedArraySpec(shape, dtype, lo, hi, "b")
    assert ours == theirs
    assert repr(ours) == repr(theirs)
    assert_same((ours.minimum, ours.maximum), (theirs.minimum, theirs.maximum))
    assert ours.minimum.flags.writeable == theirs.minimum.flags.writeable is False
    assert_same(ours.num_values, theirs.num_values)
    assert ours == array_spec.BoundedArraySpec.from_spec(theirs)
    probe = np.zeros(shape, dtype)
    assert ours.check_array(probe) == theirs.check_array(probe)
    assert ours != tfa_array_spec.ArraySpec(shape, dtype)


BAD_BOUNDED = [
    ((2,), np.int32, [0, 1, 2], 3),
    ((3,), np.int32, 0, [1, 2]),
    ((2,), np.int32, [0, 5], 3),
    ((), np.uint8, -1, 3),
    ((), np.int8, 0, 1000),
    ((), np.float32, 0.0, 1e39),
]


@pytest.mark.parametrize("args", BAD_BOUNDED, ids=range(len(BAD_BOUNDED)))
def test_bounded_array_spec_errors_match(args):
    assert_same_error(
        lambda: array_spec.BoundedArraySpec(*args),
        lambda: tfa_array_spec.BoundedArraySpec(*args),
        same_message=True,
    )


@pytest.mark.parametrize("dtype", [np.bool_, np.complex64])
def test_bounded_array_spec_non_numeric_dtype_error_type(dtype):
    assert_same_error(
        lambda: array_spec.BoundedArraySpec((2,), dtype),
        lambda: tfa_array_spec.BoundedArraySpec((2,), dtype),
    )


def test_array_spec_module_helpers_match():
    specs = {
        "f": array_spec.BoundedArraySpec((3,), np.float32, -1.0, [0.0, 1.0, 2.0]),
        "i": array_spec.BoundedArraySpec((2, 2), np.int32, 0, 9),
        "u": array_spec.ArraySpec((5,), np.uint8),
        "per": array_spec.BoundedArraySpec((3,), np.int64, [0, 10, 20], [1, 11, 21]),
        "i64": array_spec.ArraySpec((4,), np.int64),
        "f64": array_spec.ArraySpec((4,), np.float64),
    }
    their_specs = {
        k: (
            tfa_array_spec.BoundedArraySpec.from_spec(v)
            if array_spec.is_bounded(v)
            else tfa_array_spec.ArraySpec.from_spec(v)
        )
        for k, v in specs.items()
    }
    ours = array_spec.sample_spec_nest(specs, np.random.RandomState(42))
    theirs = tfa_array_spec.sample_spec_nest(their_specs, np.random.RandomState(42))
    assert_same(ours, theirs)
    unbatched_only = {k: v for k, v in specs.items() if k != "per"}
    ours = array_spec.sample_spec_nest(unbatched_only, np.random.RandomState(1), outer_dims=(3,))
    theirs = tfa_array_spec.sample_spec_nest(
        {k: their_specs[k] for k in unbatched_only}, np.random.RandomState(1), outer_dims=(3,)
    )
    assert_same(ours, theirs)
    for spec in specs.values():
        assert array_spec.is_bounded(spec) == tfa_array_spec.is_bounded(
            their_specs[next(k for k in specs if specs[k] is spec)]
        )
        assert array_spec.is_discrete(spec) == tfa_array_spec.is_discrete(spec)
        assert array_spec.is_continuous(spec) == tfa_array_spec.is_continuous(spec)
    ours = array_spec.add_outer_dims_nest(specs, (2,))
    theirs = tfa_array_spec.add_outer_dims_nest(their_specs, (2,))
    for k in specs:
        assert ours[k] == theirs[k] and repr(ours[k]) == repr(theirs[k])
    arrays = array_spec.sample_spec_nest(specs, np.random.RandomState(0))
    assert array_spec.check_arrays_nest(arrays, specs) == tfa_array_spec.check_arrays_nest(
        arrays, their_specs
    )
    arrays["i"] = arrays["i"] + 100
    assert array_spec.check_arrays_nest(arrays, specs) is False
    assert tfa_array_spec.check_arrays_nest(arrays, their_specs) is False


def test_pickled_specs_round_trip_equal_to_tf_agents():
    spec = array_spec.BoundedArraySpec((2,), np.float32, 0.0, [1.0, 2.0], "p")
    back = pickle.loads(pickle.dumps(spec))
    assert back == tfa_array_spec.BoundedArraySpec((2,), np.float32, 0.0, [1.0, 2.0])


# ----------------------------------------------------------------- tensor specs


def test_tensor_spec_types_are_shared():
    assert tensor_spec.TensorSpec is tfa_tensor_spec.TensorSpec
    assert tensor_spec.BoundedTensorSpec is tfa_tensor_spec.BoundedTensorSpec


def _array_nest(module):
    return {
        "a": module.ArraySpec((2,), np.float32, "a"),
        "b": module.BoundedArraySpec((3,), np.int32, 0, [1, 2, 3], "b"),
        "c": [module.BoundedArraySpec((), np.float64, -1.0, 1.0)],
    }


def test_from_spec_and_to_array_spec_match():
    ours = tensor_spec.from_spec(_array_nest(array_spec))
    theirs = tfa_tensor_spec.from_spec(_array_nest(tfa_array_spec))
    assert ours == theirs
    assert [type(x) for x in tf.nest.flatten(ours)] == [type(x) for x in tf.nest.flatten(theirs)]
    back_ours = tensor_spec.to_array_spec(ours)
    back_theirs = tfa_tensor_spec.to_array_spec(theirs)
    for a, b in zip(tf.nest.flatten(back_ours), tf.nest.flatten(back_theirs), strict=True):
        assert a == b and repr(a) == repr(b)
    assert_same_error(lambda: tensor_spec.from_spec([3]), lambda: tfa_tensor_spec.from_spec([3]))


def test_tensor_spec_predicates_match():
    cases = [
        tf.TensorSpec((), tf.int32),
        tf.TensorSpec((), tf.bool),
        tensor_spec.BoundedTensorSpec((), tf.float32, 0, 1),
        array_spec.ArraySpec((), np.float64),
        array_spec.BoundedArraySpec((), np.int8),
    ]
    for spec in cases:
        assert tensor_spec.is_discrete(spec) == tfa_tensor_spec.is_discrete(spec)
        assert tensor_spec.is_continuous(spec) == tfa_tensor_spec.is_continuous(spec)
        if not isinstance(spec, array_spec.ArraySpec):
            assert tensor_spec.is_bounded(spec) == tfa_tensor_spec.is_bounded(spec)


def test_add_outer_dims_and_zero_spec_nest_match():
    nest = tensor_spec.from_spec(_array_nest(array_spec))
    assert tensor_spec.add_outer_dims_nest(nest, (4, 1)) == tfa_tensor_spec.add_outer_dims_nest(
        nest, (4, 1)
    )
    assert_same(tensor_spec.zero_spec_nest(nest), tfa_tensor_spec.zero_spec_nest(nest))
    assert_same(
        tensor_spec.zero_spec_nest(nest, outer_dims=[2]),
        tfa_tensor_spec.zero_spec_nest(nest, outer_dims=[2]),
    )
    assert tensor_spec.add_outer_dim(nest, 3) == tfa_tensor_spec.add_outer_dim(nest, 3)


def test_sample_spec_nest_same_seed_same_values():
    nest = {
        "f": tensor_spec.BoundedTensorSpec((3,), tf.float32, -1.0, 1.0),
        "i": tensor_spec.BoundedTensorSpec((2,), tf.int32, [0, 10], [1, 11]),
        "u": tf.TensorSpec((4,), tf.uint8),
        "b": tf.TensorSpec((5,), tf.bool),
        "s": tf.TensorSpec((2,), tf.string),
        "open": tf.TensorSpec((3,), tf.float64),
    }
    tf.random.set_seed(11)
    ours = tensor_spec.sample_spec_nest(nest, seed=5, outer_dims=(2,))
    tf.random.set_seed(11)
    theirs = tfa_tensor_spec.sample_spec_nest(nest, seed=5, outer_dims=(2,))
    assert_same(ours, theirs)
    tf.random.set_seed(3)
    ours = tensor_spec.sample_spec_nest(
        tf.TensorSpec((50,), tf.int64), seed=1, minimum=2, maximum=6
    )
    tf.random.set_seed(3)
    theirs = tfa_tensor_spec.sample_spec_nest(
        tf.TensorSpec((50,), tf.int64), seed=1, minimum=2, maximum=6
    )
    assert_same(ours, theirs)


# ------------------------------------------------------------------ time steps


def test_step_type_matches():
    for name in ("FIRST", "MID", "LAST"):
        assert_same(getattr(ts.StepType, name), getattr(tfa_ts.StepType, name))
    assert_same(ts.StepType(1), tfa_ts.StepType(1))
    assert_same_error(lambda: ts.StepType(5), lambda: tfa_ts.StepType(5), same_message=True)


RESTART_CASES = [
    dict(observation=np.zeros(2)),
    dict(observation={"a": np.zeros((3, 2))}, batch_size=3),
    dict(observation=np.zeros(1), reward_spec={"r": array_spec.ArraySpec((2,), np.int32)}),
    dict(observation=np.zeros(1), batch_size=2, reward_spec=array_spec.ArraySpec((2,), np.float64)),
    dict(observation=tf.zeros((4, 2)), batch_size=4),
    dict(observation=tf.zeros(2)),
    dict(observation=tf.zeros((2, 1)), batch_size=2, reward_spec=tf.TensorSpec((3,), tf.float64)),
]


def _tfa_kwargs(kwargs):
    """Swaps tfdrive array specs for TF-Agents' ones in the reward spec."""
    out = dict(kwargs)
    if "reward_spec" in out:
        out["reward_spec"] = tf.nest.map_structure(
            lambda s: (
                tfa_array_spec.ArraySpec.from_spec(s) if isinstance(s, array_spec.ArraySpec) else s
            ),
            out["reward_spec"],
        )
    return out


@pytest.mark.parametrize("kwargs", RESTART_CASES, ids=range(len(RESTART_CASES)))
def test_restart_matches(kwargs):
    assert_same(ts.restart(**kwargs), tfa_ts.restart(**_tfa_kwargs(kwargs)))


STEP_CASES = [
    dict(observation=np.zeros(2), reward=3),
    dict(observation=np.zeros(2), reward=1.5, discount=0.5),
    dict(observation=np.zeros((3, 2)), reward=np.array([1.0, 2.0, 3.0])),
    dict(observation=np.zeros((3, 2)), reward=np.array([1, 2, 3]), discount=[1.0, 0.5, 0.0]),
    dict(observation=np.zeros(2), reward={"x": np.array([1, 2]), "y": np.array([3.0, 4.0])}),
    dict(observation=np.zeros(2), reward=[1, 2]),
    dict(observation=np.zeros((2, 2)), reward=np.array([1, 2]), outer_dims=[2]),
    dict(observation=tf.zeros((3, 2)), reward=tf.constant([1.0, 2.0, 3.0]), discount=0.5),
    dict(observation=tf.zeros(2), reward=tf.constant(1.0)),
    dict(observation=tf.zeros((2, 2)), reward=tf.constant([1.0, 2.0]), outer_dims=[2]),
]


@pytest.mark.parametrize("kwargs", STEP_CASES, ids=range(len(STEP_CASES)))
@pytest.mark.parametrize("name", ["transition", "truncation", "termination"])
def test_step_helpers_match(name, kwargs):
    kwargs = dict(kwargs)
    if name == "termination":
        kwargs.pop("discount", None)
    assert_same(getattr(ts, name)(**kwargs), getattr(tfa_ts, name)(**kwargs))


@pytest.mark.parametrize("bad", [None, np.nan, [1.0, None]])
@pytest.mark.parametrize("name", ["transition", "truncation", "termination"])
def test_step_helpers_bad_reward_errors_match(name, bad):
    assert_same_error(
        lambda: getattr(ts, name)(np.zeros(2), bad),
        lambda: getattr(tfa_ts, name)(np.zeros(2), bad),
        same_message=True,
    )


def test_time_step_spec_matches():
    obs = {"o": array_spec.ArraySpec((2,), np.float32)}
    ours = ts.time_step_spec(obs)
    theirs = tfa_ts.time_step_spec({"o": tfa_array_spec.ArraySpec((2,), np.float32)})
    assert type(ours) is ts.TimeStep
    assert ours._fields == theirs._fields
    for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs), strict=True):
        assert a == b and repr(a) == repr(b)
    tensor_obs = tf.TensorSpec((2,), tf.float32)
    assert tuple(ts.time_step_spec(tensor_obs)) == tuple(tfa_ts.time_step_spec(tensor_obs))
    assert tuple(ts.time_step_spec()) == tuple(tfa_ts.time_step_spec())
    assert_same_error(
        lambda: ts.time_step_spec(tensor_obs, array_spec.ArraySpec((), np.float32)),
        lambda: tfa_ts.time_step_spec(tensor_obs, tfa_array_spec.ArraySpec((), np.float32)),
    )


def test_time_steps_match_tf_agents_spec_structure():
    tfa_spec = tfa_ts.time_step_spec(
        {
            "pos": tfa_array_spec.ArraySpec((2,), np.float32),
            "v": tfa_array_spec.ArraySpec((), np.int32),
        }
    )
    obs = {"pos": np.zeros(2, np.float32), "v": np.int32(0)}
    for step in (
        ts.restart(obs),
        ts.transition(obs, 1.0),
        ts.termination(obs, 1.0),
        ts.truncation(obs, 1.0),
    ):
        tf.nest.assert_same_structure(step, tfa_spec)
        # Every leaf conforms to TF-Agents' own spec (shape, dtype, bounds).
        assert tfa_array_spec.check_arrays_nest(step, tfa_spec) is True
    tensor_spec_nest = tfa_tensor_spec.from_spec(tfa_spec)
    step = ts.restart(tf.nest.map_structure(tf.convert_to_tensor, obs))
    tf.nest.assert_same_structure(step, tensor_spec_nest)
    tfa_nest_utils.assert_matching_dtypes_and_inner_shapes(
        step, tensor_spec_nest, "t", "ts", "spec"
    )


# ----------------------------------------------------------------- policy steps


def test_policy_step_matches():
    assert policy_step.PolicyStep._fields == tfa_policy_step.PolicyStep._fields
    assert tuple(policy_step.PolicyStep()) == tuple(tfa_policy_step.PolicyStep())
    tf.nest.assert_same_structure(
        policy_step.PolicyStep(1, 2, 3), tfa_policy_step.PolicyStep(1, 2, 3)
    )
    assert policy_step.CommonFields.LOG_PROBABILITY == tfa_policy_step.CommonFields.LOG_PROBABILITY
    assert policy_step.PolicyInfo._fields == tfa_policy_step.PolicyInfo._fields
    Info = collections.namedtuple("Info", ["log_probability", "x"])
    for info in ((), None, {"a": 1}, Info(0.0, 1), [1], 5):
        ours = policy_step.set_log_probability(dict(info) if isinstance(info, dict) else info, 0.5)
        theirs = tfa_policy_step.set_log_probability(
            dict(info) if isinstance(info, dict) else info, 0.5
        )
        assert tuple(ours) == tuple(theirs) if isinstance(ours, tuple) else ours == theirs
        assert type(ours).__name__ == type(theirs).__name__
    for info in ({"log_probability": 2.0}, {}, policy_step.PolicyInfo(1.0), Info(3.0, 1), (), [1]):
        assert policy_step.get_log_probability(info, -1.0) == tfa_policy_step.get_log_probability(
            info, -1.0
        )


# ---------------------------------------------------------------- trajectories

HELPER_NAMES = ["first", "mid", "last", "single_step", "boundary"]


def _helper_inputs(kind):
    if kind == "numpy":
        return dict(
            observation={"o": np.ones((2, 3), np.float32)},
            action=np.array([1, 0]),
            policy_info={"lp": [0.1, 0.2]},
            reward=[0.5, 1.5],
            discount=np.array([1.0, 0.0], np.float32),
        )
    if kind == "scalar":
        return dict(observation=np.zeros(3), action=1, policy_info=(), reward=1.0, discount=0.99)
    return dict(
        observation=tf.zeros((2, 3)),
        action=np.array([1, 0]),
        policy_info={"lp": tf.constant([0.1, 0.2])},
        reward=tf.constant([0.5, 1.5]),
        discount=tf.constant([1.0, 0.0]),
    )


@pytest.mark.parametrize("kind", ["numpy", "scalar", "tensor"])
@pytest.mark.parametrize("name", HELPER_NAMES)
def test_trajectory_helpers_match(name, kind):
    ours = getattr(trajectory, name)(**_helper_inputs(kind))
    theirs = getattr(tfa_trajectory, name)(**_helper_inputs(kind))
    assert_same(ours, theirs)
    for predicate in ("is_first", "is_mid", "is_last", "is_boundary"):
        assert_same(getattr(ours, predicate)(), getattr(theirs, predicate)())


def test_from_transition_matches():
    step = ts.restart(np.zeros(2))
    nxt = ts.transition(np.ones(2), 1.0, 0.9)
    act = policy_step.PolicyStep(np.array(1), (), {"lp": np.array(0.1)})
    ours = trajectory.from_transition(step, act, nxt)
    theirs = tfa_trajectory.from_transition(step, act, nxt)
    assert_same(ours, theirs)
    assert all(a is b for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_from_episode_matches(kind):
    make = np.asarray if kind == "numpy" else tf.convert_to_tensor
    args = (
        make(np.zeros((4, 2), np.float32)),
        make(np.arange(4)),
        (),
        make(np.arange(4.0)),
    )
    assert_same(trajectory.from_episode(*args), tfa_trajectory.from_episode(*args))
    discount = make(np.array([1.0, 0.5, 0.5, 0.0]))
    assert_same(
        trajectory.from_episode(*args, discount=discount),
        tfa_trajectory.from_episode(*args, discount=discount),
    )
    bad = (make(np.zeros((3, 2))),) + args[1:]
    assert_same_error(
        lambda: trajectory.from_episode(*bad), lambda: tfa_trajectory.from_episode(*bad)
    )


def _bt_trajectory(make):
    return trajectory.Trajectory(
        step_type=make(np.array([[0, 1, 1], [1, 1, 2]], np.int32)),
        observation={"o": make(np.arange(12, dtype=np.float32).reshape(2, 3, 2))},
        action=make(np.arange(6).reshape(2, 3)),
        policy_info={"lp": make(np.ones((2, 3), np.float32))},
        next_step_type=make(np.array([[1, 1, 2], [1, 2, 0]], np.int32)),
        reward=make(np.arange(6, dtype=np.float32).reshape(2, 3)),
        discount=make(np.array([[1.0, 0.5, 1.0], [1.0, 1.0, 0.0]], np.float32)),
    )


def test_to_transition_matches_tensor():
    traj = _bt_trajectory(tf.convert_to_tensor)
    tfa_traj = tfa_trajectory.Trajectory(*traj)
    assert_same(trajectory.to_transition(traj), tfa_trajectory.to_transition(tfa_traj))
    nxt = tf.nest.map_structure(lambda t: t + tf.ones_like(t), traj)
    assert_same(
        trajectory.to_transition(traj, nxt),
        tfa_trajectory.to_transition(tfa_traj, tfa_trajectory.Trajectory(*nxt)),
    )


def test_to_transition_numpy_values_match():
    # TF-Agents returns tensors for the (unknown, zero) time_step reward and
    # discount even for numpy input; tfdrive keeps numpy. Values and dtypes agree.
    traj = _bt_trajectory(np.asarray)
    ours = trajectory.to_transition(traj)
    theirs = tfa_trajectory.to_transition(tfa_trajectory.Trajectory(*traj))
    to_numpy = lambda x: x.numpy() if tf.is_tensor(x) else x  # noqa: E731
    assert_same(ours, tf.nest.map_structure(to_numpy, theirs))


def test_to_n_step_transition_matches():
    traj = _bt_trajectory(tf.convert_to_tensor)
    tfa_traj = tfa_trajectory.Trajectory(*traj)
    ours = trajectory.to_n_step_transition(traj, 0.9)
    theirs = tfa_trajectory.to_n_step_transition(tfa_traj, 0.9)
    tf.nest.assert_same_structure(ours, theirs)
    for a, b in zip(tf.nest.flatten(ours), tf.nest.flatten(theirs), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_trajectories_match_tf_agents_spec_structure():
    obs_spec = {"pos": tfa_array_spec.ArraySpec((2,), np.float32)}
    act_spec = tfa_array_spec.BoundedArraySpec((), np.int32, 0, 1)
    info_spec = {"lp": tfa_array_spec.ArraySpec((), np.float32)}
    tfa_step_spec = tfa_ts.time_step_spec(obs_spec)
    tfa_traj_spec = tfa_trajectory.from_transition(
        tfa_step_spec, tfa_policy_step.PolicyStep(act_spec, (), info_spec), tfa_step_spec
    )
    obs = {"pos": np.zeros(2, np.float32)}
    traj = trajectory.from_transition(
        ts.restart(obs),
        policy_step.PolicyStep(np.int32(1), (), {"lp": np.float32(0.0)}),
        ts.transition(obs, 1.0),
    )
    tf.nest.assert_same_structure(traj, tfa_traj_spec)
    built = trajectory.first(
        obs, np.int32(1), {"lp": np.float32(0.0)}, np.float32(1.0), np.float32(1.0)
    )
    tf.nest.assert_same_structure(built, tfa_traj_spec)
    tensor_traj_spec = tfa_tensor_spec.from_spec(tfa_traj_spec)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, traj)
    tfa_nest_utils.assert_matching_dtypes_and_inner_shapes(
        tensors, tensor_traj_spec, "t", "traj", "spec"
    )
    transition = trajectory.to_transition(
        tf.nest.map_structure(lambda t: tf.expand_dims(tf.stack([t, t]), 0), tensors)
    )
    tf.nest.assert_same_structure(transition, tfa_trajectory.to_transition_spec(tensor_traj_spec))


# ------------------------------------------------------------------ nest_utils

NU_SPEC = {
    "obs": tfa_array_spec.ArraySpec((2,), np.float32),
    "n": tfa_array_spec.ArraySpec((), np.int32),
}
NU_TSPEC = tfa_tensor_spec.from_spec(NU_SPEC)


def _nu_values(*outer, make=tf.convert_to_tensor):
    return {
        "obs": make(np.arange(np.prod(outer + (2,)), dtype=np.float32).reshape(outer + (2,))),
        "n": make(np.arange(np.prod(outer), dtype=np.int32).reshape(outer)),
    }


@pytest.mark.parametrize("outer", [(), (3,), (2, 3)])
def test_nest_utils_rank_and_batch_checks_match(outer):
    values = _nu_values(*outer)
    for num in (1, 2):
        assert nest_utils.is_batched_nested_tensors(
            values, NU_TSPEC, num_outer_dims=num
        ) == tfa_nest_utils.is_batched_nested_tensors(values, NU_TSPEC, num_outer_dims=num)
    assert nest_utils.get_outer_rank(values, NU_TSPEC) == tfa_nest_utils.get_outer_rank(
        values, NU_TSPEC
    )
    assert_same(
        nest_utils.get_outer_shape(values, NU_TSPEC),
        tfa_nest_utils.get_outer_shape(values, NU_TSPEC),
    )
    arrays = _nu_values(*outer, make=np.asarray)
    assert nest_utils.get_outer_array_shape(arrays, NU_SPEC) == (
        tfa_nest_utils.get_outer_array_shape(arrays, NU_SPEC)
    )


def test_nest_utils_errors_match():
    mixed = {"obs": tf.zeros((4, 2)), "n": tf.zeros((), tf.int32)}
    assert_same_error(
        lambda: nest_utils.is_batched_nested_tensors(mixed, NU_TSPEC),
        lambda: tfa_nest_utils.is_batched_nested_tensors(mixed, NU_TSPEC),
        same_message=False,
    )
    wrong_dtype = {"obs": tf.zeros((4, 2), tf.float64), "n": tf.zeros(4, tf.int32)}
    assert_same_error(
        lambda: nest_utils.is_batched_nested_tensors(wrong_dtype, NU_TSPEC),
        lambda: tfa_nest_utils.is_batched_nested_tensors(wrong_dtype, NU_TSPEC),
    )
    assert_same_error(
        lambda: nest_utils.assert_same_structure([1], [1, 2], message="m"),
        lambda: tfa_nest_utils.assert_same_structure([1], [1, 2], message="m"),
        same_message=True,
    )


def test_nest_utils_tensor_transforms_match():
    unbatched = _nu_values()
    batched = _nu_values(4)
    assert_same(
        nest_utils.batch_nested_tensors(unbatched, NU_TSPEC),
        tfa_nest_utils.batch_nested_tensors(unbatched, NU_TSPEC),
    )
    assert_same(
        nest_utils.batch_nested_tensors(batched), tfa_nest_utils.batch_nested_tensors(batched)
    )
    assert_same(
        nest_utils.unbatch_nested_tensors(_nu_values(1), NU_TSPEC),
        tfa_nest_utils.unbatch_nested_tensors(_nu_values(1), NU_TSPEC),
    )
    assert_same(
        nest_utils.split_nested_tensors(batched, NU_TSPEC, 2),
        tfa_nest_utils.split_nested_tensors(batched, NU_TSPEC, 2),
    )
    assert_same(
        nest_utils.unstack_nested_tensors(batched, NU_TSPEC),
        tfa_nest_utils.unstack_nested_tensors(batched, NU_TSPEC),
    )
    items = tfa_nest_utils.unstack_nested_tensors(batched, NU_TSPEC)
    assert_same(nest_utils.stack_nested_tensors(items), tfa_nest_utils.stack_nested_tensors(items))
    assert_same(
        nest_utils.flatten_multi_batched_nested_tensors(_nu_values(2, 3), NU_TSPEC),
        tfa_nest_utils.flatten_multi_batched_nested_tensors(_nu_values(2, 3), NU_TSPEC),
    )
    cond = tf.constant([True, False, True, False])
    other = tf.nest.map_structure(lambda t: t * 0 - 1, batched)
    assert_same(nest_utils.where(cond, batched, other), tfa_nest_utils.where(cond, batched, other))
    assert_same(nest_utils.tile_batch(batched, 2), tfa_nest_utils.tile_batch(batched, 2))


def test_nest_utils_array_transforms_match():
    arrays = _nu_values(make=np.asarray)
    assert_same(nest_utils.batch_nested_array(arrays), tfa_nest_utils.batch_nested_array(arrays))
    one = _nu_values(1, make=np.asarray)
    assert_same(nest_utils.unbatch_nested_array(one), tfa_nest_utils.unbatch_nested_array(one))
    stacked = _nu_values(3, make=np.asarray)
    assert_same(
        nest_utils.unstack_nested_arrays(stacked), tfa_nest_utils.unstack_nested_arrays(stacked)
    )
    assert_same(
        nest_utils.unstack_nested_arrays_into_flat_items(stacked),
        tfa_nest_utils.unstack_nested_arrays_into_flat_items(stacked),
    )
    items = tfa_nest_utils.unstack_nested_arrays(stacked)
    assert_same(nest_utils.stack_nested_arrays(items), tfa_nest_utils.stack_nested_arrays(items))
    tensors = _nu_values(1)
    assert_same(
        nest_utils.unbatch_nested_tensors_to_arrays(tensors),
        tfa_nest_utils.unbatch_nested_tensors_to_arrays(tensors),
    )


def test_prune_extra_keys_matches():
    cases = [
        ([{"a": 1}], [{"a": "a", "b": "b"}]),
        ([{"c": 1}], [{"a": "a", "b": "b"}]),
        ("scalar", [1]),
        ((), [1]),
        ({"a": {"b": 1}, "d": None}, {"a": {"b": "b", "c": "c"}, "d": [1, 2]}),
        (policy_step.PolicyStep({"x": 1}), policy_step.PolicyStep({"x": 1, "y": 2})),
    ]
    for narrow, wide in cases:
        assert nest_utils.prune_extra_keys(narrow, wide) == tfa_nest_utils.prune_extra_keys(
            narrow, wide
        )


def test_tf_agents_array_specs_accepted_by_tfdrive_helpers():
    their_nest = _array_nest(tfa_array_spec)
    assert tensor_spec.from_spec(their_nest) == tfa_tensor_spec.from_spec(their_nest)
    converted = tensor_spec.to_array_spec(their_nest)
    for ours, theirs in zip(tf.nest.flatten(converted), tf.nest.flatten(their_nest), strict=True):
        assert type(ours).__module__ == "tfdrive.specs.array_spec"
        assert ours == theirs and ours.name == theirs.name
    reward_spec = {"r": tfa_array_spec.ArraySpec((2,), np.int32)}
    assert_same(
        ts.restart(np.zeros(1), reward_spec=reward_spec),
        tfa_ts.restart(np.zeros(1), reward_spec=reward_spec),
    )

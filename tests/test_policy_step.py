"""Tests of tfdrive.trajectories.policy_step."""

import collections

import numpy as np
import pytest

from tfdrive.trajectories import policy_step
from tfdrive.trajectories.policy_step import CommonFields, PolicyInfo, PolicyStep


def test_policy_step_fields_and_defaults():
    assert PolicyStep._fields == ("action", "state", "info")
    assert PolicyStep() == ((), (), ())
    step = PolicyStep(np.int64(1))
    assert step.action == 1 and step.state == () and step.info == ()
    assert PolicyStep(1, info={"x": 2}).info == {"x": 2}
    assert isinstance(step, tuple)


def test_policy_step_replace():
    step = PolicyStep(1, 2, 3)
    assert step.replace(action=()) == PolicyStep((), 2, 3)
    assert type(step.replace(state=5)) is PolicyStep
    with pytest.raises(ValueError, match="Got unexpected field names"):
        step.replace(bogus=1)


def test_common_fields_and_policy_info():
    assert CommonFields.LOG_PROBABILITY == "log_probability"
    assert PolicyInfo._fields == ("log_probability",)
    assert PolicyInfo(0.5).log_probability == 0.5


def test_set_log_probability_empty_or_none():
    for info in ((), None):
        out = policy_step.set_log_probability(info, 0.25)
        assert type(out) is PolicyInfo and out.log_probability == 0.25


def test_set_log_probability_dict_in_place():
    info = {"a": 1}
    out = policy_step.set_log_probability(info, -1.0)
    assert out is info and info == {"a": 1, "log_probability": -1.0}


def test_set_log_probability_namedtuple_replace():
    Info = collections.namedtuple("Info", ["log_probability", "other"])
    info = Info(0.0, 7)
    out = policy_step.set_log_probability(info, 3.0)
    assert out == Info(3.0, 7) and info == Info(0.0, 7)
    Missing = collections.namedtuple("Missing", ["other"])
    with pytest.raises(ValueError, match=r"Got unexpected field names: \['log_probability'\]"):
        policy_step.set_log_probability(Missing(1), 3.0)


def test_set_log_probability_other_unchanged():
    info = [1, 2]
    assert policy_step.set_log_probability(info, 3.0) is info
    assert policy_step.set_log_probability(5, 3.0) == 5


def test_get_log_probability():
    assert policy_step.get_log_probability({"log_probability": 2.0}) == 2.0
    assert policy_step.get_log_probability({}, 9.0) == 9.0
    assert policy_step.get_log_probability(PolicyInfo(1.5)) == 1.5
    Other = collections.namedtuple("Other", ["x"])
    assert policy_step.get_log_probability(Other(1), -4.0) == -4.0
    assert policy_step.get_log_probability((), 1.0) is None
    assert policy_step.get_log_probability([1], 1.0) is None

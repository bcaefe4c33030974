"""`PolicyStep`: what a policy returns, and the log-probability info helpers."""

import collections
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

__all__ = [
    "CommonFields",
    "PolicyInfo",
    "PolicyStep",
    "get_log_probability",
    "set_log_probability",
]


class PolicyStep(NamedTuple("PolicyStep", [("action", Any), ("state", Any), ("info", Any)])):
    """The output of `policy.action()` / `policy.distribution()`.

    Attributes:
      action: the action (arrays or tensors, a nest), or a distribution from
        `policy.distribution()`. Default `()`.
      state: the policy state to feed to the next call (e.g. an RNN state);
        `()` for stateless policies. Default `()`.
      info: auxiliary outputs (e.g. log-probabilities); `()` when none.
        Default `()`.
    """

    __slots__ = ()

    if TYPE_CHECKING:  # The defaults are set below, after the class is made.

        def __new__(cls, action: Any = (), state: Any = (), info: Any = ()) -> "PolicyStep": ...

    def replace(self, **kwargs):
        """`_replace` under a public name: a copy with the given fields changed."""
        return self._replace(**kwargs)


# Every field defaults to the empty tuple.
PolicyStep.__new__.__defaults__ = ((),) * len(PolicyStep._fields)


class CommonFields:
    """Well-known keys/attributes of `PolicyStep.info`."""

    LOG_PROBABILITY = "log_probability"


# A ready-made info namedtuple with just the log-probability field.
PolicyInfo = collections.namedtuple("PolicyInfo", ("log_probability",))


def _set_field(obj, key, value):
    if isinstance(obj, Mapping):
        obj[key] = value
        return obj
    if getattr(obj, "_fields", None) is not None:
        return obj._replace(**{key: value})
    return obj


def _get_field(obj, key, default_value):
    if isinstance(obj, Mapping):
        return obj.get(key, default_value)
    if getattr(obj, "_fields", None) is not None:
        return getattr(obj, key, default_value)
    return None


def set_log_probability(info, log_probability):
    """Stores `log_probability` in a policy info.

    `()` or None gives `PolicyInfo(log_probability)`; a mapping is updated in
    place and returned; a namedtuple is copied with `_replace` (it must have a
    `log_probability` field); anything else is returned unchanged.
    """
    if info in ((), None):
        return PolicyInfo(log_probability=log_probability)
    return _set_field(info, CommonFields.LOG_PROBABILITY, log_probability)


def get_log_probability(info, default_log_probability=None):
    """Reads `log_probability` from a mapping or namedtuple info.

    Returns `default_log_probability` when the key/field is absent, and None
    for infos that are neither mappings nor namedtuples.
    """
    return _get_field(info, CommonFields.LOG_PROBABILITY, default_log_probability)

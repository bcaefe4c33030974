"""The base-class member check of TF-Agents' policies and environments (numpy only).

TF-Agents' base classes (`PyPolicy`, `TFPolicy`, ...) forbid subclasses to
redefine their public members: subclasses customise behaviour through the
private hooks (``_action``, ``_step``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["assert_members_are_not_overridden"]


def assert_members_are_not_overridden(
    base_cls: type, instance: Any, allowlist: Sequence[str] = (), denylist: Sequence[str] = ()
) -> None:
    """Raises `ValueError` if ``type(instance)`` redefines public members of `base_cls`.

    Only the instance's own class is inspected (not the classes between it
    and `base_cls`), as in TF-Agents. With an `allowlist`, the members it
    names may be overridden; with a `denylist`, only the members it names are
    protected.

    Raises:
      ValueError: both lists are given, or a protected member is overridden
        (the message lists them, sorted).
    """
    if allowlist and denylist:
        raise ValueError("Both `denylist` and `allowlist` cannot be provided.")
    instance_type = type(instance)
    base_members, own_members = vars(base_cls), vars(instance_type)
    protected = {m for m in base_members if not m.startswith("_")} & set(own_members)
    if allowlist:
        protected -= set(allowlist)
    elif denylist:
        protected &= set(denylist)
    overridden = sorted(m for m in protected if base_members[m] != own_members[m])
    if overridden:
        raise ValueError(
            f"Subclasses of {base_cls} cannot override most of its base members, but "
            f"{instance_type} overrides: {overridden}"
        )

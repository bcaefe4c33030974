"""Checks that a target network is a faithful, unshared copy of its network.

Networks are anything with TF-Agents' `Network` attributes (`variables`,
`trainable_variables`, `input_tensor_spec`, `name`, and for copying `copy` and
`create_variables`). Re-exported by `tfdrive.utils.common` under TF-Agents'
names.
"""

from __future__ import annotations

from typing import Any, Iterable

from tensorflow.python.util.object_identity import ObjectIdentitySet

__all__ = [
    "check_matching_networks",
    "check_no_shared_variables",
    "deduped_network_variables",
    "extract_shared_variables",
    "maybe_copy_target_network_with_checks",
]


def extract_shared_variables(
    variables_1: Iterable[Any], variables_2: Iterable[Any]
) -> tuple[ObjectIdentitySet, ObjectIdentitySet, ObjectIdentitySet]:
    """Splits two variable collections by identity.

    Returns:
      ``(only_in_1, only_in_2, in_both)`` as `ObjectIdentitySet`s.
    """
    set_1, set_2 = ObjectIdentitySet(variables_1), ObjectIdentitySet(variables_2)
    # Built by membership so that all three hold the variables themselves.
    return (
        ObjectIdentitySet([v for v in set_1 if v not in set_2]),
        ObjectIdentitySet([v for v in set_2 if v not in set_1]),
        ObjectIdentitySet([v for v in set_1 if v in set_2]),
    )


def check_no_shared_variables(network_1: Any, network_2: Any) -> None:
    """Raises `ValueError` if the two (built) networks share a trainable variable."""
    shared = ObjectIdentitySet(network_1.trainable_variables) & ObjectIdentitySet(
        network_2.trainable_variables
    )
    if shared:
        raise ValueError(
            f"After making a copy of network '{network_1.name}' to create a target network "
            f"'{network_2.name}', the target network shares weights with the original network.  "
            "This is not allowed.  If you want explicitly share weights with the target "
            "network, or if your input network shares weights with others, please provide a "
            "target network which explicitly, selectively, shares layers/weights with the "
            "input network.  If you are not intending to share weights make sure all the "
            "weights are created inside the Network since a copy will be created by creating "
            "a new Network with the same args but a new name. Shared variables found: "
            f"'{[v.name for v in shared]}'."
        )


def check_matching_networks(network_1: Any, network_2: Any) -> None:
    """Raises `ValueError` unless the (built) networks have equal input specs and like variables.

    Variables must match in number and, pairwise in order, in dtype and shape.
    """
    if network_1.input_tensor_spec != network_2.input_tensor_spec:
        raise ValueError(
            "Input tensor specs of network and target network do not match: "
            f"{network_1.input_tensor_spec} vs. {network_2.input_tensor_spec}."
        )
    variables_1, variables_2 = network_1.variables, network_2.variables
    if len(variables_1) != len(variables_2):
        raise ValueError(
            "Variables lengths do not match between Q network and target network: "
            f"{variables_1} vs. {variables_2}"
        )
    for v1, v2 in zip(variables_1, variables_2):
        if v1.dtype != v2.dtype or v1.shape != v2.shape:
            raise ValueError(f"Variable dtypes or shapes do not match: {v1} vs. {v2}")


def maybe_copy_target_network_with_checks(
    network: Any, target_network: Any = None, name: str | None = None, input_spec: Any = None
) -> Any:
    """Returns `target_network`, or a fresh copy of `network` named `name`, after checking it.

    A copy gets its variables created with `input_spec`. Either way the target
    must share no trainable variable with `network` (a shallow copy would) and
    match its input spec and variables.

    Raises:
      ValueError: shared or mismatching variables, or different input specs.
    """
    if target_network is None:
        target_network = network.copy(name=name)
        target_network.create_variables(input_spec)
    check_no_shared_variables(network, target_network)
    check_matching_networks(network, target_network)
    return target_network


def deduped_network_variables(network: Any, *args: Any) -> list[Any]:
    """`network.variables` minus (by identity) any variable of the other networks in `args`."""
    others = ObjectIdentitySet(v for other in args for v in other.variables)
    return [v for v in network.variables if v not in others]

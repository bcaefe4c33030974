"""Joining a Ray cluster, or starting a local Ray instance, for the collector.

    connect()                       # a local Ray instance on this machine
    connect("10.0.0.1:6379")        # the cluster whose head runs there

A cluster is started outside Python: `ray start --head --port=6379` on the
head machine, then `ray start --address=HEAD_IP:6379` on every other one
(each with tfdrive installed in the same Python environment; see
docs/distributed.md).
"""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["check_address", "connect", "import_ray"]


def import_ray() -> Any:
    """The `ray` module, or ImportError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            "tfdrive.distributed needs Ray: pip install 'tfdrive[ray]' (or pip install ray)"
        ) from error
    return ray


def _host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(
            f"ray_address must be HOST:PORT of a Ray head (e.g. 10.0.0.1:6379), 'auto', "
            f"or None for a local instance; got {address!r}"
        )
    return host, int(port)


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    timeout_s: float = 10.0,
) -> Any:
    """Initialises Ray in this process, unless it already is; returns the `ray` module.

    Already initialised: kept as it is (an `address` must name the same
    cluster).

    Args:
      address: None: start a local Ray instance (`num_cpus`, and
        `object_store_memory` bytes of shared memory for batches and
        weights; Ray's defaults when None). `"HOST:PORT"`: join the running
        cluster whose head listens there (checked first: an address that
        does not answer raises instead of waiting). `"auto"`: the cluster
        `ray start` started on this machine.
      num_cpus, object_store_memory: for a local instance only.
      timeout_s: how long to wait for the head to accept a connection.

    Raises:
      ImportError: Ray is not installed.
      ValueError: `address` is not HOST:PORT, "auto" or None; or this
        process is already connected to another cluster.
      ConnectionError: nothing answers at `address` within `timeout_s`.
    """
    ray = import_ray()
    if ray.is_initialized():
        joined = ray.get_runtime_context().gcs_address
        if address not in (None, "auto", joined):
            raise ValueError(
                f"Ray is already initialised in this process, on the cluster at {joined}; "
                f"ray_address={address!r} cannot be joined as well (ray.shutdown() first)"
            )
        return ray
    if address is None:
        ray.init(
            num_cpus=num_cpus,
            object_store_memory=object_store_memory,
            include_dashboard=False,
        )
        return ray
    if address != "auto":
        check_address(address, timeout_s)
    ray.init(address=address)
    return ray


def check_address(address: str, timeout_s: float = 10.0) -> None:
    """Raises unless a Ray head accepts connections at `address` ("HOST:PORT").

    Raises:
      ValueError: `address` is not HOST:PORT.
      ConnectionError: nothing answers there within `timeout_s`.
    """
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as error:
        raise ConnectionError(
            f"no Ray head answers at ray_address {address!r} ({error}); start one there "
            f"with `ray start --head --port={port}`"
        ) from None

"""TensorFlow's thread pools for collection: `set_tf_threads` and the `--tf-threads` setting.

TensorFlow sizes two pools at its first op and never again: intra-op threads
(one op split across cores) and inter-op threads (independent ops at once).
Its default sizes both to every core. For collection that default is not
the best measured (docs/xla.md, `benches/bench_xla.py --only threads`): a
policy call on a small batch is a few dozen microseconds of arithmetic, and
handing it to a pool of threads costs more than it saves.

tfdrive never changes the pools on import (a TF-Agents program's own
settings must win); `tfdrive collect` applies `collect_threads(num_envs)`
before it builds its policy, and library users call `set_tf_threads`
themselves, before TensorFlow's first op.
"""

from __future__ import annotations

import os
from typing import NamedTuple

__all__ = ["SMALL_BATCH", "TFThreads", "collect_threads", "parse_tf_threads", "set_tf_threads"]


class TFThreads(NamedTuple):
    """Pool sizes; 0 leaves that pool to TensorFlow (one thread per core)."""

    intra_op: int
    inter_op: int


#: Below this many envs per policy call, collection runs one intra-op thread.
SMALL_BATCH = 2048


def collect_threads(num_envs: int) -> TFThreads:
    """The pool sizes `tfdrive collect` uses for a policy called on `num_envs` envs.

    One inter-op thread always; one intra-op thread below `SMALL_BATCH`
    envs, TensorFlow's choice from there. Measured on 2 cores, TF 2.21
    (docs/xla.md): splitting a small batch across the intra-op pool costs
    more than it saves, most of all with XLA (1/1 against TensorFlow's
    0/0: XLA 1.4-1.9x env steps/s at 64-1024 envs, the plain graph level
    within 0.9-1.1x), while at 4096 envs XLA needs the pool (1/1: 0.91x).
    """
    return TFThreads(intra_op=1 if num_envs < SMALL_BATCH else 0, inter_op=1)


def parse_tf_threads(text: str) -> TFThreads:
    """`INTRA/INTER` (e.g. `0/1`; 0 = TensorFlow's choice) or `default` (TensorFlow's 0/0).

    Raises:
      ValueError: anything else, naming the text.
    """
    if text == "default":
        return TFThreads(0, 0)
    parts = text.split("/")
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        return TFThreads(int(parts[0]), int(parts[1]))
    raise ValueError(
        f"--tf-threads must be INTRA/INTER (whole numbers, 0 = TensorFlow's choice, e.g. 0/1) "
        f"or 'default', got {text!r}"
    )


def set_tf_threads(
    intra_op: int | None = None, inter_op: int | None = None, processes: int | None = None
) -> TFThreads:
    """Sizes TensorFlow's thread pools; call it before TensorFlow runs its first op.

    Args:
      intra_op: threads that split one op; 0 = TensorFlow's choice; None =
        leave as is.
      inter_op: threads that run independent ops at once; same values.
      processes: instead of the two sizes, the number of TensorFlow
        processes sharing this machine (e.g. distributed collectors, one
        policy each): intra-op `max(1, cores // processes)`, inter-op 1, so
        the processes do not oversubscribe the cores.

    Returns:
      The pool sizes in effect afterwards (0 where TensorFlow chooses).

    Raises:
      ValueError: a negative size, or `processes` together with a size.
      RuntimeError: TensorFlow has already started with other sizes (its
        pools cannot change then); the message names this call.
    """
    import tensorflow as tf

    if processes is not None:
        if intra_op is not None or inter_op is not None:
            raise ValueError("set_tf_threads: pass processes or intra_op/inter_op, not both")
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError(
                f"set_tf_threads: processes must be an integer >= 1, got {processes!r}"
            )
        intra_op, inter_op = max(1, (os.cpu_count() or 1) // processes), 1
    for name, value in (("intra_op", intra_op), ("inter_op", inter_op)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ValueError(
                f"set_tf_threads: {name} must be an integer >= 0 or None, got {value!r}"
            )
    threading = tf.config.threading
    for value, getter, setter, name in (
        (intra_op, threading.get_intra_op_parallelism_threads,
         threading.set_intra_op_parallelism_threads, "intra_op"),
        (inter_op, threading.get_inter_op_parallelism_threads,
         threading.set_inter_op_parallelism_threads, "inter_op"),
    ):  # fmt: skip
        if value is None or getter() == value:
            continue
        try:
            setter(value)
        except RuntimeError as error:
            raise RuntimeError(
                f"set_tf_threads({name}={value}): TensorFlow has already started with "
                f"{name}={getter()} and cannot resize its pools; call set_tf_threads before "
                f"TensorFlow's first op"
            ) from error
    return TFThreads(
        threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    )

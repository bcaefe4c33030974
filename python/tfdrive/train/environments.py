"""The batched environments the train loop collects and evaluates on.

`make(name, num_envs, backend, seed)` returns one batched `PyEnvironment` of
`num_envs` sub-environments: tfdrive's native Rust envs (`backend="native"`,
always batched) or Gymnasium envs through `suite_gymnasium`, batched by
tfdrive's `BatchedPyEnvironment` (`backend="gymnasium"`). Sub-environment `i`
is seeded from `seed + i` (Gymnasium) or `(seed, i)` (native).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BACKENDS", "make"]

#: Where environments come from.
BACKENDS = ("native", "gymnasium")


def make(
    name: str, num_envs: int, backend: str = "native", seed: int = 0, clip_actions: bool = False
) -> Any:
    """A batched PyEnvironment of `num_envs` copies of env id `name`.

    Args:
      clip_actions: clip continuous actions to the action spec's bounds
        before stepping (`ActionClipWrapper`): a Gaussian policy samples
        beyond them, and the native envs reject out-of-bounds actions. The
        trajectories keep the unclipped actions, whose log-probabilities PPO
        needs.

    Raises:
      ValueError: an unknown backend, or a name that is not a native env
        with `backend="native"` (the message suggests the Gymnasium backend).
    """
    if backend == "native":
        from tfdrive.environments import native

        if name not in native.NAMES:
            raise ValueError(
                f"{name!r} is not a native environment (native: {', '.join(native.NAMES)}); "
                "for a Gymnasium environment use --backend gymnasium"
            )
        return _clipped(native.make(name, num_envs, seed=seed), clip_actions)
    if backend != "gymnasium":
        raise ValueError(f"unknown backend {backend!r}; expected one of: {', '.join(BACKENDS)}")
    from tfdrive.environments import batched_py_environment, suite_gymnasium

    envs = [suite_gymnasium.load(name) for _ in range(num_envs)]
    for i, env in enumerate(envs):
        env.seed(seed + i)
    # Batched even for one env: the loop always works on [B, ...] arrays.
    return _clipped(batched_py_environment.BatchedPyEnvironment(envs), clip_actions)


def _clipped(env: Any, clip_actions: bool) -> Any:
    import numpy as np

    if not clip_actions or not np.issubdtype(env.action_spec().dtype, np.floating):
        return env
    from tfdrive.environments import wrappers

    return wrappers.ActionClipWrapper(env)

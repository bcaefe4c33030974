"""Gradient helpers for agents' train steps (from TF-Agents' `utils.eager_utils`).

Gradients and variables travel as lists of `(gradient, variable)` pairs, as
optimizers' `apply_gradients` takes them; a gradient may be None (the variable
did not affect the loss) or a `tf.IndexedSlices` (sparse updates).
"""

from __future__ import annotations

from typing import Any, Callable

import tensorflow as tf
from absl import logging

from tfdrive.utils.summaries import histogram, scalar, summaries_recorded

__all__ = [
    "add_gradients_summaries",
    "add_variables_summaries",
    "clip_gradient_norms",
    "clip_gradient_norms_fn",
    "summaries_recorded",
]

GradsAndVars = list[tuple[Any, Any]]


def _dense_values(x: Any) -> Any:
    return x.values if isinstance(x, tf.IndexedSlices) else x


def _summary_name(var: Any) -> str:
    return var.name.replace(":", "_")


def _summarize(name: str, values: Any, step: Any) -> None:
    """A histogram of `values` and a scalar of their global norm."""
    histogram(name, values, step)
    scalar(name + "_norm", tf.linalg.global_norm([values]), step)


def add_variables_summaries(grads_and_vars: GradsAndVars, step: Any) -> None:
    """Writes `<var>_value` histograms and `<var>_value_norm` scalars at `step`."""
    if not summaries_recorded():
        return
    with tf.name_scope("summarize_vars"):
        for _, var in grads_and_vars:
            _summarize(_summary_name(var) + "_value", _dense_values(var), step)


def add_gradients_summaries(grads_and_vars: GradsAndVars, step: Any) -> None:
    """Writes `<var>_gradient` histograms and `<var>_gradient_norm` scalars at `step`.

    Variables without a gradient are logged, not summarized.
    """
    if not summaries_recorded():
        return
    with tf.name_scope("summarize_grads"):
        for grad, var in grads_and_vars:
            if grad is None:
                logging.info("Var %s has no gradient", var.name)
                continue
            _summarize(_summary_name(var) + "_gradient", _dense_values(grad), step)


def clip_gradient_norms(gradients_to_variables: GradsAndVars, max_norm: Any) -> GradsAndVars:
    """Clips each gradient to L2 norm `max_norm` (`tf.clip_by_norm`, per tensor).

    Args:
      gradients_to_variables: list of `(gradient, variable)` pairs; None
        gradients pass through, `IndexedSlices` keep their indices.
      max_norm: the maximum norm, a positive scalar.

    Returns:
      The list of `(clipped_gradient, variable)` pairs.
    """
    clipped = []
    for grad, var in gradients_to_variables:
        if isinstance(grad, tf.IndexedSlices):
            grad = tf.IndexedSlices(
                tf.clip_by_norm(grad.values, max_norm), grad.indices, grad.dense_shape
            )
        elif grad is not None:
            grad = tf.clip_by_norm(grad, max_norm)
        clipped.append((grad, var))
    return clipped


def clip_gradient_norms_fn(max_norm: Any) -> Callable[[GradsAndVars], GradsAndVars]:
    """A `transform_grads_fn` that applies `clip_gradient_norms` with `max_norm`."""
    return lambda gradients_to_variables: clip_gradient_norms(gradients_to_variables, max_norm)

"""Evaluating a policy with metrics (TF-Agents' `eval.metric_utils`).

`compute` runs a Python policy in a Python env with tfdrive's `PyDriver`;
`eager_compute` runs a TF policy in a TF env with `DynamicEpisodeDriver`.
Both reset the metrics first and return `{metric name: result}`.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

import tensorflow as tf

from tfdrive._gin import configurable
from tfdrive.drivers import dynamic_episode_driver, py_driver
from tfdrive.metrics import py_metric
from tfdrive.utils import common


class MetricsGroup(tf.Module):
    """A named list of metrics whose `results()` come as one ordered dict."""

    def __init__(self, metrics: list, name: str | None = None):
        super().__init__(name=name)
        self.metrics = metrics

    def results(self) -> collections.OrderedDict:
        return collections.OrderedDict((m.name, m.result()) for m in self.metrics)


def log_metrics(metrics: Any, prefix: str = "") -> None:
    """Logs `name = result` of every metric at INFO level, under `prefix`."""
    lines = [f"{m.name} = {m.result()}" for m in metrics]
    logging.info("%s \n\t\t %s", prefix, "\n\t\t ".join(lines))


def _reset(metrics: Any) -> None:
    for metric in metrics:
        metric.reset()


def _results(metrics: Any) -> collections.OrderedDict:
    return collections.OrderedDict((m.name, m.result()) for m in metrics)


@configurable
def compute(metrics: Any, environment: Any, policy: Any, num_episodes: int = 1) -> Any:
    """Runs `policy` in `environment` for `num_episodes` episodes; returns the metrics' results.

    Args:
      metrics: py metrics (observers of trajectories); reset first.
      environment: a Python environment (reset first).
      policy: a Python policy (a TF policy works in eager mode).
      num_episodes: the episodes to run, summed over a batched env.

    Returns:
      An `OrderedDict` `{metric.name: metric.result()}`.
    """
    _reset(metrics)
    time_step = environment.reset()
    policy_state = policy.get_initial_state(environment.batch_size)
    driver = py_driver.PyDriver(
        environment, policy, observers=metrics, max_steps=None, max_episodes=num_episodes
    )
    driver.run(time_step, policy_state)
    return _results(metrics)


@configurable
def compute_summaries(
    metrics: Any,
    environment: Any,
    policy: Any,
    num_episodes: int = 1,
    global_step: Any = None,
    tf_summaries: bool = True,
    log: bool = False,
    callback: Any = None,
) -> Any:
    """`compute`, then (optionally) TF1 summaries, logging and `callback(results, global_step)`.

    `tf_summaries=True` runs the metrics' summary ops (built with
    `metric.tf_summaries()`) in the default session, as TF-Agents does.
    """
    results = compute(metrics, environment, policy, num_episodes)
    if tf_summaries:
        py_metric.run_summaries(metrics)
    if log:
        log_metrics(metrics, prefix=f"Step = {global_step}")
    if callback is not None:
        callback(results, global_step)
    return results


@configurable
def eager_compute(
    metrics: Any,
    environment: Any,
    policy: Any,
    num_episodes: int = 1,
    train_step: Any = None,
    summary_writer: Any = None,
    summary_prefix: str = "",
    use_function: bool = True,
) -> Any:
    """Runs a TF `policy` in a TF `environment` for `num_episodes`; returns the results.

    Args:
      metrics: TF metrics (reset first).
      environment: a TF environment (reset first).
      policy: a TF policy.
      num_episodes: the episodes to run, summed over a batched env.
      train_step: with `summary_writer`, write each result as a scalar
        summary `summary_prefix/name` at this step.
      summary_writer: a `tf.summary` writer.
      summary_prefix: the summary tag prefix.
      use_function: run the driver inside a `tf.function`.

    Returns:
      An `OrderedDict` `{metric.name: metric.result()}`.
    """
    _reset(metrics)
    time_step = environment.reset()
    policy_state = policy.get_initial_state(environment.batch_size)
    driver = dynamic_episode_driver.DynamicEpisodeDriver(
        environment, policy, observers=metrics, num_episodes=num_episodes
    )
    run = common.function(driver.run) if use_function else driver.run
    run(time_step, policy_state)
    results = _results(metrics)
    if train_step is not None and summary_writer:
        from tfdrive.metrics import tf_metric

        with summary_writer.as_default():
            for metric in metrics:
                tag = common.join_scope(summary_prefix, metric.name)
                tf_metric._summary("scalar", tag, metric.result(), train_step)
    return results

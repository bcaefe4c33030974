"""Metrics (`tf_agents.metrics`): episode statistics as driver observers.

`py_metrics` (native Rust episode metrics), `py_metric`, `batched_py_metric`,
`tf_metric`, `tf_metrics` (state in TF variables), `tf_py_metric`. Submodules
load lazily; `py_metric` and `py_metrics` work without TensorFlow (with it,
py metrics are `tf.Module`s and can be checkpointed).
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(__name__, __path__, {})

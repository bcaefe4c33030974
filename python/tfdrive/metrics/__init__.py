"""Metrics: episode statistics as driver observers (numpy-only imports)."""

from tfdrive.metrics import py_metric, py_metrics

__all__ = ["py_metric", "py_metrics"]

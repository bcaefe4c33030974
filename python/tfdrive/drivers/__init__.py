"""Drivers: run a policy in an environment and feed observers.

Numpy-only: importing this package does not import TensorFlow.
"""

from tfdrive.drivers import driver, py_driver

__all__ = ["driver", "py_driver"]

"""Drivers: run a policy in an environment and feed observers.

Numpy-only: importing this package does not import TensorFlow. `driver` and
`py_driver` are imported with it; the TF drivers (`dynamic_step_driver`,
`dynamic_episode_driver`, `tf_driver`) load on first access.
"""

from tfdrive._lazy import lazy_namespace
from tfdrive.drivers import driver as driver
from tfdrive.drivers import py_driver as py_driver

__all__, __getattr__, __dir__ = lazy_namespace(__name__, __path__, {})

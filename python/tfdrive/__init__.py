"""tfdrive: TF-Agents-compatible experience collection with a Rust core.

Swap ``from tf_agents.X import Y`` for ``from tfdrive.X import Y``. Importing
``tfdrive`` needs only numpy; TensorFlow is imported by the modules that use it.
"""

from tfdrive._core import __version__

__all__ = ["__version__"]

"""`tf_agents.train.utils`'s modules; submodules load lazily (they import TensorFlow)."""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(__name__, __path__, {})

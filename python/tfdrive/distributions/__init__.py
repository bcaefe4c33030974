"""Distributions (``tf_agents.distributions``) used by tfdrive's policies.

Submodules load lazily (see `tfdrive._lazy`): ``tfdrive.distributions.masked``
imports TensorFlow Probability only when first named.
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "MaskedCategorical": "masked",
        "ShiftedCategorical": "shifted_categorical",
    },
)

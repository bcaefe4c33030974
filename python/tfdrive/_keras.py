"""The Keras 2 that TF-Agents' networks are built on.

TF-Agents subclasses Keras 2 layers. On TF 2.15 ``tf.keras`` is Keras 2; on
TF >= 2.16 it is Keras 3 unless ``TF_USE_LEGACY_KERAS=1``, and Keras 2 lives
in the `tf_keras` package. ``keras`` here is always Keras 2, so tfdrive's
networks are Keras 2 layers whichever TensorFlow is installed.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["keras", "is_keras3_object"]


def _keras2():
    major, minor = (int(x) for x in tf.__version__.split(".")[:2])
    if (major, minor) < (2, 16):
        return tf.keras
    try:
        import tf_keras
    except ImportError as e:  # pragma: no cover - tf-keras is a dependency.
        raise ImportError(
            "tfdrive's networks are Keras 2 layers; on TensorFlow >= 2.16 install "
            "`tf-keras` (pip install tf-keras)."
        ) from e
    return tf_keras


keras = _keras2()


def is_keras3_object(obj: object) -> bool:
    """True for a Keras 3 layer or model (one that a Keras 2 layer cannot track)."""
    if not keras.__name__.startswith("tf_keras"):  # TF 2.15: `keras` is Keras 2.
        return False
    return (type(obj).__module__ or "").split(".")[0] == "keras"

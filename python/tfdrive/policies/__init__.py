"""Policies (``tf_agents.policies``): numpy (`PyPolicy`) and TensorFlow (`TFPolicy`) ones.

Submodules load lazily, so ``import tfdrive.policies.py_policy`` and
``random_py_policy`` do not import TensorFlow; attribute access such as
``tfdrive.policies.ActorPolicy`` imports the module that defines it.
"""

from tfdrive._lazy import lazy_namespace

__all__, __getattr__, __dir__ = lazy_namespace(
    __name__,
    __path__,
    {
        "ActorPolicy": "actor_policy",
        "EpsilonGreedyPolicy": "epsilon_greedy_policy",
        "GreedyPolicy": "greedy_policy",
        "PolicySaver": "policy_saver",
        "PyPolicy": "py_policy",
        "PyTFEagerPolicy": "py_tf_eager_policy",
        "SavedModelPyTFEagerPolicy": "py_tf_eager_policy",
        "RandomPyPolicy": "random_py_policy",
        "RandomTFPolicy": "random_tf_policy",
        "TFPolicy": "tf_policy",
    },
)

"""Differential tests: tfdrive's PolicySaver and policy_loader against TF-Agents 0.19's.

Run in the compat environment (tf-agents 0.19, TF 2.15, numpy 1.26):
`python -m pytest tests/compat/test_policy_saver_compat.py -p no:cacheprovider -o addopts=""`.

Both savers export the same TF-Agents policy; the SavedModels must expose the
same signatures, write the same ``policy_specs.pbtxt`` and the same
checkpoint keys (so checkpoints of one restore into the other's model), give
the same outputs, and each library's loader must read the other's files.
"""

import os

import numpy as np
import pytest

tfa = pytest.importorskip("tf_agents")
import tensorflow as tf  # noqa: E402
from tf_agents.networks import actor_distribution_rnn_network as tfa_adrn  # noqa: E402
from tf_agents.policies import actor_policy as tfa_actor_policy  # noqa: E402
from tf_agents.policies import policy_loader as tfa_loader  # noqa: E402
from tf_agents.policies import policy_saver as tfa_saver  # noqa: E402
from tf_agents.specs import tensor_spec as tfa_tensor_spec  # noqa: E402
from tf_agents.trajectories import time_step as tfa_ts  # noqa: E402

from tfdrive.policies import policy_loader, policy_saver  # noqa: E402

OBS = tf.TensorSpec((3,), tf.float32, "obs")
ACTION = tf.TensorSpec((), tf.int64, "act")
SIGNATURES = ("action", "get_initial_state", "get_train_step", "get_metadata")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """``{"tfa": path, "ours": path}``: one recurrent TF-Agents policy saved by each saver."""
    action_spec = tfa_tensor_spec.BoundedTensorSpec((), tf.int64, 0, 2, "act")
    net = tfa_adrn.ActorDistributionRnnNetwork(
        OBS, action_spec, input_fc_layer_params=(5,), lstm_size=(4,), output_fc_layer_params=()
    )
    policy = tfa_actor_policy.ActorPolicy(tfa_ts.time_step_spec(OBS), action_spec, net)
    paths = {}
    for name, module in (("tfa", tfa_saver), ("ours", policy_saver)):
        train_step = tf.Variable(12, dtype=tf.int64)
        saver = module.PolicySaver(
            policy, seed=3, train_step=train_step, metadata={"env_step": tf.Variable(7)}
        )
        root = tmp_path_factory.mktemp(name)
        saver.save(str(root / "policy"))
        train_step.assign(20)
        saver.save_checkpoint(str(root / "checkpoint_20"))
        paths[name] = root
    return paths


def _time_step(batch=2):
    obs = np.random.default_rng(1).normal(size=(batch, 3)).astype(np.float32)
    return tfa_ts.restart(tf.constant(obs), batch_size=batch)


def test_same_signatures_and_specs_file(saved):
    theirs = tf.saved_model.load(str(saved["tfa"] / "policy"))
    ours = tf.saved_model.load(str(saved["ours"] / "policy"))
    assert sorted(ours.signatures) == sorted(theirs.signatures) == sorted(SIGNATURES)
    for name in SIGNATURES:
        mine, other = ours.signatures[name], theirs.signatures[name]
        assert mine.structured_input_signature == other.structured_input_signature, name
        assert mine.structured_outputs == other.structured_outputs, name
    specs = [
        (saved[k] / "policy" / policy_saver.POLICY_SPECS_PBTXT).read_text() for k in ("tfa", "ours")
    ]
    assert specs[0] == specs[1]


def test_checkpoint_keys(saved):
    def keys(root, kind):
        prefix = os.path.join(str(root / kind), "variables", "variables")
        return {n for n, _ in tf.train.list_variables(prefix)}

    assert keys(saved["ours"], "policy") == keys(saved["tfa"], "policy")
    # Ours also lists the metadata where the SavedModel has it, so a checkpoint
    # can replace a SavedModel's variables (TF-Agents' misses it: see below).
    ours, theirs = keys(saved["ours"], "checkpoint_20"), keys(saved["tfa"], "checkpoint_20")
    assert ours - theirs == {"metadata/env_step/.ATTRIBUTES/VARIABLE_VALUE"}
    assert keys(saved["ours"], "policy") <= ours


def test_same_outputs(saved):
    theirs = tf.saved_model.load(str(saved["tfa"] / "policy"))
    ours = tf.saved_model.load(str(saved["ours"] / "policy"))
    time_step = _time_step()
    state = ours.get_initial_state(2)
    tf.nest.map_structure(np.testing.assert_array_equal, state, theirs.get_initial_state(2))
    logits = [m.distribution(time_step, state).action.logits for m in (ours, theirs)]
    np.testing.assert_allclose(logits[0], logits[1], rtol=1e-6)
    steps = [m.action(time_step, state) for m in (ours, theirs)]
    tf.nest.map_structure(np.testing.assert_allclose, steps[0], steps[1])
    assert ours.get_train_step().numpy() == theirs.get_train_step().numpy() == 12


@pytest.mark.parametrize("loader", [policy_loader, tfa_loader], ids=["ours", "tfa"])
@pytest.mark.parametrize("saved_by", ["ours", "tfa"])
def test_loaders_read_each_others_files(saved, saved_by, loader):
    root = saved[saved_by]
    policy = loader.load(str(root / "policy"), str(root / "checkpoint_20"))
    assert policy.get_train_step() == 20
    if saved_by == "tfa":
        return  # TF-Agents' checkpoints lack the metadata a materialized model needs.
    out = str(root / f"materialized_by_{loader.__name__.split('.')[0]}")
    loader.materialize_saved_model(str(root / "policy"), str(root / "checkpoint_20"), out)
    materialized = loader.load(out)
    assert materialized.get_train_step() == 20
    assert materialized.get_metadata()["env_step"].numpy() == 7
    obs = np.zeros(3, np.float32)
    state = materialized.get_initial_state(batch_size=1)
    assert 0 <= materialized.action(tfa_ts.restart(obs), state).action <= 2

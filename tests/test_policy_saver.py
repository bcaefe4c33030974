"""PolicySaver and policy_loader: exported functions, flat signatures, specs file,
checkpoints, TFLite conversion and argument errors."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from ppo_nets import DISCRETE, OBS, TS_SPEC, ff_networks, rnn_networks
from tfdrive.agents.ppo import ppo_policy
from tfdrive.policies import policy_loader, policy_saver, tf_policy
from tfdrive.specs import array_spec, tensor_spec
from tfdrive.trajectories import policy_step, trajectory
from tfdrive.trajectories import time_step as ts

ACTION = tensor_spec.TensorSpec((2,), tf.float32, name="act")
WEIGHTS = np.arange(6, dtype=np.float32).reshape(3, 2) / 10.0


class LinearPolicy(tf_policy.TFPolicy):
    """Deterministic: ``action = observation @ weights`` (a `Deterministic` distribution)."""

    def __init__(self):
        super().__init__(TS_SPEC, ACTION)
        self.weights = tf.Variable(WEIGHTS)

    def _distribution(self, time_step, policy_state):
        loc = tf.matmul(time_step.observation, self.weights)
        return policy_step.PolicyStep(tfp.distributions.Deterministic(loc), policy_state)


class NoDistributionPolicy(LinearPolicy):
    def _action(self, time_step, policy_state, seed):
        del seed
        action = tf.matmul(time_step.observation, self.weights)
        return policy_step.PolicyStep(action, policy_state)

    def _distribution(self, time_step, policy_state):
        raise NotImplementedError("no distribution for this policy")


def _time_step(batch=4):
    obs = np.random.default_rng(0).normal(size=(batch, 3)).astype(np.float32)
    return ts.restart(tf.constant(obs), batch_size=batch)


def _save(policy, path, **kwargs):
    saver = policy_saver.PolicySaver(policy, **kwargs)
    saver.save(str(path))
    return saver, tf.saved_model.load(str(path))


def test_saved_functions_reproduce_the_policy(tmp_path):
    policy = LinearPolicy()
    _, loaded = _save(policy, tmp_path / "p")
    time_step = _time_step()
    expected = time_step.observation.numpy() @ WEIGHTS
    # A stateless policy's action works with and without the empty state.
    np.testing.assert_allclose(loaded.action(time_step).action, expected, rtol=1e-6)
    np.testing.assert_allclose(loaded.action(time_step, ()).action, expected, rtol=1e-6)
    distribution = loaded.distribution(time_step).action
    assert isinstance(distribution, tfp.distributions.Deterministic)
    np.testing.assert_allclose(distribution.loc, expected, rtol=1e-6)
    assert loaded.get_initial_state(batch_size=3) == ()
    assert loaded.get_train_step().numpy() == -1
    assert loaded.get_metadata() == {}
    np.testing.assert_array_equal(loaded.model_variables[0], WEIGHTS)


def test_flat_signatures_are_keyed_by_nest_paths(tmp_path):
    train_step = tf.Variable(5, dtype=tf.int64)
    env_step = tf.Variable(7, dtype=tf.int64)
    saver, loaded = _save(
        LinearPolicy(), tmp_path / "p", train_step=train_step, metadata={"env_step": env_step}
    )
    action = loaded.signatures["action"]
    # TF sanitizes the keyword names ("arg_0_observation"); specs keep the paths.
    inputs = {s.name: key for key, s in action.structured_input_signature[1].items()}
    assert sorted(inputs) == ["0/discount", "0/observation", "0/reward", "0/step_type"]
    assert action.structured_input_signature[1][inputs["0/observation"]].shape == [None, 3]
    time_step = _time_step()
    outputs = action(**{inputs[f"0/{k}"]: v for k, v in time_step._asdict().items()})
    assert list(outputs) == ["action"]
    np.testing.assert_allclose(outputs["action"], time_step.observation.numpy() @ WEIGHTS, 1e-6)
    # As in TF-Agents, scalar outputs are keyed by their dtype's name.
    assert loaded.signatures["get_train_step"]()["int64"].numpy() == 5
    assert loaded.signatures["get_metadata"]()["int64"].numpy() == 7
    assert loaded.get_metadata()["env_step"].numpy() == 7
    assert saver.get_train_step() == 5 and saver.get_metadata() == {"env_step": 7}
    assert [s.name for s in tf.nest.flatten(saver.action_input_spec)] == [
        "0/step_type",
        "0/reward",
        "0/discount",
        "0/observation",
    ]


def test_spec_names_used_without_nest_paths(tmp_path):
    with pytest.raises(ValueError, match="missing name or a name collision"):
        policy_saver.PolicySaver(LinearPolicy(), use_nest_path_signatures=False)
    named = ts.TimeStep(
        step_type=tensor_spec.TensorSpec((), tf.int32, "st"),
        reward=tensor_spec.TensorSpec((), tf.float32, "r"),
        discount=tensor_spec.BoundedTensorSpec((), tf.float32, 0.0, 1.0, "d"),
        observation=tensor_spec.TensorSpec((3,), tf.float32, "obs"),
    )
    policy = LinearPolicy()
    policy._time_step_spec = named  # noqa: SLF001  (only names differ from TS_SPEC)
    saver = policy_saver.PolicySaver(policy, use_nest_path_signatures=False, batch_size=2)
    signature = saver.signatures["action"]
    assert [s.name for s in signature.input_signature] == ["st", "r", "d", "obs"]
    assert signature.input_signature[3].shape == [2, 3]


def test_rename_spec_with_nest_paths():
    spec = {"b": [OBS, OBS], "a": (DISCRETE,)}
    renamed = policy_saver.rename_spec_with_nest_paths(spec)
    assert [s.name for s in tf.nest.flatten(renamed)] == ["a/0", "b/0", "b/1"]
    assert renamed["a"][0] == tf.TensorSpec((), tf.int64, "a/0")


def test_recurrent_policy_state_and_fixed_batch_size(tmp_path):
    policy = ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *rnn_networks(DISCRETE))
    _, loaded = _save(policy, tmp_path / "any")
    state = loaded.get_initial_state(4)
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_array_equal(a, b), state, policy.get_initial_state(4)
    )
    time_step = _time_step()
    step = loaded.action(time_step, state)
    expected = policy.action(time_step, policy.get_initial_state(4))
    tf.nest.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), step.state, expected.state
    )
    np.testing.assert_allclose(
        step.info["value_prediction"], expected.info["value_prediction"], rtol=1e-5
    )

    _, fixed = _save(policy, tmp_path / "fixed", batch_size=4)
    assert fixed.signatures["get_initial_state"].structured_input_signature == ((), {})
    state = fixed.get_initial_state()
    assert tf.nest.flatten(state)[0].shape[0] == 4
    with pytest.raises((TypeError, ValueError)):
        fixed.action(_time_step(batch=3), fixed.get_initial_state())


def test_specs_file_round_trip(tmp_path):
    policy = LinearPolicy()
    _save(policy, tmp_path / "p")
    path = os.path.join(str(tmp_path / "p"), policy_saver.POLICY_SPECS_PBTXT)
    specs = policy_saver.specs_from_collect_data_spec(tensor_spec.from_pbtxt_file(path))
    assert specs == policy_saver.load_specs(str(tmp_path / "p"))
    assert isinstance(specs["collect_data_spec"], trajectory.Trajectory)
    assert isinstance(specs["time_step_spec"], ts.TimeStep)
    assert specs["time_step_spec"] == tensor_spec.to_array_spec(TS_SPEC)
    assert specs["action_spec"] == array_spec.ArraySpec((2,), np.float32, "act")
    assert specs["policy_state_spec"] == () and specs["info_spec"] == ()


def test_checkpoint_updates_a_loaded_policy(tmp_path):
    policy = LinearPolicy()
    train_step = tf.Variable(0, dtype=tf.int64)
    saver, loaded = _save(policy, tmp_path / "p", train_step=train_step)
    policy.weights.assign(-WEIGHTS)
    train_step.assign(9)
    saver.save_checkpoint(str(tmp_path / "ckpt"))
    assert tf.io.gfile.exists(str(tmp_path / "ckpt" / "variables" / "variables.index"))

    time_step = _time_step()
    np.testing.assert_allclose(loaded.action(time_step).action, time_step.observation @ WEIGHTS)
    prefix = os.path.join(str(tmp_path / "ckpt"), "variables", "variables")
    tf.train.Checkpoint(policy=loaded).read(prefix).assert_existing_objects_matched()
    np.testing.assert_allclose(loaded.action(time_step).action, time_step.observation @ -WEIGHTS)
    assert loaded.get_train_step().numpy() == 9


def test_loader_load_and_materialize(tmp_path):
    policy = LinearPolicy()
    train_step = tf.Variable(0, dtype=tf.int64)
    env_step = tf.Variable(10, dtype=tf.int64)
    saver = policy_saver.PolicySaver(policy, train_step=train_step, metadata={"steps": env_step})
    offset = tf.Variable(1)
    add = tf.function(lambda b: offset + b)
    add.get_concrete_function(tf.TensorSpec((), tf.int32))
    saver.register_concrete_function("add", add)
    saver.save(str(tmp_path / "policy"))
    policy.weights.assign(2 * WEIGHTS)
    train_step.assign(3)
    env_step.assign(30)
    offset.assign(5)
    saver.save_checkpoint(str(tmp_path / "checkpoint_3"))

    at_0 = policy_loader.load(str(tmp_path / "policy"))
    assert at_0.get_train_step() == 0
    np.testing.assert_array_equal(at_0.variables()[0], WEIGHTS)
    at_3 = policy_loader.load(str(tmp_path / "policy"), str(tmp_path / "checkpoint_3"))
    assert at_3.get_train_step() == 3
    np.testing.assert_array_equal(at_3.variables()[0], 2 * WEIGHTS)

    out = str(tmp_path / "materialized" / "3")
    policy_loader.materialize_saved_model(
        str(tmp_path / "policy"), str(tmp_path / "checkpoint_3"), out
    )
    materialized = policy_loader.load(out)
    assert materialized.get_train_step() == 3
    # Metadata and registered functions' variables come from the checkpoint too.
    assert materialized.get_metadata()["steps"].numpy() == 30
    assert tf.saved_model.load(out).add(1).numpy() == 6
    np.testing.assert_array_equal(materialized.variables()[0], 2 * WEIGHTS)
    obs = np.ones(3, np.float32)
    np.testing.assert_allclose(materialized.action(ts.restart(obs)).action, obs @ (2 * WEIGHTS))
    with pytest.raises(ValueError, match="Output path already exists"):
        policy_loader.materialize_saved_model(
            str(tmp_path / "policy"), str(tmp_path / "checkpoint_3"), out
        )


def test_unavailable_distribution_fails_when_called(tmp_path):
    _, loaded = _save(NoDistributionPolicy(), tmp_path / "p")
    time_step = _time_step()
    np.testing.assert_allclose(loaded.action(time_step).action, time_step.observation @ WEIGHTS)
    with pytest.raises(tf.errors.InvalidArgumentError, match="no distribution for this policy"):
        loaded.distribution(time_step)


def test_registered_functions(tmp_path):
    policy = LinearPolicy()
    saver = policy_saver.PolicySaver(policy)
    saver.register_function("project", lambda obs: tf.matmul(obs, policy.weights), OBS)
    offset = tf.Variable(3)
    add = tf.function(lambda b: offset + b)
    add.get_concrete_function(tf.TensorSpec((), tf.int32))
    saver.register_concrete_function("add", add)
    for name in ("project", "action"):
        with pytest.raises(ValueError, match="already has an attribute registered with: " + name):
            saver.register_function(name, lambda x: x, OBS)
    with pytest.raises(ValueError, match="already has an attribute"):
        saver.register_concrete_function("add", add)
    saver.save(str(tmp_path / "p"))
    loaded = tf.saved_model.load(str(tmp_path / "p"))
    np.testing.assert_allclose(
        loaded.project(np.ones((2, 3), np.float32)), np.ones((2, 3)) @ WEIGHTS
    )
    assert loaded.add(4).numpy() == 7


def test_tflite_conversion_of_the_action_signature(tmp_path):
    policy = LinearPolicy()
    _save(policy, tmp_path / "p", batch_size=1)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(tmp_path / "p"), signature_keys=["action"]
    )
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    runner = interpreter.get_signature_runner("action")
    time_step = _time_step(batch=1)
    inputs = {f"0/{k}": v.numpy() for k, v in time_step._asdict().items()}
    assert set(interpreter.get_signature_list()["action"]["inputs"]) == set(inputs)
    outputs = runner(**inputs)
    np.testing.assert_allclose(outputs["action"], time_step.observation @ WEIGHTS, rtol=1e-5)


def test_tflite_conversion_of_a_sampling_ppo_policy(tmp_path):
    policy = ppo_policy.PPOPolicy(TS_SPEC, DISCRETE, *ff_networks())
    _save(policy, tmp_path / "p", seed=5)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(tmp_path / "p"), signature_keys=["action"]
    )
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    time_step = _time_step(batch=1)
    outputs = interpreter.get_signature_runner("action")(
        **{f"0/{k}": v.numpy() for k, v in time_step._asdict().items()}
    )
    expected = policy.action(time_step)
    assert outputs["action"].shape == (1,) and 0 <= outputs["action"][0] <= 2
    np.testing.assert_allclose(
        outputs["info/value_prediction"], expected.info["value_prediction"], rtol=1e-5
    )
    np.testing.assert_allclose(
        outputs["info/dist_params/logits"], expected.info["dist_params"]["logits"], rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"policy": "not a policy"}, TypeError, "policy is not a TFPolicy"),
        ({"batch_size": 0}, ValueError, "batch_size == None or python int > 0"),
        ({"batch_size": 2.0}, ValueError, "batch_size == None or python int > 0"),
        ({"train_step": 3}, ValueError, "train_step must be a TensorFlow variable"),
        ({"metadata": {1: tf.Variable(1)}}, TypeError, "Keys of metadata must be strings"),
        ({"metadata": {"a": 1}}, TypeError, "Values of metadata must be tf.Variable"),
    ],
)
def test_argument_errors(kwargs, error, message):
    kwargs.setdefault("policy", LinearPolicy())
    with pytest.raises(error, match=message):
        policy_saver.PolicySaver(**kwargs)


def test_a_fresh_process_loads_a_saved_distribution_policy_without_importing_tfp(tmp_path):
    """SavedModelPyTFEagerPolicy registers TFP's type specs itself before loading."""
    import subprocess
    import sys
    import textwrap

    policy_saver.PolicySaver(LinearPolicy()).save(str(tmp_path / "p"))
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        from tfdrive.policies.py_tf_eager_policy import SavedModelPyTFEagerPolicy
        from tfdrive.trajectories import time_step as ts
        assert "tensorflow_probability" not in sys.modules
        policy = SavedModelPyTFEagerPolicy({str(tmp_path / "p")!r}, load_specs_from_pbtxt=True)
        step = policy.action(ts.restart(np.ones(3, np.float32)))
        print([round(float(x), 3) for x in step.action])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[0.6, 0.9]"

"""The same command gives the same model: the decision's seed seeds the weights a run
initialises, the data order and every augmentation. Two real Trainer executions (TFX's own
GenericExecutor running our run_fn on the pushed run's examples, transform graph and decision)
are compared weight by weight."""
import json

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_artifacts

from bit_tfx.core import keys
from bit_tfx.models.bit import build_classifier
from bit_tfx.pipeline import metadata, pipeline


def _artifact(store, proto):
    [kind] = store.get_artifact_types_by_id([proto.type_id])
    return artifact_utils.deserialize_artifact(kind, proto)


def _train(config, root):
    """One Trainer execution on the pushed run's inputs, writing under `root`; returns the
    trained model's variables by name."""
    store = metadata.open_store(config.metadata_path)
    inputs = {}
    for name, (node, key) in {keys.EXAMPLES_KEY: (keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY),
                              keys.TRANSFORM_GRAPH_KEY: (keys.NODE_TRANSFORM, keys.TRANSFORM_GRAPH_KEY),
                              keys.SCHEMA_KEY: (keys.NODE_SCHEMA, keys.SCHEMA_KEY),
                              keys.HYPERPARAMETERS_KEY: (keys.NODE_HYPERRULE, keys.HYPERPARAMETERS_KEY)}.items():
        _, proto = metadata.latest_output(store, config.pipeline_name, node, key)
        inputs[name] = [_artifact(store, proto)]
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = str(root / "Trainer" / "model" / "1"), str(root / "Trainer" / "model_run" / "1")
    properties = {
        "train_args": json_format.MessageToJson(trainer_pb2.TrainArgs(splits=[keys.TRAIN_SPLIT])),
        "eval_args": json_format.MessageToJson(trainer_pb2.EvalArgs(splits=[keys.EVAL_SPLIT], num_steps=0)),
        "custom_config": json.dumps(pipeline.trainer_custom_config(config)),
        "run_fn": pipeline.RUN_FN,
    }
    trainer_executor.GenericExecutor().Do(inputs, {keys.MODEL_KEY: [model], keys.MODEL_RUN_KEY: [model_run]},
                                          properties)
    loaded = tf.saved_model.load(str(root / "Trainer" / "model" / "1" / "Format-Serving"))
    return {v.name: v.numpy() for v in loaded.variables}


@pytest.mark.pipeline
def test_two_trainer_runs_with_the_same_seed_train_the_same_model(pushed_run, tmp_path):
    config, _, _ = pushed_run
    first, second = _train(config, tmp_path / "first"), _train(config, tmp_path / "second")
    assert first.keys() == second.keys() and len(first) > 10
    # Up to TensorFlow's own float non-determinism (multi-threaded reductions on CPU).
    for name in first:
        np.testing.assert_allclose(first[name], second[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_seed_decides_the_weights_a_run_initialises():
    def weights(seed):
        tf.keras.utils.set_random_seed(seed)
        return np.concatenate([w.ravel() for w in build_classifier("random:tiny", 3).get_weights()])
    assert np.array_equal(weights(0), weights(0))
    assert not np.allclose(weights(0), weights(1))

"""The whole pipeline for real: train, evaluate against the last blessed model, push or refuse."""
import base64
import json
import os

import pytest
import tensorflow as tf

import images
import runs
from bit_tfx.components import keys
from bit_tfx.pipeline import pipeline, results

pytestmark = pytest.mark.pipeline
def test_runs_push_blessed_models_and_refuse_a_worse_one(tmp_path):
    data, out, serving = tmp_path / "span-{SPAN}", tmp_path / "out", tmp_path / "serving"
    config_args = dict(runs.SMOKE, serving_dir=str(serving))

    # Run 1: no baseline yet; the absolute gate alone decides.
    runs.colour_images(str(tmp_path / "span-1"), 30, seed=1)
    config = runs.run(data, out, **config_args)
    first = results.summarize(config)
    assert first["blessed"], first
    version_dir = first["pushed_to"]
    assert os.path.dirname(version_dir) == str(serving) and os.path.basename(version_dir).isdigit()
    assert os.path.exists(os.path.join(version_dir, "saved_model.pb"))

    # The serving signature takes exactly what TF Serving's REST API hands over: the
    # base64-decoded bytes of {"instances": [{"b64": ...}]}.
    with open(next(p for p in (tmp_path / "span-1" / "red").iterdir()), "rb") as f:
        payload = {"instances": [{"b64": base64.b64encode(f.read()).decode()}]}
    request = [base64.b64decode(i["b64"]) for i in json.loads(json.dumps(payload))["instances"]]
    model = tf.saved_model.load(version_dir)
    serve = model.signatures["serving_default"]
    answer = serve(image_bytes=tf.constant(request))
    assert answer["classes"].numpy()[0][0] == b"red"
    scores = answer["scores"].numpy()[0]
    assert scores[0] >= scores[1] and abs(scores.sum() - 1) < 1e-5
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(image_bytes=tf.constant([b"not an image"]))
    assert serve(image_bytes=tf.constant(request))["classes"].numpy()[0][0] == b"red"  # still serving
    # As in the BiT tutorial, the pushed model loads back as a trainable hub.KerasLayer ...
    import tensorflow_hub as hub
    layer = hub.KerasLayer(version_dir, trainable=True)
    assert layer(tf.zeros([1, 40, 40, 3])).shape == (1, 2) and layer.trainable_weights
    # ... and a pushed version is the backbone spec of a later run (warm start).
    from bit_tfx.components.bit_model import build_classifier, hub as bit_hub
    # The backbone itself (pre-logits), not the whole 2-class classifier.
    backbone_dir = bit_hub.warm_start_location(version_dir)
    assert backbone_dir.endswith(bit_hub.WARM_START_DIR), backbone_dir
    assert hub.KerasLayer(backbone_dir)(tf.zeros([1, 40, 40, 3])).shape[-1] > 2
    warm = build_classifier(f"hub:{version_dir}", 5)
    assert warm(tf.zeros([2, 40, 40, 3])).shape == (2, 5)
    assert len(warm.trainable_variables) > 2  # the backbone fine-tunes, not only the head

    # Run 2: a new span, evaluated against run 1's model as the baseline.
    runs.colour_images(str(tmp_path / "span-2"), 30, seed=2)
    runs.run(data, out, **config_args)
    _, evaluation = runs.latest(config, keys.NODE_EVALUATOR, keys.EVALUATION_KEY)
    import tensorflow_model_analysis as tfma
    validation = tfma.load_validation_result(evaluation.uri)
    compared = [d for d in validation.validation_details.slicing_details]
    assert compared, "the evaluation recorded no validation against thresholds"
    execution, _ = runs.latest(config, keys.NODE_EVALUATOR, keys.EVALUATION_KEY)
    from bit_tfx.pipeline import metadata
    store = metadata.open_store(config.metadata_path)
    inputs = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type == e.INPUT]
    assert any(s.key == keys.BASELINE_MODEL_KEY for e in inputs for s in e.path.steps)

    # Run 3: trained on shuffled labels, evaluated on correct ones: worse, never pushed.
    versions_before = sorted(os.listdir(serving))
    runs.colour_images(str(tmp_path / "span-3" / "train"), 30, seed=3, shuffle_labels=True)
    runs.colour_images(str(tmp_path / "span-3" / "eval"), 15, seed=4)
    runs.run(data, out, **config_args)
    third = results.summarize(config)
    assert not third["blessed"] and third["pushed_to"] is None
    assert any("sparse_categorical_accuracy" in r for r in third["not_blessed_because"])
    assert sorted(os.listdir(serving)) == versions_before

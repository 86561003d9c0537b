"""The facts a trained model's report and its model card both state, read from the run's
artifacts with the libraries' own loaders: the data (StatisticsGen, read as the HyperRule
reads it), the HyperRule decision, the class names the model carries, what the version serves
(signatures, warm-up requests, TFLite files), TFMA's metrics and the gate's verdict. `bit_tfx.pipeline.report` and the ModelCardGen executor call model_facts.
"""
import math
import os

from ...core import keys
from ...core.version import version as running_version
from ..evaluation import gate


def number(value):
    """A float for JSON: NaN (TFMA's precision of a class never predicted) becomes None."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def read_text(path):
    import tensorflow as tf
    with tf.io.gfile.GFile(path) as f:
        return f.read()


def _split_statistics(statistics):
    """Per split: image count, height/width, classes and their counts, from StatisticsGen's
    output, read as the HyperRule reads it (core/dataset_facts.py: the same facts)."""
    from tfx.types import artifact_utils
    from ...core.dataset_facts import StatisticsError, class_counts, read_dataset_facts
    from ..statistics import load_split_statistics
    splits = {}
    present = artifact_utils.decode_split_names(statistics.split_names)
    for split in keys.SPLIT_NAMES:
        if split not in present:
            continue
        try:
            dataset = load_split_statistics(statistics, split)
        except StatisticsError:  # a split without statistics: not in the report
            continue
        facts = read_dataset_facts(dataset)
        splits[split] = {
            "num_examples": facts.num_examples, "num_classes": facts.num_classes,
            "median_height": facts.image_height["median"],
            "median_width": facts.image_width["median"],
            "height": facts.image_height, "width": facts.image_width,
            "class_counts": class_counts(dataset),
        }
    return splits


def _class_names(model_uri):
    """The label vocabulary (class id = line number) the SavedModel carries as an asset."""
    from tfx.utils import path_utils
    path = os.path.join(path_utils.serving_model_path(model_uri), "assets", keys.LABEL_VOCABULARY)
    return read_text(path).splitlines()


def serving_artifacts(version_dir):
    """What a model version serves, read from the version folder itself: its signatures
    (name, inputs and outputs with dtype and shape, from saved_model.pb) and the files under
    assets.extra/ that the pipeline promises (warm-up requests, the TFLite files with their
    sizes and tolerances; None for one that is missing)."""
    import json

    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    def tensors(infos):
        return {name: {"dtype": tf.dtypes.as_dtype(info.dtype).name,
                       "shape": [d.size for d in info.tensor_shape.dim]}
                for name, info in sorted(infos.items())}

    proto = saved_model_pb2.SavedModel.FromString(
        tf.io.gfile.GFile(os.path.join(version_dir, "saved_model.pb"), "rb").read())
    signatures = {name: {"inputs": tensors(sig.inputs), "outputs": tensors(sig.outputs)}
                  for name, sig in sorted(proto.meta_graphs[0].signature_def.items())
                  if not name.startswith("__")}
    warmup = os.path.join(version_dir, keys.WARMUP_FILE)
    info_path = os.path.join(version_dir, keys.TFLITE_DIR, keys.TFLITE_INFO)
    tflite = None
    if tf.io.gfile.exists(info_path):
        info = json.loads(read_text(info_path))
        tflite = {"input": info["input"], "labels": f"{keys.TFLITE_DIR}/{keys.TFLITE_LABELS}",
                  "files": [{"path": f"{keys.TFLITE_DIR}/{name}", "bytes": f["bytes"],
                             "probability_atol": f["probability_atol"],
                             "present": tf.io.gfile.exists(os.path.join(version_dir,
                                                                        keys.TFLITE_DIR, name))}
                            for name, f in info["files"].items()]}
    return {"signatures": signatures,
            "warmup_requests": keys.WARMUP_FILE if tf.io.gfile.exists(warmup) else None,
            "tflite": tflite}


def _eval_result(evaluation_uri):
    """TFMA's EvalResult of the candidate model (with a baseline, TFMA stores both)."""
    import tensorflow_model_analysis as tfma
    result = tfma.load_eval_result(evaluation_uri)
    candidate = next(s.name for s in result.config.model_specs if not s.is_baseline)
    return tfma.load_eval_result(evaluation_uri, model_name=candidate) if candidate else result, candidate


def _metrics(result, classes):
    """Overall metrics (the gate's reading, with the *_diff against a baseline), per class
    (precision/recall binarized by class id, eval images from the label slice) and the
    confusion matrix (rows: true class, columns: predicted)."""
    by_slice = {key: m.get("", {}) for key, m in result.slicing_metrics}
    overall = by_slice.get((), {})
    per_class = []
    for class_id, name in enumerate(classes):
        binarized = overall.get(f"classId:{class_id}", {})
        label_slice = by_slice.get(((keys.LABEL_TEXT, name),), {}).get("", {})
        per_class.append({
            "id": class_id, "name": name,
            "examples": number(label_slice.get("example_count", {}).get("doubleValue", 0)),
            "precision": number(binarized.get("precision", {}).get("doubleValue")),
            "recall": number(binarized.get("recall", {}).get("doubleValue")),
        })
    matrix = [[0] * len(classes) for _ in classes]
    for key, plots in result.plots:
        if key == ():
            confusion = plots[""][""]["multiClassConfusionMatrixAtThresholds"]["matrices"][0]
            for entry in confusion.get("entries", []):  # zero ids are omitted in the dict
                matrix[entry.get("actualClassId", 0)][entry.get("predictedClassId", 0)] = \
                    int(entry["numWeightedExamples"])
    return {
        "overall": {k: number(v) for k, v in gate.overall_metrics_of(result).items()},
        "per_class": per_class,
        "confusion": {"labels": list(classes), "matrix": matrix},
    }


def _verdict(evaluation_uri, result, candidate, blessing):
    """Each threshold of the gate with its value and outcome; why not, in the gate's words.
    A first run has no baseline: TFX then drops the change thresholds, so only the
    absolute ones are listed."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.metrics import metric_specs
    validation = tfma.load_validation_result(evaluation_uri)
    failed = {(f.metric_key.name, f.metric_key.is_diff)
              for s in validation.metric_validations_per_slice for f in s.failures}
    overall = gate.overall_metrics_of(result)
    thresholds = []
    for key, pairs in metric_specs.metric_thresholds_from_metrics_specs(
            result.config.metrics_specs, eval_config=result.config).items():
        if key.model_name != candidate:
            continue
        value = overall.get(key.name + ("_diff" if key.is_diff else ""))
        for _, threshold in pairs:
            for op, bound in _bounds(threshold):
                thresholds.append({"metric": key.name, "is_diff": key.is_diff, "op": op,
                                   "bound": bound, "value": number(value),
                                   "passed": (key.name, key.is_diff) not in failed})
    baseline = ({"id": blessing.get_int_custom_property("baseline_model_id"),
                 "uri": blessing.get_string_custom_property("baseline_model"),
                 "served_from": blessing.get_string_custom_property(keys.BASELINE_SERVED_FROM_PROPERTY)}
                if blessing.has_custom_property("baseline_model_id") else None)
    return {"blessed": bool(blessing.get_int_custom_property("blessed")), "baseline": baseline,
            "thresholds": thresholds, "failures": gate.failures_of(validation)}


def _bounds(threshold):
    """[(">=" or "<=", bound)] of a TFMA GenericValueThreshold, or of a GenericChangeThreshold's
    absolute bound (the kind gate.eval_config sets)."""
    from tensorflow_model_analysis.proto import config_pb2
    if isinstance(threshold, config_pb2.GenericValueThreshold):
        return ([(">=", threshold.lower_bound.value)] if threshold.HasField("lower_bound") else []) + \
               ([("<=", threshold.upper_bound.value)] if threshold.HasField("upper_bound") else [])
    op = ">=" if threshold.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER else "<="
    return [(op, gate.configured_change_bound(threshold.absolute.value))] if threshold.HasField("absolute") else []


def model_facts(examples=None, statistics=None, hyperparameters=None, model=None,
                evaluation=None, blessing=None, input_base=None, training=None):
    """What both the report and the model card state: data, HyperRule decision, model,
    what the model serves (signatures, warm-up file, TFLite files), metrics (overall, per
    class, confusion matrix) and the gate verdict. Each artifact is a
    TFX Artifact (its typed property getters also read what Kubeflow v2 / Vertex hand over,
    where integers arrive as floats), or None when the run did not produce it; the matching
    part is then None. `training`: the Trainer's custom_config (pipeline.trainer_custom_config:
    model_spec, linear_probe, freeze_until, mixed_precision), or None when not known."""
    from ...core.decision import read_decision
    from tfx.utils import path_utils
    classes = _class_names(model.uri) if model is not None else None
    serving = serving_artifacts(path_utils.serving_model_path(model.uri)) \
        if model is not None else None
    data = None
    if statistics is not None:
        span = examples.get_int_custom_property("span") \
            if examples is not None and examples.has_custom_property("span") else None
        data = {"span": span, "input_base": input_base,
                "examples": examples.uri if examples is not None else None,
                "splits": _split_statistics(statistics)}
    # JSON-ready like every fact (report.json); card.typed reads it back as a Decision
    decision = read_decision(hyperparameters.uri).to_json() if hyperparameters is not None else None
    metrics = verdict = None
    if evaluation is not None and model is not None:  # the Evaluator evaluates the Trainer's model
        result, candidate = _eval_result(evaluation.uri)
        metrics = _metrics(result, classes)
        if blessing is not None:
            verdict = _verdict(evaluation.uri, result, candidate, blessing)
    return {
        "data": data, "decision": decision, "metrics": metrics, "verdict": verdict,
        "serving": serving, "bit_tfx_version": running_version(),
        "model": {"uri": model.uri, "classes": classes,
                  "model_spec": (training or {}).get("model_spec"),
                  "linear_probe": (training or {}).get("linear_probe"),
                  "freeze_until": (training or {}).get("freeze_until"),
                  "mixed_precision": (training or {}).get("mixed_precision")}
        if model is not None else None,
    }

"""What a finished run did, in plain words: blessing, why not, metrics, where the model went;
or, when its data was what the serving model was trained on, that nothing was trained."""
import json
import os

from ..core import keys
from ..core.version import version as running_version
from ..components.evaluation import gate
from ..components.image_example_gen import data_checks
from . import metadata


def _artifact(store, config, node, key, run_id=None):
    return metadata.latest_output(store, config.pipeline_name, node, key, run_id)[1]


def decision_artifact(store, pipeline_name, run_id=None):
    """The HyperParameters artifact of the newest run: the HyperRule's, or the UpstreamRecipe's
    for a pre-training pipeline; None when neither has run."""
    return decision_output(store, pipeline_name, run_id)[1]


def decision_output(store, pipeline_name, run_id=None):
    """(execution, artifact) of whichever decision node ran newest (metadata.decision_node);
    with `run_id`, in that run."""
    newest = {n: metadata.latest_execution(store, pipeline_name, n, run_id) for n in keys.DECISION_NODES}
    node = metadata.decision_node(newest)
    if node is None:
        return None, None
    return newest[node], metadata.first_output(store, newest[node], keys.HYPERPARAMETERS_KEY)


VERDICT_TRAINED = "trained"          # the run trained and gated (blessed or not)
VERDICT_NOTHING_NEW = "nothing_new"  # the serving model's own data: nothing trained


def training_decision(store, pipeline_name, run_id=None):
    """(this run trains?, ServingBaseline's model output) of the newest run: ServingBaseline
    runs (or is reused from the cache) in every run, and its `train` says whether the training
    branch ran (pipeline.training_predicate)."""
    _, artifact = metadata.latest_output(store, pipeline_name, keys.NODE_SERVING_BASELINE, keys.MODEL_KEY,
                                         run_id)
    if artifact is None or keys.TRAIN_PROPERTY not in artifact.custom_properties:
        return True, artifact
    return bool(artifact.custom_properties[keys.TRAIN_PROPERTY].int_value), artifact


def data_checks_of_run(store, config, run_id=None):
    """The data checks (image_example_gen/data_checks.summary) of the run's ImageExampleGen
    Examples, or None (TFRecord input, or no ingestion recorded)."""
    examples = _artifact(store, config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY, run_id)
    prop = examples.custom_properties.get(data_checks.REPORT_PROPERTY) if examples is not None else None
    return data_checks.of_artifact_property(prop.string_value) if prop is not None else None


def nothing_new(config, artifact):
    """The answer of a run that trained nothing: which version serves, and why its data counts
    as this run's."""
    served_from = artifact.custom_properties[keys.SERVED_FROM_PROPERTY].string_value
    record = artifact.custom_properties.get(keys.SERVED_TRAINING_DATA_PROPERTY)
    version = os.path.basename(served_from.rstrip("/"))
    return {
        "verdict": VERDICT_NOTHING_NEW,
        "blessed": None,
        "pushed_to": None,
        "serving_version": int(version) if version.isdigit() else version,
        "served_from": served_from,
        "same_data_because": artifact.custom_properties[keys.NOTHING_NEW_BECAUSE_PROPERTY].string_value,
        "trained_on": json.loads(record.string_value) if record is not None else None,
        "metrics": {},
        "thresholds": {"min_accuracy": config.min_accuracy,
                       "max_accuracy_drop": config.max_accuracy_drop},
        "next": "nothing was trained, evaluated or pushed; new data (a new span, or changed "
                "files) trains; --force trains on this data anyway",
        "bit_tfx_version": running_version(),
    }


def summarize(config, run_id=None):
    """What the newest run did; with `run_id` (runner.run_local's), what that run did."""
    store = metadata.open_store(config.metadata_uri)
    trains, baseline = training_decision(store, config.pipeline_name, run_id)
    if not trains:
        return dict(nothing_new(config, baseline), data_checks=data_checks_of_run(store, config, run_id))
    evaluation = _artifact(store, config, keys.NODE_EVALUATOR, keys.EVALUATION_KEY, run_id)
    blessing = _artifact(store, config, keys.NODE_EVALUATOR, keys.BLESSING_KEY, run_id)
    pushed = _artifact(store, config, keys.NODE_PUSHER, keys.PUSHED_MODEL_KEY, run_id)
    model = _artifact(store, config, keys.NODE_TRAINER, keys.MODEL_KEY, run_id)
    hyperparameters = decision_artifact(store, config.pipeline_name, run_id)
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value)
    summary = {
        "verdict": VERDICT_TRAINED,
        "blessed": blessed,
        "model": os.path.join(model.uri, "Format-Serving") if model else None,
        "hyperparameters": os.path.join(hyperparameters.uri, keys.HYPERPARAMETERS_FILE)
        if hyperparameters else None,
        "metrics": gate.overall_metrics(evaluation.uri) if evaluation else {},
        "thresholds": {"min_accuracy": config.min_accuracy,
                       "max_accuracy_drop": config.max_accuracy_drop},
        "pushed_to": None,
        "bit_tfx_version": running_version(),
    }
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        summary["pushed_to"] = pushed.custom_properties["pushed_destination"].string_value
        summary["version"] = int(pushed.custom_properties["pushed_version"].string_value)
    if not blessed and evaluation is not None:
        summary["not_blessed_because"] = gate.failures(evaluation.uri)
    summary["data_checks"] = data_checks_of_run(store, config, run_id)
    return summary

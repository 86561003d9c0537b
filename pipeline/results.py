"""What a finished run did, in plain words: blessing, why not, metrics, where the model went."""
import os

from bit_tfx.components import keys
from bit_tfx.components.evaluation import gate
from . import metadata


def _artifact(store, config, node, key):
    return metadata.latest_output(store, config.pipeline_name, node, key)[1]


def decision_artifact(store, pipeline_name):
    """The HyperParameters artifact of the newest run: the HyperRule's, or the UpstreamRecipe's
    for a pre-training pipeline; None when neither has run."""
    return decision_output(store, pipeline_name)[1]


def decision_output(store, pipeline_name):
    """(execution, artifact) of whichever decision node ran newest (metadata.decision_node)."""
    newest = {n: metadata.latest_execution(store, pipeline_name, n) for n in keys.DECISION_NODES}
    node = metadata.decision_node(newest)
    if node is None:
        return None, None
    return newest[node], metadata.first_output(store, newest[node], keys.HYPERPARAMETERS_KEY)


def summarize(config):
    store = metadata.open_store(config.metadata_uri)
    evaluation = _artifact(store, config, keys.NODE_EVALUATOR, keys.EVALUATION_KEY)
    blessing = _artifact(store, config, keys.NODE_EVALUATOR, keys.BLESSING_KEY)
    pushed = _artifact(store, config, keys.NODE_PUSHER, keys.PUSHED_MODEL_KEY)
    model = _artifact(store, config, keys.NODE_TRAINER, keys.MODEL_KEY)
    hyperparameters = decision_artifact(store, config.pipeline_name)
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value)
    summary = {
        "blessed": blessed,
        "model": os.path.join(model.uri, "Format-Serving") if model else None,
        "hyperparameters": os.path.join(hyperparameters.uri, keys.HYPERPARAMETERS_FILE)
        if hyperparameters else None,
        "metrics": gate.overall_metrics(evaluation.uri) if evaluation else {},
        "thresholds": {"min_accuracy": config.min_accuracy,
                       "max_accuracy_drop": config.max_accuracy_drop},
        "pushed_to": None,
    }
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        summary["pushed_to"] = pushed.custom_properties["pushed_destination"].string_value
        summary["version"] = int(pushed.custom_properties["pushed_version"].string_value)
    if not blessed and evaluation is not None:
        summary["not_blessed_because"] = gate.failures(evaluation.uri)
    return summary

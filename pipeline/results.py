"""What a finished run did, in plain words: blessing, why not, metrics, where the model went."""
import os

from components import keys
from pipeline import metadata


def _artifact(store, config, node, key):
    return metadata.latest_output(store, config.pipeline_name, node, key)[1]


def overall_metrics(evaluation_uri):
    import tensorflow_model_analysis as tfma
    return overall_metrics_of(tfma.load_eval_result(evaluation_uri))


def overall_metrics_of(result):
    """The overall slice's metrics of a loaded tfma.EvalResult (with a baseline: the
    candidate's, *_diff included)."""
    for slice_key, metrics in result.slicing_metrics:
        if slice_key == ():
            values = metrics.get("", {}).get("", {})
            return {name: v.get("doubleValue") for name, v in values.items()
                    if isinstance(v, dict) and "doubleValue" in v}
    return {}


def failures(evaluation_uri):
    """Each failed threshold as a sentence."""
    import tensorflow_model_analysis as tfma
    return failures_of(tfma.load_validation_result(evaluation_uri))


def failures_of(validation):
    """Each failed threshold of a loaded ValidationResult as a sentence."""
    from pipeline.pipeline import configured_change_bound
    sentences = []
    for failure in validation.metric_validations_per_slice:
        for m in failure.failures:
            name = m.metric_key.name
            value = m.metric_value.double_value.value
            if m.metric_key.is_diff:
                allowed = -configured_change_bound(m.metric_threshold.change_threshold.absolute.value)
                sentences.append(f"{name} changed by {value:+.4f} against the last blessed model, "
                                 f"more than the allowed drop of {allowed:.4f}")
            else:
                bound = m.metric_threshold.value_threshold.lower_bound.value
                sentences.append(f"{name} is {value:.4f}, below the minimum {bound:.4f}")
    if not sentences and not validation.validation_ok:
        sentences.append("TFMA validation failed: " + str(validation).replace("\n", " ")[:300])
    return sentences


def summarize(config):
    store = metadata.open_store(config.metadata_path)
    evaluation = _artifact(store, config, "Evaluator", "evaluation")
    blessing = _artifact(store, config, "Evaluator", "blessing")
    pushed = _artifact(store, config, "Pusher", "pushed_model")
    model = _artifact(store, config, "Trainer", "model")
    hyperparameters = _artifact(store, config, "HyperRule", "hyperparameters")
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value)
    summary = {
        "blessed": blessed,
        "model": os.path.join(model.uri, "Format-Serving") if model else None,
        "hyperparameters": os.path.join(hyperparameters.uri, keys.HYPERPARAMETERS_FILE)
        if hyperparameters else None,
        "metrics": overall_metrics(evaluation.uri) if evaluation else {},
        "thresholds": {"min_accuracy": config.min_accuracy,
                       "max_accuracy_drop": config.max_accuracy_drop},
        "pushed_to": None,
    }
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        summary["pushed_to"] = pushed.custom_properties["pushed_destination"].string_value
        summary["version"] = int(pushed.custom_properties["pushed_version"].string_value)
    if not blessed and evaluation is not None:
        summary["not_blessed_because"] = failures(evaluation.uri)
    return summary

"""The TFMA gate: what the Evaluator checks before a model may be pushed, and reading its
verdict back. Shared by the DAG (pipeline.py builds the Evaluator with eval_config), the run
summary, the report and the model card.

The gate is an absolute accuracy bound, applied on a first run too, and a change bound
against the baseline, the model now serving (components/serving; no regression by default). Per-label slices are reported, not
gated. TensorFlow Model Analysis is imported only by the functions that need it.
"""
from ...core import keys

# Taken off the "no drop" bound so that a model exactly as good as the baseline passes
# despite float noise in TFMA's diff.
CHANGE_MARGIN = 1e-10
TOP_K = 5                   # top-5 accuracy is reported for more classes than this


def configured_change_bound(absolute):
    """A change threshold's absolute bound as configured (-max_accuracy_drop), margin removed."""
    return round(absolute + CHANGE_MARGIN, 9) + 0.0


def eval_config(min_accuracy, max_accuracy_drop, num_classes=None):
    """TFMA: accuracy gate (absolute, and no regression against the baseline), top-5,
    per-class precision/recall, confusion matrix; overall and per label."""
    import tensorflow_model_analysis as tfma
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_accuracy_drop - CHANGE_MARGIN}))
    metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        tfma.MetricConfig(class_name="SparseCategoricalAccuracy", per_slice_thresholds=[
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_threshold)]),
        tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
    ]
    if num_classes and num_classes > TOP_K:
        metrics.append(tfma.MetricConfig(class_name="SparseTopKCategoricalAccuracy",
                                         config=f'{{"k": {TOP_K}, "name": "top_{TOP_K}_accuracy"}}'))
    specs = [tfma.MetricsSpec(metrics=metrics)]
    if num_classes:
        specs.append(tfma.MetricsSpec(
            metrics=[tfma.MetricConfig(class_name="Precision"), tfma.MetricConfig(class_name="Recall")],
            binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))})))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=keys.SIGNATURE_EXAMPLES, label_key=keys.LABEL_ID,
                                    preprocessing_function_names=[keys.SIGNATURE_TRANSFORM])],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[keys.LABEL_TEXT])],
        metrics_specs=specs)


def thresholds_of(config):
    """{min_accuracy, max_accuracy_drop}: eval_config's gate read back from its JSON form (the
    Evaluator's parameter in a compiled spec, field names as in the proto)."""
    for spec in config.get("metrics_specs", []):
        for metric in spec.get("metrics", []):
            if metric.get("class_name") == "SparseCategoricalAccuracy" and metric.get("per_slice_thresholds"):
                threshold = metric["per_slice_thresholds"][0]["threshold"]
                return {"min_accuracy": float(threshold["value_threshold"]["lower_bound"]),
                        "max_accuracy_drop": -configured_change_bound(
                            float(threshold["change_threshold"]["absolute"])) + 0.0}
    return {}


def overall_metrics(evaluation_uri):
    """The overall slice's metrics of the Evaluator's output."""
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
    """Each failed threshold of the Evaluator's output as a sentence."""
    import tensorflow_model_analysis as tfma
    return failures_of(tfma.load_validation_result(evaluation_uri))


def failures_of(validation):
    """Each failed threshold of a loaded ValidationResult as a sentence."""
    sentences = []
    for failure in validation.metric_validations_per_slice:
        for m in failure.failures:
            name = m.metric_key.name
            value = m.metric_value.double_value.value
            if m.metric_key.is_diff:
                allowed = max(0.0, -configured_change_bound(m.metric_threshold.change_threshold.absolute.value))
                limit = (f"the allowed drop of {allowed:.4f}" if allowed > 0 else
                         "allowed (no drop: --max-accuracy-drop 0)")
                sentences.append(f"{name} changed by {value:+.4f} against the model now serving, "
                                 f"more than {limit}")
            else:
                bound = m.metric_threshold.value_threshold.lower_bound.value
                sentences.append(f"{name} is {value:.4f}, below the minimum {bound:.4f}")
    if not sentences and not validation.validation_ok:
        sentences.append("TFMA validation failed: " + str(validation).replace("\n", " ")[:300])
    return sentences

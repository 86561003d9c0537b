"""The Evaluator of the gate: TFX's Evaluator, whose baseline is ServingBaseline's model.

ServingBaseline always produces a Model artifact; when nothing is served it is empty and says
so (custom property `served` 0, keys.SERVED_PROPERTY). This executor then removes it from the
inputs before TFX's Evaluator executor runs, which is exactly a first run for TFX: no baseline,
so the change thresholds are dropped (rubber stamp) and the absolute bound alone decides. With
a served model the stock executor runs unchanged and compares the candidate with it.

The executor is referenced by its import path, as Kubeflow / Vertex containers load it (their
entrypoint treats it as an Evaluator: it subclasses TFX's Evaluator executor).
"""
from absl import logging
from tfx.components.evaluator import component as evaluator_component
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs

from ...core import keys
from ..serving import executor as serving


class Executor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        baseline = input_dict.get(specs.BASELINE_MODEL_KEY) or []
        if baseline and not serving.is_served(baseline[0]):
            logging.info("No baseline model (%s): the absolute thresholds alone decide.",
                         serving.not_served_reason(baseline[0]))
            input_dict = {k: v for k, v in input_dict.items() if k != specs.BASELINE_MODEL_KEY}
            baseline = []
        result = super().Do(input_dict, output_dict, exec_properties)
        if baseline and output_dict.get(specs.BLESSING_KEY):
            # The blessing names the baseline artifact (TFX); this names the served version.
            artifact_utils.get_single_instance(output_dict[specs.BLESSING_KEY]).set_string_custom_property(
                keys.BASELINE_SERVED_FROM_PROPERTY,
                baseline[0].get_string_custom_property(keys.SERVED_FROM_PROPERTY))
        return result


class Evaluator(evaluator_component.Evaluator):
    """tfx.components.Evaluator with the executor above (same spec, same outputs)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

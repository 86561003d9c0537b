"""ModelCardGen: a custom TFX component between the Evaluator and the Pusher.

Inputs: the Trainer's model, the Evaluator's evaluation and blessing, the HyperRule decision,
the statistics and the examples (for the span). Output: `model`, a standard Model artifact
holding a copy of the trained model's Format-Serving directory with assets.extra/model_card.md
(and .html) added, so every pushed version carries its card. It runs whether or not the model
was blessed: the card states the verdict, and the Pusher still decides by the blessing.

The blessing keeps naming the Trainer's model (current_model_id), so the
`latest_blessed_model` resolver (LatestBlessedModelStrategy) keeps resolving the Trainer's
model as the next run's baseline; this copy is never the baseline. Input and output cannot
share the key `model` (TFX argument names are unique), so the input is `trained_model`.

The executor is referenced by its import path (bit_tfx.components.model_card.executor.Executor), as
Kubeflow / Vertex containers load it.
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from bit_tfx.components import keys
from bit_tfx.components.model_card import executor


class ModelCardGenSpec(ComponentSpec):
    PARAMETERS = {executor.INPUT_BASE_KEY: ExecutionParameter(type=str),
                  executor.MODEL_SPEC_KEY: ExecutionParameter(type=str)}
    INPUTS = {
        executor.TRAINED_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        keys.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        keys.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
        keys.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class ModelCardGen(base_component.BaseComponent):
    """The trained model plus its model card in assets.extra/, for the Pusher."""

    SPEC_CLASS = ModelCardGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model, evaluation, blessing, hyperparameters, statistics, examples,
                 input_base, model_spec):
        super().__init__(spec=ModelCardGenSpec(
            trained_model=model, evaluation=evaluation, blessing=blessing,
            hyperparameters=hyperparameters, statistics=statistics, examples=examples,
            input_base=input_base, model_spec=model_spec,
            model=types.Channel(type=standard_artifacts.Model)))

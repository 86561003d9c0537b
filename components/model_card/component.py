"""ModelCardGen: a custom TFX component between the Evaluator and the Pusher.

Inputs: the Trainer's model, the Evaluator's evaluation and blessing, the HyperRule decision,
the statistics, the examples (for the span) and the schema the model was trained with;
parameters: the input base and the Trainer's custom_config (`training`: what the card says
was trained, and from which backbone).
Output: `model`, a standard Model artifact holding a copy of the trained model's Format-Serving
directory with assets.extra/model_card.md (and .html) and assets.extra/schema.pbtxt added, so
every pushed version carries its card and the schema of its training data (the next span's
drift baseline, read back by components/serving). It runs whether or not the model was
blessed: the card states the verdict, and the Pusher still decides by the blessing.

Input and output cannot share the key `model` (TFX argument names are unique), so the input
is `trained_model`.

The executor is referenced by its import path (bit_tfx.components.model_card.executor.Executor), as
Kubeflow / Vertex containers load it.
"""
import json

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from ...core import keys
from . import executor


class ModelCardGenSpec(ComponentSpec):
    PARAMETERS = {keys.INPUT_BASE_KEY: ExecutionParameter(type=str),
                  executor.TRAINING_KEY: ExecutionParameter(type=str)}
    INPUTS = {
        executor.TRAINED_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        keys.EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        keys.BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
        keys.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        keys.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        keys.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
    }
    OUTPUTS = {keys.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model)}


class ModelCardGen(base_component.BaseComponent):
    """The trained model plus its model card and training schema in assets.extra/, for the Pusher."""

    SPEC_CLASS = ModelCardGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model, evaluation, blessing, hyperparameters, statistics, examples,
                 schema, input_base, training):
        super().__init__(spec=ModelCardGenSpec(
            trained_model=model, evaluation=evaluation, blessing=blessing,
            hyperparameters=hyperparameters, statistics=statistics, examples=examples,
            schema=schema,
            input_base=input_base, training=json.dumps(training, sort_keys=True),
            model=types.Channel(type=standard_artifacts.Model)))

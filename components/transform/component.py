"""HyperRuleTransform: TFX Transform with the HyperRule decision as an input channel.

Transform's custom_config is fixed when the pipeline is built, but the HyperRule
decides at run time from statistics. This component is the standard Transform
(same executor, same outputs) plus one input, `hyperparameters`; its executor reads
the decision and hands it to preprocessing_fn as custom_config["hyperrule"].
Caching stays exact: a new decision is a new input artifact, so Transform re-runs.
"""
import json

from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter

from ...core import keys
from .. import tfx_api as tfx
from ...core.decision import read_decision

PREPROCESSING_FN = "bit_tfx.models.preprocessing.preprocessing_fn"


class HyperRuleTransformSpec(specs.TransformSpec):
    INPUTS = dict(specs.TransformSpec.INPUTS, **{
        keys.HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters)})


class Executor(transform_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        input_dict = dict(input_dict)
        decision = read_decision(artifact_utils.get_single_uri(input_dict.pop(keys.HYPERPARAMETERS_KEY)))
        config = json.loads(exec_properties.get(specs.CUSTOM_CONFIG_KEY) or "null") or {}
        config[keys.HYPERRULE_CUSTOM_CONFIG] = decision.to_json()  # custom_config travels as JSON
        exec_properties = dict(exec_properties, **{specs.CUSTOM_CONFIG_KEY: json.dumps(config)})
        return super().Do(input_dict, output_dict, exec_properties)


class HyperRuleTransform(tfx.components.Transform):
    SPEC_CLASS = HyperRuleTransformSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, examples, schema, hyperparameters, preprocessing_fn=PREPROCESSING_FN):
        # Let Transform build and check its own spec, then add our input to it.
        # materialize=False: no float pixels on disk; the Trainer applies the graph on the fly.
        # disable_statistics: StatisticsGen already has the raw statistics, and post-transform
        # ones would decode every image at full resolution once more.
        base = tfx.components.Transform(examples=examples, schema=schema,
                                        preprocessing_fn=preprocessing_fn, materialize=False,
                                        disable_statistics=True)
        args = dict(base.spec.exec_properties)
        args.update(base.spec.inputs)
        args.update(base.spec.outputs)
        args[keys.HYPERPARAMETERS_KEY] = hyperparameters
        base_beam_component.BaseBeamComponent.__init__(self, spec=HyperRuleTransformSpec(**args))
        # The output channels came from `base`, which is in no pipeline: this component
        # produces them. (The Kubeflow V2 compiler names each input's producer task from
        # the channel; left pointing at `base`, the Trainer would read from a missing task.)
        for channel in self.outputs.values():
            channel.producer_component = self

"""AnomaliesGate (`--fail-on-anomalies`): stops the run before Transform and the Trainer when
ExampleValidator found any anomaly, naming each (split, feature, short description).

A regular component (no driver hook, no Resolver), so the same gate runs locally, on Vertex AI
Pipelines and on KFP v2: it reads ExampleValidator's `anomalies` and fails its step; Transform
and the Trainer run after it (pipeline.py adds it as their upstream node). It has no output:
nothing downstream reads it, it only orders the DAG. Without the flag it is not in the DAG and
anomalies are recorded, not gated.
"""
import os

from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.example_validator import executor as validator_executor
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, component_spec, standard_artifacts
from tfx.utils import io_utils

from ...core import keys

MAX_NAMED = 10  # anomalies named in the message; the rest are counted


class AnomaliesFound(RuntimeError):
    """ExampleValidator found anomalies and the run gates on them."""


def read_anomalies(anomalies):
    """[(split, feature, short description)] of an ExampleAnomalies artifact, every split
    (a dataset-level anomaly has the feature '(dataset)')."""
    found = []
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(anomalies.uri, f"Split-{split}", validator_executor.DEFAULT_FILE_NAME)
        proto = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(proto.anomaly_info.items()):
            descriptions = [r.short_description for r in info.reason] or [info.short_description]
            found += [(split, feature, d) for d in descriptions]
        if proto.HasField("dataset_anomaly_info"):
            reasons = proto.dataset_anomaly_info.reason
            found += [(split, "(dataset)", r.short_description) for r in reasons]
    return found


def message(found, uri):
    named = "; ".join(f"{split}: {feature!r}: {text}" for split, feature, text in found[:MAX_NAMED])
    more = f"; and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
    return (f"ExampleValidator found {len(found)} anomal{'y' if len(found) == 1 else 'ies'} and "
            f"fail_on_anomalies is set, so nothing was trained: {named}{more} (details: {uri}). "
            "Fix the data, or the schema (--schema a curated schema.pbtxt), or run without "
            "--fail-on-anomalies to record them and go on")


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        anomalies = artifact_utils.get_single_instance(input_dict[keys.ANOMALIES_KEY])
        found = read_anomalies(anomalies)
        if found:
            raise AnomaliesFound(message(found, anomalies.uri))
        logging.info("No anomalies in %s: the run goes on.", anomalies.uri)


class AnomaliesGateSpec(component_spec.ComponentSpec):
    PARAMETERS = {}
    INPUTS = {keys.ANOMALIES_KEY: component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {}


class AnomaliesGate(base_component.BaseComponent):
    """Fails when ExampleValidator's anomalies are not empty (module docstring)."""

    SPEC_CLASS = AnomaliesGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, anomalies):
        super().__init__(spec=AnomaliesGateSpec(anomalies=anomalies))

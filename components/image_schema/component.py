"""The schema of image examples, and label drift between spans.

ImageSchemaGen is SchemaGen's contract (statistics in, one schema.pbtxt out) with
an executor that curates what TFDV infers for image data:
  - image/encoded gets an image domain (TFDV's semantic-domain detector only
    marks it past 100 values, so small datasets would miss it);
  - image/format is pinned to the formats the pipeline decodes, so examples of any
    other format (e.g. imported TFRecords) are anomalies;
  - the label domain is recorded for up to MAX_LABEL_DOMAIN classes (TFDV stops at 100,
    which would drop it for Flowers-102 or Food-101);
  - image/filename gets no domain (every new file would be an anomaly otherwise);
  - height and width must be positive.

SpanDriftValidator is ExampleValidator run against the schema of the data the model now
serving was trained on (every pushed version ships it in assets.extra/schema.pbtxt;
ServingBaseline reads it from there), so that a label that first appears in a new span shows
up as an anomaly. It is a leaf of the DAG: its input never invalidates downstream caches.
With nothing served (a first run), or a served version that ships no schema, it records why
in the anomalies artifact (`baseline_schema`) instead of failing.
"""
import os

import tensorflow_data_validation as tfdv
from absl import logging
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.example_validator import executor as validator_executor
from tfx.components.schema_gen import component as schema_gen_component
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import io_utils

from ...core import keys
from ...core import dataset_facts
from .. import statistics
from ..serving import executor as serving

MAX_LABEL_DOMAIN = 100_000


def _feature(schema, name):
    for f in schema.feature:
        if f.name == name:
            return f
    raise ValueError(f"feature {name!r} is missing from the inferred schema; the examples "
                     "must carry the ImageExampleGen features")


def _set_string_domain(schema, feature, values):
    """Replaces the feature's string domain by `values` (None: no domain)."""
    feature.ClearField("domain")
    kept = [d for d in schema.string_domain if d.name != feature.name]
    del schema.string_domain[:]
    schema.string_domain.extend(kept)
    if values is not None:
        schema.string_domain.add(name=feature.name, value=values)
        feature.domain = feature.name


def curate(schema, train_stats):
    """Applies the image rules above to a TFDV-inferred schema (in place)."""
    image = _feature(schema, keys.IMAGE_ENCODED)
    image.ClearField("domain")
    image.image_domain.SetInParent()
    _set_string_domain(schema, _feature(schema, keys.IMAGE_FORMAT),
                       sorted(keys.SUPPORTED_FORMATS.values()))
    _set_string_domain(schema, _feature(schema, keys.FILENAME), None)
    labels = sorted(dataset_facts.class_counts(train_stats))
    unique = dataset_facts.feature(train_stats, keys.LABEL_TEXT).string_stats.unique
    if len(labels) < unique:
        logging.warning("The statistics list %d of %d labels; the schema records no label domain. "
                        "Raise StatisticsGen's num_rank_histogram_buckets to record it.",
                        len(labels), unique)
        labels = None
    _set_string_domain(schema, _feature(schema, keys.LABEL_TEXT), labels)
    for name in (keys.IMAGE_HEIGHT, keys.IMAGE_WIDTH):
        _feature(schema, name).int_domain.min = 1
    return schema


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        stats_artifact = artifact_utils.get_single_instance(input_dict[specs.STATISTICS_KEY])
        train = statistics.load_split_statistics(stats_artifact, keys.TRAIN_SPLIT)
        schema = tfdv.infer_schema(
            statistics_pb2.DatasetFeatureStatisticsList(datasets=[train]),
            infer_feature_shape=bool(exec_properties.get(specs.INFER_FEATURE_SHAPE_KEY, 1)),
            max_string_domain_size=MAX_LABEL_DOMAIN)
        curate(schema, train)
        out = artifact_utils.get_single_uri(output_dict[specs.SCHEMA_KEY])
        io_utils.write_pbtxt_file(os.path.join(out, keys.SCHEMA_FILE), schema)
        logging.info("Schema written to %s", out)


class ImageSchemaGen(schema_gen_component.SchemaGen):
    """SchemaGen for image examples (see the module docstring)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)


class SpanDriftValidatorSpec(specs.ExampleValidatorSpec):
    INPUTS = dict(specs.ExampleValidatorSpec.INPUTS, **{
        specs.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema, optional=True)})


class SpanDriftExecutor(validator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        anomalies = artifact_utils.get_single_instance(output_dict[specs.ANOMALIES_KEY])
        baseline = input_dict.get(specs.SCHEMA_KEY) or []
        if not baseline or not serving.is_served(baseline[0]):
            reason = serving.not_served_reason(baseline[0]) if baseline else "no schema given"
            logging.info("No baseline schema (%s): nothing to compare the new span with.", reason)
            anomalies.split_names = artifact_utils.encode_split_names([])
            anomalies.set_string_custom_property("baseline_schema", f"none: {reason}")
            return None
        anomalies.set_string_custom_property(
            "baseline_schema", baseline[0].get_string_custom_property(keys.SERVED_FROM_PROPERTY)
            or baseline[0].uri)
        return super().Do(input_dict, output_dict, exec_properties)


class SpanDriftValidator(base_component.BaseComponent):
    """ExampleValidator against the serving model's training schema (ServingBaseline's
    `schema`; with nothing served it records why and compares nothing)."""

    SPEC_CLASS = SpanDriftValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SpanDriftExecutor)

    def __init__(self, statistics, serving_schema):
        super().__init__(spec=SpanDriftValidatorSpec(
            statistics=statistics, schema=serving_schema,
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))

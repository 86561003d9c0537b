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

SpanDriftValidator is ExampleValidator run against the schema of the previous run,
so that a label that first appears in a new span shows up as an anomaly. It is a
leaf of the DAG: its changing input never invalidates downstream caches. On the
first run there is no previous schema and it records that instead of failing.
"""
import os

import tensorflow_data_validation as tfdv
from absl import logging
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.example_validator import executor as validator_executor
from tfx.components.schema_gen import component as schema_gen_component
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.components.common import resolver
from tfx.types import artifact_utils, standard_artifacts
from tfx.types import standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import io_utils

from bit_tfx.components import keys, statistics

MAX_LABEL_DOMAIN = 100_000
SCHEMA_FILE = "schema.pbtxt"


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
    labels = sorted(statistics.class_counts(train_stats))
    unique = statistics.feature(train_stats, keys.LABEL_TEXT).string_stats.unique
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
        io_utils.write_pbtxt_file(os.path.join(out, SCHEMA_FILE), schema)
        logging.info("Schema written to %s", out)


class ImageSchemaGen(schema_gen_component.SchemaGen):
    """SchemaGen for image examples (see the module docstring)."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)


class PreviousArtifactStrategy(resolver.ResolverStrategy):
    """The newest artifact of each input, or none at all (never an error on a first run)."""

    def resolve_artifacts(self, store, input_dict):
        return {key: sorted(artifacts, key=lambda a: a.id)[-1:] for key, artifacts in input_dict.items()}


class SpanDriftValidatorSpec(specs.ExampleValidatorSpec):
    INPUTS = dict(specs.ExampleValidatorSpec.INPUTS, **{
        specs.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema, optional=True)})


class SpanDriftExecutor(validator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        anomalies = artifact_utils.get_single_instance(output_dict[specs.ANOMALIES_KEY])
        if not input_dict.get(specs.SCHEMA_KEY):
            logging.info("No previous schema (first run): nothing to compare the new span with.")
            anomalies.split_names = artifact_utils.encode_split_names([])
            anomalies.set_string_custom_property("baseline_schema", "none: first run")
            return None
        anomalies.set_string_custom_property(
            "baseline_schema", artifact_utils.get_single_uri(input_dict[specs.SCHEMA_KEY]))
        return super().Do(input_dict, output_dict, exec_properties)


class SpanDriftValidator(base_component.BaseComponent):
    """ExampleValidator against the previous run's schema (optional on a first run)."""

    SPEC_CLASS = SpanDriftValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SpanDriftExecutor)

    def __init__(self, statistics, previous_schema):
        super().__init__(spec=SpanDriftValidatorSpec(
            statistics=statistics, schema=previous_schema,
            anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))

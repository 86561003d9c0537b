"""The bit-tfx DAG, assembled in one place. Every runner (local, Kubeflow/Vertex)
calls create_pipeline unchanged."""
from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components import keys
from components.hyperrule.component import HyperRule
from components.image_schema.component import ImageSchemaGen, PreviousArtifactStrategy, SpanDriftValidator
from components.image_example_gen import sources
from components.image_example_gen.component import ImageExampleGen, split_output_config


def example_gen(config, source):
    output_config = split_output_config(*config.split_ratio)
    if source.layout == sources.TFRECORD:
        # Examples already in our feature format: TFX's own ImportExampleGen, split by
        # hashing the file name as ImageExampleGen does.
        output_config.split_config.partition_feature_name = keys.FILENAME
        return tfx.components.ImportExampleGen(
            input_base=source.input_base,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name="records", pattern=source.pattern)]),
            output_config=output_config)
    return ImageExampleGen(source, output_config=output_config,
                           max_bad_fraction=config.max_bad_fraction,
                           max_image_pixels=config.max_image_pixels)


def create_components(config, source):
    """ExampleGen -> StatisticsGen -> SchemaGen -> ExampleValidator (+ span drift) -> HyperRule."""
    gen = example_gen(config, source)
    statistics = tfx.components.StatisticsGen(examples=gen.outputs["examples"])
    # The previous run's schema, resolved before this run writes its own.
    previous_schema = tfx.dsl.Resolver(
        strategy_class=PreviousArtifactStrategy,
        schema=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Schema),
    ).with_id("previous_schema")
    schema = ImageSchemaGen(statistics=statistics.outputs["statistics"])
    schema.add_upstream_node(previous_schema)
    validator = tfx.components.ExampleValidator(
        statistics=statistics.outputs["statistics"], schema=schema.outputs["schema"])
    drift = SpanDriftValidator(statistics=statistics.outputs["statistics"],
                               previous_schema=previous_schema.outputs["schema"])
    hyperrule = HyperRule(
        statistics=statistics.outputs["statistics"],
        preserve_count=config.preserve_count, preserve_orientation=config.preserve_orientation,
        batch_size=config.batch_size, batch_policy=config.batch_policy,
        k_shot=config.k_shot, schedule_override=config.schedule_override)
    return [gen, statistics, previous_schema, schema, validator, drift, hyperrule]


def create_pipeline(config, source, metadata_connection_config=None, enable_cache=True):
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config, source),
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args))

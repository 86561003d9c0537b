"""ImageExampleGen: a file-based TFX ExampleGen for labelled images.

It is a FileBasedExampleGen (same driver, so {SPAN} patterns resolve to the
newest span, the input fingerprint makes unchanged data a cache hit, and the
Kubeflow V2 runner gives it the file-based driver step) with its own executor and
four extra parameters: the layout, the bad-file limit, the pixel limit and what becomes of
an eval image whose bytes are also in train (dropped from eval by default).
"""
from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts, standard_component_specs as specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from ...core import keys
from . import executor, sources, span


class ImageExampleGenSpec(specs.FileBasedExampleGenSpec):
    PARAMETERS = dict(
        specs.FileBasedExampleGenSpec.PARAMETERS,
        **{
            executor.LAYOUT_KEY: ExecutionParameter(type=str),
            executor.MAX_BAD_FRACTION_KEY: ExecutionParameter(type=float),
            executor.MAX_IMAGE_PIXELS_KEY: ExecutionParameter(type=int),
            executor.EVAL_DUPLICATES_KEY: ExecutionParameter(type=str, optional=True),
        })
    INPUTS = {}
    OUTPUTS = {specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


def split_output_config(train=keys.DEFAULT_SPLIT_RATIO[0], eval_=keys.DEFAULT_SPLIT_RATIO[1]):
    """train:eval hash buckets, used where the data has no split of its own."""
    return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=keys.TRAIN_SPLIT, hash_buckets=train),
        example_gen_pb2.SplitConfig.Split(name=keys.EVAL_SPLIT, hash_buckets=eval_),
    ]))


class ImageExampleGen(base_beam_component.BaseBeamComponent):
    """Labelled image folders or a CSV manifest -> Examples (train/eval) + quarantine report."""

    SPEC_CLASS = ImageExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
    DRIVER_CLASS = span.Driver  # TFX's FileBasedDriver; names that are not UTF-8 too

    def __init__(self, source, output_config=None, range_config=None,
                 max_bad_fraction=keys.DEFAULT_MAX_BAD_FRACTION,
                 max_image_pixels=keys.DEFAULT_MAX_IMAGE_PIXELS,
                 eval_duplicates=keys.EVAL_DUPLICATES_DROP):
        """source: a sources.Source (see sources.resolve)."""
        if source.layout not in (sources.CLASS_FOLDERS, sources.SPLIT_FOLDERS, sources.CSV):
            raise sources.SourceError(f"ImageExampleGen cannot read layout {source.layout!r}")
        if not 0.0 <= max_bad_fraction < 1.0:
            raise sources.SourceError(f"max_bad_fraction must be in [0, 1), got {max_bad_fraction}")
        if max_image_pixels < 1:
            raise sources.SourceError(f"max_image_pixels must be positive, got {max_image_pixels}")
        if eval_duplicates not in keys.EVAL_DUPLICATES_POLICIES:
            raise sources.SourceError(f"eval_duplicates must be one of "
                                      f"{keys.EVAL_DUPLICATES_POLICIES}, got {eval_duplicates!r}")
        spec = ImageExampleGenSpec(
            input_base=source.input_base,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name="images", pattern=source.pattern)]),
            output_config=output_config or split_output_config(),
            range_config=range_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            layout=source.layout,
            max_bad_fraction=float(max_bad_fraction),
            max_image_pixels=int(max_image_pixels),
            eval_duplicates=eval_duplicates,
            examples=types.Channel(type=standard_artifacts.Examples))
        super().__init__(spec=spec)


class ImportExampleGen(base_beam_component.BaseBeamComponent):
    """TFRecords of tf.Examples -> Examples (train/eval): TFX's ImportExampleGen (its spec,
    executor and driver), compiled as a plain step everywhere (see the module docstring)."""

    SPEC_CLASS = specs.FileBasedExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.RecordsExecutor)
    DRIVER_CLASS = span.Driver  # TFX's FileBasedDriver; names that are not UTF-8 too

    def __init__(self, input_base, input_config, output_config):
        super().__init__(spec=specs.FileBasedExampleGenSpec(
            input_base=input_base, input_config=input_config, output_config=output_config,
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,  # FileBasedExampleGen's default
            examples=types.Channel(type=standard_artifacts.Examples)))

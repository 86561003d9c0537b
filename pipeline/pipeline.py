"""The bit-tfx DAG, assembled in one place (create_components; drawn in docs/architecture.md,
"The DAG"). Every runner (local, Kubeflow/Vertex) calls create_pipeline unchanged.

`bit-tfx pretrain` (config.pretrain) builds the same DAG with UpstreamRecipe, the HyperRule's
sibling, in the HyperRule's place: the upstream recipe instead of the downstream rule, and a
pushed backbone (TF Hub layout + official .npz) instead of a fine-tuned classifier.

Every node is a regular component: no Resolver, no driver hook that an orchestrator might not
run (the open-source KFP v2 backend runs neither), so the same DAG runs locally, on Vertex AI
Pipelines and on KFP v2.

The training branch (Transform, Trainer, Evaluator, ModelCardGen, Pusher) runs under a TFX
conditional (tfx.dsl.Cond): only when ServingBaseline says this run's data is not what the
serving model was trained on, or the run is forced (RunConfig.force, --force).
"""
import dataclasses
import os

from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.proto import example_gen_pb2

from ..core import keys
from ..components import tfx_api as tfx  # tfx.v1's names without its eager extensions
from ..components.anomalies_gate.component import AnomaliesGate
from ..components.evaluation import evaluator as gate_evaluator
from ..components.evaluation import gate
from ..components.hyperrule.component import HyperRule, UpstreamRecipe
from ..components.image_example_gen import sources
from ..components.image_example_gen.component import ImageExampleGen, ImportExampleGen, split_output_config
from ..components.image_schema.component import ImageSchemaGen, SpanDriftValidator
from ..components.model_card.component import ModelCardGen
from ..components.pusher.component import Pusher
from ..components.serving.component import ServingBaseline
from ..components.transform.component import HyperRuleTransform

RUN_FN = "bit_tfx.models.training.run.run_fn"
THROUGH_HYPERRULE = "hyperrule"
THROUGH_PUSHER = "pusher"


def example_gen(config, source):
    output_config = split_output_config(*config.split_ratio)
    if source.layout == sources.TFRECORD:
        # Examples already in our feature format: TFX's ImportExampleGen (as a plain step, see
        # image_example_gen/component.py), split by hashing the file name as ImageExampleGen does.
        output_config.split_config.partition_feature_name = keys.FILENAME
        return ImportExampleGen(
            input_base=source.input_base,
            input_config=example_gen_pb2.Input(splits=[
                example_gen_pb2.Input.Split(name="records", pattern=source.pattern)]),
            output_config=output_config)
    return ImageExampleGen(source, output_config=output_config,
                           max_bad_fraction=config.max_bad_fraction,
                           max_image_pixels=config.max_image_pixels,
                           eval_duplicates=config.eval_duplicates)


def _absolute(path):
    """A local path made absolute (MLMD records it, and a run may be read from elsewhere);
    a URL (gs://) unchanged."""
    return path if "://" in path else os.path.abspath(path)


def trainer_custom_config(config):
    """What run_fn reads: every TrainerConfig field (models/training/config.py), from the
    run configuration's same-named fields."""
    return dataclasses.asdict(config.trainer_config())


class LocalPlatform:
    """Where the Trainer runs, where the Pusher pushes and, the same place, where the gate's
    baseline is looked up. Locally: the Trainer in the pipeline's own process, a filesystem
    Pusher to config.serving_directory. The Kubeflow / Vertex runner (kubeflow/) supplies
    another platform; the DAG itself does not change."""

    def __init__(self, config):
        self.config = config

    def trainer(self, **kwargs):
        return tfx.components.Trainer(**kwargs)

    def serving_baseline(self, examples, input_base=None):
        """ServingBaseline looking where pusher() pushes."""
        return ServingBaseline(examples, serving_directory=self.config.serving_directory,
                               force=self.config.force, input_base=input_base)

    def pusher(self, model, model_blessing):
        return Pusher(
            model=model, model_blessing=model_blessing,
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(
                    base_directory=self.config.serving_directory)))


def decision_step(config, statistics):
    """The HyperRule (fine-tuning), or the UpstreamRecipe (pre-training): the same input and
    output, so everything downstream of it is one DAG."""
    if config.pretrain:
        return UpstreamRecipe(statistics=statistics, schedule=config.upstream_schedule,
                              batch_size=config.batch_size, batch_policy=config.batch_policy,
                              overrides=config.upstream_overrides, seed=config.seed)
    return HyperRule(statistics=statistics, options=config.hyperrule_options())


def create_components(config, source, through=THROUGH_PUSHER, platform=None):
    platform = platform or LocalPlatform(config)
    gen = example_gen(config, source)
    examples = gen.outputs[keys.EXAMPLES_KEY]
    statistics_gen = tfx.components.StatisticsGen(examples=examples)
    statistics = statistics_gen.outputs[keys.STATISTICS_KEY]
    # A curated schema (--schema: TFX's ImportSchemaGen), or the one inferred from the statistics.
    schema_gen = (ImportSchemaGen(schema_file=_absolute(config.schema_file)) if config.schema_file
                  else ImageSchemaGen(statistics=statistics))
    schema = schema_gen.outputs[keys.SCHEMA_KEY]
    validator = tfx.components.ExampleValidator(statistics=statistics, schema=schema)
    # What is serving now, and the schema it shipped with: the drift check's and the gate's
    # baseline (empty, saying why, when nothing is served).
    serving = platform.serving_baseline(examples, input_base=source.input_base)
    drift = SpanDriftValidator(statistics=statistics, serving_schema=serving.outputs[keys.SCHEMA_KEY])
    hyperrule = decision_step(config, statistics)
    hyperparameters = hyperrule.outputs[keys.HYPERPARAMETERS_KEY]
    components = [gen, statistics_gen, schema_gen, validator, serving, drift, hyperrule]
    # --fail-on-anomalies: a step that fails on any anomaly, before Transform and the Trainer.
    anomalies_gate = (AnomaliesGate(anomalies=validator.outputs[keys.ANOMALIES_KEY])
                      if config.fail_on_anomalies else None)
    if anomalies_gate is not None:
        components.insert(components.index(validator) + 1, anomalies_gate)
    if through == THROUGH_HYPERRULE:
        return components

    with tfx.dsl.Cond(training_predicate(serving)):
        training = training_branch(config, source, platform, examples, statistics, schema,
                                   hyperparameters, serving, anomalies_gate)
    return components + training


def training_predicate(serving):
    """Train only on data the serving model was not trained on (or when forced):
    ServingBaseline's `train` on its model output (components/serving/executor.py). A TFX
    conditional: a trigger condition on each step in the compiled KFP / Vertex spec."""
    return serving.outputs[keys.MODEL_KEY].future()[0].custom_property(keys.TRAIN_PROPERTY) == 1


def training_branch(config, source, platform, examples, statistics, schema, hyperparameters, serving,
                    anomalies_gate=None):
    """Transform, Trainer, Evaluator, ModelCardGen, Pusher: what a run with nothing new skips.
    With --fail-on-anomalies, Transform and the Trainer wait for the anomalies gate."""
    transform = HyperRuleTransform(examples=examples, schema=schema, hyperparameters=hyperparameters)
    trainer = platform.trainer(
        run_fn=RUN_FN,
        examples=examples,
        transform_graph=transform.outputs[keys.TRANSFORM_GRAPH_KEY],
        schema=schema,
        hyperparameters=hyperparameters,
        train_args=tfx.proto.TrainArgs(splits=[keys.TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[keys.EVAL_SPLIT], num_steps=0),
        custom_config=trainer_custom_config(config))
    evaluator = gate_evaluator.Evaluator(
        examples=examples, model=trainer.outputs[keys.MODEL_KEY],
        baseline_model=serving.outputs[keys.MODEL_KEY],
        eval_config=gate.eval_config(config.min_accuracy, config.max_accuracy_drop, config.num_classes))
    blessing = evaluator.outputs[keys.BLESSING_KEY]
    # The trained model plus its model card and training schema (assets.extra/): what the
    # Pusher pushes, and what a later run's ServingBaseline reads back.
    card = ModelCardGen(
        model=trainer.outputs[keys.MODEL_KEY], evaluation=evaluator.outputs[keys.EVALUATION_KEY],
        blessing=blessing, hyperparameters=hyperparameters, statistics=statistics,
        examples=examples, schema=schema, input_base=source.input_base,
        training=trainer_custom_config(config))
    pusher = platform.pusher(model=card.outputs[keys.MODEL_KEY], model_blessing=blessing)
    if anomalies_gate is not None:
        transform.add_upstream_node(anomalies_gate)
        trainer.add_upstream_node(anomalies_gate)
    return [transform, trainer, evaluator, card, pusher]


def class_count(config, source):
    """num_classes for per-class metrics: as configured, or counted from the source's plan
    (a TFRecord source has no label list to count: the configured value stands)."""
    if config.num_classes or source.layout == sources.TFRECORD:
        return config.num_classes
    return len(sources.plan(source).labels)


def build(config, through=THROUGH_PUSHER):
    """The pipeline for a RunConfig, with every data check made before it starts: the
    source is resolved and planned (configuration errors now), the class count recorded
    for per-class metrics, the model checked to be reachable when the run trains
    (spec.preflight: offline, a hub URL with no cached copy fails now, not after 8 steps),
    and metadata goes to the config's store (SQLite in OUTPUT, or its MySQL, recorded in
    OUTPUT for the readers of the run)."""
    from ..models.bit import spec as model_spec
    from ..models import backbones
    from . import metadata
    source = sources.resolve(config.data, config.layout)
    config.num_classes = class_count(config, source)
    if through == THROUGH_PUSHER:
        model_spec.preflight(config.model_spec, shipped=backbones.FRACTAL_SMALL.model_spec)
    metadata.preflight(config.metadata_uri)
    metadata.record_store(config)
    return create_pipeline(config, source, metadata.connection_config(config.metadata_uri),
                           through=through)


def create_pipeline(config, source, metadata_connection_config=None, enable_cache=None,
                    through=THROUGH_PUSHER, platform=None):
    """enable_cache: the config's unless given; False with --no-cache (every step runs again)
    and with --force (a forced run trains from a fresh ingestion: with the cache, the Trainer
    would be a cache hit of the model already trained on the same examples)."""
    if enable_cache is None:
        enable_cache = config.enable_cache and not config.force
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config, source, through, platform),
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args))

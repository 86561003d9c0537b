"""One fact, one home: the names and defaults that several layers use are the ones their home
defines (core/keys.py, hyperrule/rule.py, models/training/config.py), not copies of them."""
import dataclasses

import pytest

from bit_tfx.core import keys
from bit_tfx.core import rule
from bit_tfx.models.training.config import TrainerConfig
from bit_tfx.pipeline import configs

NODE_IDS = {value for name, value in vars(keys).items() if name.startswith("NODE_")}


def test_artifact_keys_are_tfxs_own():
    """The names MLMD records in event paths: keys.py spells TFX's values without importing TFX."""
    from tfx.types import standard_component_specs as specs
    ours = {name: value for name, value in vars(keys).items() if name.endswith("_KEY")}
    assert ours and all(getattr(specs, name) == value for name, value in ours.items()), \
        {name: (value, getattr(specs, name, None)) for name, value in ours.items()}


@pytest.mark.parametrize("data, layout, example_gen, pretrain, curated", [
    ("/images", "class_folders", keys.NODE_IMAGE_EXAMPLE_GEN, False, False),
    ("/records/data.tfrecord", "tfrecord", keys.NODE_IMPORT_EXAMPLE_GEN, False, False),
    ("/images", "class_folders", keys.NODE_IMAGE_EXAMPLE_GEN, True, False),
    ("/images", "class_folders", keys.NODE_IMAGE_EXAMPLE_GEN, False, True),
])
def test_the_dag_node_ids_are_the_keys(data, layout, example_gen, pretrain, curated, tmp_path):
    """Built, not run: every node of the whole DAG is named by a keys.NODE_* (the compiled
    Kubeflow/Vertex DAG is checked the same way in test_kubeflow.py); pre-training is the
    same DAG with the UpstreamRecipe in the HyperRule's place; `curated`: --schema (the
    ImportSchemaGen in the ImageSchemaGen's place) and --fail-on-anomalies (AnomaliesGate)."""
    from bit_tfx.components.image_example_gen import sources
    from bit_tfx.pipeline import pipeline
    extra = {}
    if curated:
        (tmp_path / "schema.pbtxt").write_text('feature { name: "image/encoded" type: BYTES } '
                                               'feature { name: "image/class/text" type: BYTES }')
        extra = dict(schema_file=str(tmp_path / "schema.pbtxt"), fail_on_anomalies=True)
    config = configs.RunConfig(data=data, layout=layout, num_classes=2, pretrain=pretrain,
                               **extra).validate()
    components = pipeline.create_components(config, sources.source_from_names(data, layout))
    others = set(keys.EXAMPLE_GEN_NODES) - {example_gen}
    others |= set(keys.DECISION_NODES) - {keys.NODE_UPSTREAM_RECIPE if pretrain else keys.NODE_HYPERRULE}
    others |= {keys.NODE_SCHEMA} if curated else {keys.NODE_IMPORT_SCHEMA, keys.NODE_ANOMALIES_GATE}
    assert sorted(c.id for c in components) == sorted(NODE_IDS - others)


def _defaults(cls):
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def test_cli_and_run_config_defaults_are_the_components(tmp_path, monkeypatch):
    """Changing nothing: `bit-tfx run --data D` configures exactly RunConfig(data=D), whose
    Trainer and HyperRule settings are the components' own defaults."""
    monkeypatch.chdir(tmp_path)  # the default --output is created in the working folder
    from bit_tfx.cli import common
    from bit_tfx.cli.main import build_parser
    from bit_tfx.components.hyperrule.component import HyperRule
    from bit_tfx.core.options import HyperRuleOptions
    from bit_tfx.pipeline import pipeline
    args = build_parser().parse_args(["run", "--data", "/images"])
    config = common.run_config(args)
    assert config == configs.RunConfig(data="/images").validate()

    trainer = TrainerConfig.from_custom_config(pipeline.trainer_custom_config(config))
    assert trainer == TrainerConfig(model_spec=configs.DEFAULT_MODEL_SPEC)
    trainer_defaults = _defaults(TrainerConfig)
    assert {name: getattr(config, name) for name in ("linear_probe", "mixed_precision", "checkpoint_every")} \
        == {name: trainer_defaults[name] for name in ("linear_probe", "mixed_precision", "checkpoint_every")}

    # the HyperRule's settings are its options (core/options.py), at their declared defaults
    assert config.hyperrule_options() == HyperRuleOptions()
    from tfx.types import Channel, standard_artifacts
    built = HyperRule(statistics=Channel(type=standard_artifacts.ExampleStatistics))
    assert HyperRuleOptions.from_json(built.exec_properties["options"]) == HyperRuleOptions()
    assert (config.batch_size, config.batch_policy) == (rule.BASE_BATCH, rule.DEFAULT_BATCH_POLICY)


def test_the_trainer_settings_are_declared_once_and_reach_run_fn_as_set():
    """TrainerConfig declares the Trainer's settings; RunConfig carries the same names with the
    same defaults, and what a user sets arrives in run_fn's config, checked by one validate."""
    import dataclasses
    from bit_tfx.core.errors import ConfigError
    from bit_tfx.pipeline import pipeline
    declared = {f.name for f in dataclasses.fields(TrainerConfig)}
    run_fields = {f.name: f for f in dataclasses.fields(configs.RunConfig)}
    carried = declared & set(run_fields)
    assert carried >= {"model_spec", "linear_probe", "freeze_until", "mixed_precision",
                       "checkpoint_every", "max_image_pixels"}
    trainer_defaults = _defaults(TrainerConfig)
    for name in carried - {"model_spec"}:  # the run's default backbone is the run's to choose
        assert run_fields[name].default == trainer_defaults[name], name
    config = configs.RunConfig(data="/images", model_spec="random:tiny", freeze_until="block2",
                               mixed_precision="bfloat16", checkpoint_every=7,
                               max_image_pixels=123).validate()
    custom = pipeline.trainer_custom_config(config)
    assert set(custom) == declared
    assert TrainerConfig.from_custom_config(custom) == TrainerConfig(
        model_spec="random:tiny", freeze_until="block2", mixed_precision="bfloat16",
        checkpoint_every=7, max_image_pixels=123)
    for bad, field in ((dict(mixed_precision="fp8"), "mixed_precision"),
                       (dict(checkpoint_every=0), "checkpoint_every")):
        with pytest.raises(ConfigError) as e:
            configs.RunConfig(data="/images", **bad).validate()
        assert e.value.field == field

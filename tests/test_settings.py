"""Every user-facing setting is declared once (core/settings.py: a field of HyperRuleOptions or
TrainerConfig with its help), and every surface derived from it agrees: RunConfig's field, the
deployment config's key, the flag of each subcommand that offers it (name, default, help) and
the component's parameter. Built, not run: no pipeline, milliseconds."""
import argparse
import dataclasses
import re

import pytest

from bit_tfx.cli import common
from bit_tfx.cli.main import build_parser
from bit_tfx.core import settings, upstream
from bit_tfx.core.errors import ConfigError
from bit_tfx.core.options import HyperRuleOptions
from bit_tfx.kubeflow import config as deploy_config
from bit_tfx.models.training.config import TrainerConfig
from bit_tfx.pipeline import configs, pipeline

DECLARING = (HyperRuleOptions, TrainerConfig, configs.RunConfig)  # RunConfig: its own fields
# The subcommands that take the run's settings; pretrain takes the Trainer's and the batch plan.
FINE_TUNING_COMMANDS = ("run", "demo", "hyperrule", "compile", "schedule")
# Run settings that compile/schedule do not offer: a compiled pipeline has no local output
# folder (its file is DeployConfig's --spec), its pipeline root is DeployConfig's gs://
# --pipeline-root and its metadata the platform's (--metadata-service).
COMPILE_OWN_FLAGS = {"output", "pipeline_root_override", "metadata_store"}
LOCAL_ONLY = {"enable_cache"}      # a compiled pipeline's cache is the platform's
COMPILE_ONLY = {"num_classes"}     # a local run counts the labels
GATE_AND_SERVING = {"serving_dir", "min_accuracy", "max_accuracy_drop", "force"}
UPSTREAM_ONLY = {"upstream_schedule", "upstream_overrides"}


def _declared():
    seen, out = set(), []
    for cls in DECLARING:
        for f in settings.declared(cls):
            if f.name not in seen:  # RunConfig inherits the others' fields: each once, by its class
                seen.add(f.name)
                out.append((cls, f))
    return out


def _actions(command):
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # pylint: disable=protected-access
    return {a.dest: a for a in sub.choices[command]._actions  # pylint: disable=protected-access
            if not isinstance(a, common.Renamed)}  # a hidden old spelling (test_renamed_flags)


def _help_of(cls, field, fills=None):
    text = field.metadata["help"]
    fills = {**common.COMMON_FILLS, **getattr(cls, "HELP_FILLS", {}), **(fills or {})}
    unfilled = set(re.findall(r"\{(\w+)\}", text)) - set(fills)
    assert not unfilled, f"unfilled names {unfilled} in {field.name}'s help: {text}"
    for key, value in fills.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def test_there_are_declarations_and_each_has_a_help():
    names = [f.name for _, f in _declared()]
    assert {"preserve_orientation", "k_shot", "seed", "batch_size", "model_spec", "linear_probe",
            "freeze_until", "mixed_precision", "checkpoint_every", "max_image_pixels", "layout",
            "split_ratio", "min_accuracy", "upstream_schedule", "metadata_store", "data", "beam_args",
            "pipeline_root_override", "enable_cache", "num_classes"} <= set(names)
    assert len(names) == len(set(names)), "a setting declared by two classes"
    assert all(f.metadata["help"].strip() for _, f in _declared())


def test_run_config_inherits_each_declaration_and_the_deploy_config_takes_its_key():
    run_fields = {f.name: f for f in dataclasses.fields(configs.RunConfig)}
    for cls, field in _declared():
        mine = run_fields[field.name]
        # inherited, not spelled again: the same field object's metadata, default and type
        assert mine.metadata is field.metadata or mine.metadata == field.metadata, field.name
        assert (mine.default, mine.type) == (field.default, field.type), field.name
        assert field.name in deploy_config.RUN_FIELDS, field.name


def _flag_default(field):
    """A flag's default: its field's (a switch's too: --force off, --no-cache's cache on); a
    repeated flag none (the field's default list applies when it is not given); a setting
    without a default (--data) none: the command requires it."""
    if field.metadata["repeat"] or field.default is dataclasses.MISSING:
        return None
    return field.default


def _offered(command, cls, field):
    """Whether `command` offers the setting as declared: `hyperrule` stops before training (of
    the Trainer's settings it takes only the ingestion limit it shares); only pretrain takes the
    upstream recipe's; compile and schedule take no local output folder, pipeline root or
    metadata store (theirs are DeployConfig's: --spec, a gs:// --pipeline-root, --metadata-service)."""
    if field.name in UPSTREAM_ONLY:
        return False
    if command in ("compile", "schedule"):
        return field.name not in COMPILE_OWN_FLAGS | LOCAL_ONLY
    if field.name in COMPILE_ONLY:
        return False
    if command == "hyperrule":
        return (cls is HyperRuleOptions or field.name in common.IN_DATA_GROUP
                or (cls is configs.RunConfig and field.name not in GATE_AND_SERVING))
    return True


@pytest.mark.parametrize("command", FINE_TUNING_COMMANDS)
def test_every_fine_tuning_command_offers_each_setting_as_declared(command):
    actions = _actions(command)
    for cls, field in _declared():
        if field.name in COMPILE_OWN_FLAGS and command in ("compile", "schedule"):
            continue
        assert (field.name in actions) == _offered(command, cls, field), (command, field.name)
        if field.name not in actions:
            continue
        action = actions[field.name]
        assert action.option_strings == [settings.flag(field)], field.name
        expected = _help_of(cls, field)
        if "%(default)s" not in action.help:  # compile/schedule show RunConfig's default as text
            expected = expected.replace("%(default)s", str(field.default))
        assert action.help == expected, (command, field.name)
        if command in ("run", "hyperrule"):  # compile/schedule read --config first; demo has its own
            assert action.default == _flag_default(field), (command, field.name)
        if field.metadata["choices"] is not None:
            assert tuple(action.choices) == tuple(field.metadata["choices"]), field.name


def test_pretrain_offers_the_trainer_settings_and_the_batch_plan_with_the_recipe_s_values():
    actions = _actions("pretrain")
    for cls, field in _declared():
        offered = (cls is TrainerConfig or cls is configs.RunConfig and field.name not in COMPILE_ONLY) or \
            field.name in common.UPSTREAM_BATCH_FLAGS + common.IN_RUN_GROUP
        assert (field.name in actions) == offered, field.name
        if offered and cls is configs.RunConfig:
            fills = {"serving_folder": configs.BACKBONES_DIR}
            assert actions[field.name].help == _help_of(cls, field, fills), field.name
    assert tuple(actions["batch_policy"].choices) == upstream.BATCH_POLICIES
    assert f"accumulating gradients to {upstream.BATCH}" in actions["batch_policy"].help


def test_a_flag_means_one_setting_in_every_command_that_has_it():
    """Across every command that runs or compiles the pipeline, a flag sets one field. The one
    flag on two fields means one thing, where artifacts go: a local run's folder (RunConfig),
    a compiled pipeline's gs:// root (DeployConfig)."""
    dests = {}
    for command in FINE_TUNING_COMMANDS + ("pretrain",):
        for dest, action in _actions(command).items():
            for flag in action.option_strings:
                dests.setdefault(flag, set()).add(dest)
    assert {flag: d for flag, d in dests.items() if len(d) > 1} == \
        {"--pipeline-root": {"pipeline_root_override", "pipeline_root"}}
    assert "--output" not in dests["--spec"] and dests["--metadata"] == {"metadata_store"}


@pytest.mark.parametrize("command, old, new, value", [
    ("compile", "--output", "--spec", "p.json"),
    ("schedule", "--metadata", "--metadata-service", "kfp"),
])
def test_renamed_flags_still_work_and_warn(command, old, new, value, capsys):
    """compile/schedule's old spellings (--output was the compiled file, --metadata vertex|kfp)
    set the new flag's field and name the new flag on stderr; --help shows only the new."""
    parser = build_parser()
    given = parser.parse_args([command, old, value])
    assert vars(given) == vars(parser.parse_args([command, new, value]))
    assert f"{old} is now {new}" in capsys.readouterr().err
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # pylint: disable=protected-access
    shown = sub.choices[command].format_help()
    assert new in shown and f"{old} " not in shown


def test_the_config_file_s_old_keys_are_read_under_their_new_names(caplog):
    values = {"target": "kfp", "output": "p.yaml", "metadata": "kfp"}
    deploy = deploy_config.load(values, source="config file d.yaml")
    assert (deploy.spec, deploy.metadata_service) == ("p.yaml", "kfp")
    assert "key output is now spec" in caplog.text and "key metadata is now metadata_service" in caplog.text
    with pytest.raises(ConfigError, match="gives both output and spec"):
        deploy_config.load({"output": "a.yaml", "spec": "b.yaml"})


def test_report_reads_the_run_s_store_and_pipeline_by_the_same_flags():
    actions = _actions("report")
    for name in ("pipeline_name", "metadata_store"):
        field = next(f for _, f in _declared() if f.name == name)
        assert actions[name].option_strings == [settings.flag(field)], name
        assert actions[name].default == getattr(configs.RunConfig, name), name


def test_components_take_the_declared_objects_whole(tmp_path):
    from tfx.types import Channel, standard_artifacts
    from bit_tfx.components.hyperrule.component import HyperRule
    config = configs.RunConfig(data=str(tmp_path), preserve_orientation=True, k_shot=3, seed=7,
                               batch_size=64, model_spec="random:tiny", freeze_until="block2",
                               log_every=5).validate()
    built = HyperRule(statistics=Channel(type=standard_artifacts.ExampleStatistics),
                      options=config.hyperrule_options())
    options = HyperRuleOptions.from_json(built.exec_properties["options"])
    assert options == config.hyperrule_options()
    assert dataclasses.asdict(options) == {f.name: getattr(config, f.name)
                                           for f in dataclasses.fields(HyperRuleOptions)}
    custom = pipeline.trainer_custom_config(config)
    assert set(custom) == {f.name for f in dataclasses.fields(TrainerConfig)}
    assert TrainerConfig.from_custom_config(custom) == config.trainer_config()
    assert (custom["freeze_until"], custom["log_every"]) == ("block2", 5)


@pytest.mark.parametrize("command", ("compile", "schedule"))
def test_deployment_flags_are_the_deploy_config_s_declarations(command):
    actions = _actions(command)
    declared = settings.declared(deploy_config.DeployConfig)
    assert {"target", "project", "trainer_placement", "cron"} <= {f.name for f in declared}
    for field in declared:
        action = actions[field.name]
        assert action.option_strings == [settings.flag(field)], field.name
        assert action.help == field.metadata["help"], field.name
        if field.metadata["choices"] is not None:
            assert tuple(action.choices) == tuple(field.metadata["choices"]), field.name


def test_the_demo_s_defaults_are_declared_settings_and_its_flags_default_to_them():
    """configs.DEMO_DEFAULTS names RunConfig settings only (a misspelt key would set nothing a
    flag reads), and `bit-tfx demo`'s flags default to those values."""
    declared = {f.name for f in settings.declared(configs.RunConfig)}
    assert set(configs.DEMO_DEFAULTS) <= declared, set(configs.DEMO_DEFAULTS) - declared
    actions = _actions("demo")
    for name, value in configs.DEMO_DEFAULTS.items():
        assert actions[name].default == value, name

"""What every subcommand shares: the exit codes, plain-text Output, and the flags of the
data and training groups (`run`, `demo`, `hyperrule`, `compile`, `schedule`)."""
import argparse
import dataclasses
import json
import os
import sys

from ..core import upstream
from ..models.training import preemption
from ..core import settings
from ..core.options import HyperRuleOptions
from ..models.training.config import TrainerConfig
from ..pipeline import configs

EXIT_OK = 0
EXIT_RUN = 1      # the work ran and failed, or some inputs failed and were reported
EXIT_CONFIG = 2   # bad flags, configuration or input paths: nothing was run
EXIT_REFUSED = 3  # the run finished; the gate did not bless the candidate, nothing was pushed
EXIT_NOTHING_NEW = 4  # the data is what the serving model was trained on: nothing trained (--force trains)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): a re-run continues
EXIT_TERMINATED = preemption.RESTARTABLE_EXIT_CODE  # SIGTERM (143): orchestrators retry; a re-run resumes

# `bit-tfx --help` and the run/demo/pretrain help end with this (README.md, docs/operations.md).
EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK:<4} pushed: a new version is serving (hyperrule: the decision was printed)
  {EXIT_RUN:<4} failure: a step failed (the log file under OUTPUT/logs has the details)
  {EXIT_CONFIG:<4} configuration error: nothing ran
  {EXIT_REFUSED:<4} refused by the gate: the run finished, the candidate was not blessed and
       not pushed (why: not_blessed_because in the JSON on stdout)
  {EXIT_NOTHING_NEW:<4} nothing new: no new data since the serving model was trained, nothing
       trained (--force trains anyway)
  {EXIT_INTERRUPTED:<4} interrupted (Ctrl-C): run it again to continue
  {EXIT_TERMINATED:<4} stopped by SIGTERM: run it again to continue"""


# Flags whose value may itself start with "-" (a Beam argument is a flag): argparse takes the
# space form, `--beam-arg --runner=X`, for two options and refuses it ("expected one argument"),
# so Parser joins it into `--beam-arg=--runner=X`, which it takes.
DASH_VALUE_FLAGS = ("--beam-arg",)


def join_dash_values(argv):
    """argv with every `FLAG VALUE` of DASH_VALUE_FLAGS whose VALUE starts with "-" written
    `FLAG=VALUE`; nothing after a `--` (the end of the options) is touched."""
    joined, rest = [], list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            return joined + [arg] + rest
        if arg in DASH_VALUE_FLAGS and rest and rest[0].startswith("-"):
            arg = f"{arg}={rest.pop(0)}"
        joined.append(arg)
    return joined


class Parser(argparse.ArgumentParser):
    """The `bit-tfx` parser (cli/main.py); its subcommands' parsers are made of the same class.
    Both spellings of a flag in DASH_VALUE_FLAGS parse alike, for every subcommand."""

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else args
        return super().parse_known_args(join_dash_values(args), namespace)


class Renamed(argparse.Action):
    """A flag's former spelling: still taken (its value goes where the new flag's goes, with
    the new flag's type), hidden from --help, and a warning on stderr names the new spelling.
    add_renamed(parser, "--old", "--new") declares one."""

    def __init__(self, option_strings, dest, new_flag=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new_flag = new_flag

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stderr.write(f"bit-tfx: warning: {option_string} is now {self.new_flag} (the old "
                         "spelling still works, and will go)\n")
        setattr(namespace, self.dest, values)


def add_renamed(parser, old, new):
    """`old` as a hidden spelling of the flag `new` already on `parser` (class Renamed)."""
    target = next(a for a in parser._actions if new in a.option_strings)  # pylint: disable=protected-access
    parser.add_argument(old, dest=target.dest, type=target.type, metavar=target.metavar,
                        action=Renamed, new_flag=new, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def json_document(result):
    """A command's JSON answer as printed on stdout (cli/main.py; cli/run.py for a run that
    exits with its own code): one object, indented, keys sorted."""
    return json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False)


@dataclasses.dataclass
class Output:
    """A command's stdout when it is not one JSON document (a table, JSON lines), with the
    exit code to end on (EXIT_RUN when some inputs failed and were reported)."""
    text: str
    exit_code: int = EXIT_OK


def ratio(text):
    try:
        train, eval_ = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN:EVAL integers such as 9:1, got {text!r}")
    return train, eval_


def json_object(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e}): {text!r}")


def positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


PARSERS = {settings.PARSE_JSON_OBJECT: json_object,  # core/settings.py's PARSE_* -> a flag's type
           settings.PARSE_RATIO: ratio}
COMMON_FILLS = {"exit_nothing_new": EXIT_NOTHING_NEW}  # what any help's {name} may say


def add_setting_flags(group, cls, names, fills=None, choices=None, required=()):
    """The flags of declared settings (core/settings.py: a field of cls and its metadata): the
    flag, its help, its default (the field's: RunConfig inherits it), its type or choices.
    A bool setting is a switch (core/settings.py setting); a repeated one appends, and given
    no time it is None here (the field's default then applies: _run_config). `fills`: the
    values of the {names} in a help, over cls.HELP_FILLS; `choices`: a command's narrower
    choices, by field; `required`: the settings this command cannot run without."""
    declared = {f.name: f for f in settings.declared(cls)}
    fills = {**COMMON_FILLS, **getattr(cls, "HELP_FILLS", {}), **(fills or {})}
    for name in names:
        field, meta = declared[name], declared[name].metadata
        text = meta["help"]
        for key, value in fills.items():  # not str.format: a help may show JSON's braces
            text = text.replace("{" + key + "}", str(value))
        kwargs = dict(dest=field.name, help=text)
        if field.type is bool:
            kwargs["action"] = "store_false" if field.default else "store_true"
        else:
            kind = settings.value_type(field.type)
            kwargs["type"] = PARSERS.get(meta["parse"]) or (str if kind is list else kind)
            if meta["repeat"]:
                kwargs.update(action="append", default=None)
            elif settings.has_default(field):
                kwargs["default"] = field.default
            else:
                kwargs["required"] = name in required
            for key in ("choices", "metavar"):
                if meta[key] is not None:
                    kwargs[key] = meta[key]
            if choices and name in choices:
                kwargs["choices"] = choices[name]
        group.add_argument(settings.flag(field), **kwargs)


# Where the declared settings (core/options.py HyperRuleOptions, models/training/config.py
# TrainerConfig) appear in --help: each class's settings in its group ("HyperRule"; "model,
# evaluation and serving"), except these, shown with the flags they belong beside. A new
# setting needs no edit here.
IN_DATA_GROUP = ("max_image_pixels",)  # ingestion's limit too
IN_RUN_GROUP = ("seed",)               # pre-training's too
UPSTREAM_BATCH_FLAGS = ("batch_size", "batch_policy")  # the upstream recipe's batch plan


def _group_settings(cls):
    return [f.name for f in settings.declared(cls) if f.name not in IN_DATA_GROUP + IN_RUN_GROUP]


def add_data_args(p, data_required=True, pretrain=False, local=True):
    """The data, recipe and run flags. `pretrain`: the upstream recipe's flags in place of the
    HyperRule's (a HyperRule-only flag would be refused there, so it is not offered).

    Help texts show a default as %(default)s: the value of the command at hand, which the demo
    and pretrain parsers set with set_defaults (a batch of 16 for the demo, not the run's 512)."""
    g = p.add_argument_group("data")
    add_setting_flags(g, configs.RunConfig, ("data", "layout", "split_ratio", "max_bad_fraction"),
                      required=("data",) if data_required else ())
    add_setting_flags(g, TrainerConfig, IN_DATA_GROUP)
    add_setting_flags(g, configs.RunConfig, ("eval_duplicates", "schema_file", "fail_on_anomalies"))
    if pretrain:
        _add_upstream_args(p.add_argument_group("upstream recipe (pre-training)"))
    else:
        _add_hyperrule_args(p.add_argument_group("HyperRule"))
    g = p.add_argument_group("run")
    add_setting_flags(g, configs.RunConfig, ("output", "pipeline_root_override", "pipeline_name"))
    add_setting_flags(g, HyperRuleOptions, IN_RUN_GROUP)
    add_setting_flags(g, configs.RunConfig, ("beam_args",))
    if local:  # a compiled pipeline's store and cache are the platform's (docs/deploy.md)
        add_setting_flags(g, configs.RunConfig, ("enable_cache", "metadata_store"))


def _add_hyperrule_args(g):
    add_setting_flags(g, HyperRuleOptions, _group_settings(HyperRuleOptions))


def _add_upstream_args(g):
    add_setting_flags(g, HyperRuleOptions, UPSTREAM_BATCH_FLAGS,
                      fills={"recipe": "recipe", "base_batch": upstream.BATCH, "keep_lr": ""},
                      choices={"batch_policy": upstream.BATCH_POLICIES})
    add_setting_flags(g, configs.RunConfig, ("upstream_schedule", "upstream_overrides"))


def add_train_args(p, pretrain=False):
    g = p.add_argument_group("model, evaluation and serving")
    add_setting_flags(g, TrainerConfig, _group_settings(TrainerConfig))
    add_setting_flags(g, configs.RunConfig, ("serving_dir", "min_accuracy", "max_accuracy_drop", "force"),
                      fills={"serving_folder": configs.BACKBONES_DIR if pretrain else configs.SERVING_DIR})


CONFIG_FILE_COMMANDS = ("compile", "schedule")  # they also read RunConfig fields from --config


def _flags_by_field():
    """{RunConfig field: the flag that sets it}, read from the parser itself."""
    flags = {}
    for pretrain in (False, True):
        parser = argparse.ArgumentParser(add_help=False)
        add_data_args(parser, pretrain=pretrain)
        add_train_args(parser, pretrain=pretrain)
        flags.update({a.dest: a.option_strings[0] for a in parser._actions})  # pylint: disable=protected-access
    return flags


def config_error_text(error, args):
    """A ConfigError as the user should read it: a field's name replaced by the flag they
    typed (`--split-ratio`, not `split_ratio`); where the command also reads a --config file
    (compile, schedule), by the flag and the file's key."""
    flag = _flags_by_field().get(getattr(error, "field", None))
    if flag is None:
        return str(error)
    return error.named(f"{flag} (config key {error.field})" if args.command in CONFIG_FILE_COMMANDS
                       else flag)


def suppress_defaults(parser, keep=("help",)):
    """Only the flags a user gave reach args (the others are absent, not defaulted), so that
    values read from a config file are not overwritten by flag defaults."""
    for action in parser._actions:  # pylint: disable=protected-access  (argparse has no public API)
        if action.dest not in keep:
            if action.help and "%(default)s" in action.help:  # --help still shows RunConfig's default
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = argparse.SUPPRESS


def run_config(args):
    """The RunConfig of the data (and, where present, training) flags, validated. Once it is
    valid, a pipeline command's console (args.console, set by main) starts its log file under
    OUTPUT; a configuration error found later (from the data, the model, the metadata store)
    makes main discard it (Console.discard): a configuration error writes nothing there."""
    output = getattr(args, "output", None)
    new_output = bool(output) and not os.path.exists(output)
    config = _run_config(args)
    console = getattr(args, "console", None)
    if console is not None:
        console.start(config.output, created=[config.output] if new_output else [])
    return config


def _run_config(args):
    """RunConfig from the flags: every declared setting the command offers (core/settings.py);
    a repeated flag given no time (None) keeps the field's default. `pretrain` is the command's."""
    values = {f.name: getattr(args, f.name) for f in settings.declared(configs.RunConfig)
              if hasattr(args, f.name) and not (f.metadata["repeat"] and getattr(args, f.name) is None)}
    if getattr(args, "pretrain", False):
        values["pretrain"] = True
    return configs.RunConfig(**values).validate().check_local_folders()

"""A user-facing setting is declared once: a field of the typed config that the code acting on
it reads (the Trainer's TrainerConfig, the HyperRule's HyperRuleOptions), whose metadata holds
its help and, where it is not the field's name, its flag. Every other surface derives from that
field:

    RunConfig (pipeline/configs.py)   inherits the field: name, type, default
    the deployment config's keys      RunConfig's fields (kubeflow/config.py)
    the CLI flags                     cli/common.py add_setting_flags, for every subcommand
                                      that takes the setting
    the components' parameters        the whole typed object, serialised: the Trainer's
                                      custom_config, the HyperRule's `options`

tests/test_settings.py walks the declarations and checks that every surface agrees (names,
defaults, help), so a new setting is one field here plus the code where it acts.
Pure Python (no TensorFlow).
"""
import dataclasses
import typing

# How a flag's text becomes the value, for settings whose type is not a plain str/int/float/bool
# (the CLI maps these to its parsers: cli/common.py PARSERS).
PARSE_JSON_OBJECT = "json_object"
PARSE_RATIO = "ratio"  # TRAIN:EVAL integers


def setting(default=dataclasses.MISSING, *, help, flag=None, metavar=None, choices=None,
            parse=None, default_factory=dataclasses.MISSING, repeat=False):
    """A dataclass field declaring a user-facing setting. `help` may hold %(default)s (the
    command's default: the demo's batch is not the run's); `flag` when it is not
    --<name-with-dashes>; `choices`, `metavar` and `parse` (PARSE_*) as the flag takes them.
    A bool setting is a switch: one whose default is False turns it on (`--force`), one whose
    default is True turns it off (`--no-cache`, flag named). `repeat`: a list setting given
    by repeating its flag (`--beam-arg A --beam-arg B`); leaving it out keeps the default.
    No default (neither `default` nor `default_factory`): each command says whether its flag
    is required (`--data`)."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={
        "help": help, "flag": flag, "metavar": metavar, "choices": choices, "parse": parse,
        "repeat": repeat})


def has_default(field):
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def declared(cls):
    """The declared settings of a config class (its fields that carry a help), in order."""
    return tuple(f for f in dataclasses.fields(cls) if "help" in f.metadata)


def flag(field):
    """The command-line flag of a declared setting."""
    return field.metadata["flag"] or "--" + field.name.replace("_", "-")


def value_type(hint):
    """The Python type of a field's annotation: int for int and Optional[int], list for
    List[str], ... (a flag's type, a config file value's expected type)."""
    origin = getattr(hint, "__origin__", None)
    if origin is typing.Union:
        return value_type(hint.__args__[0])
    return origin or hint


def from_attributes(cls, source):
    """A cls from the same-named attributes of `source` (RunConfig, which inherits the declaring
    classes' fields; the Kubeflow config wraps one); fields it lacks keep their defaults."""
    return cls(**{f.name: getattr(source, f.name) for f in dataclasses.fields(cls)
                  if hasattr(source, f.name)})

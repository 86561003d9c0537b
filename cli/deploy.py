"""`bit-tfx compile`, `bit-tfx schedule` and `bit-tfx rehearse`: the pipeline for Vertex AI
Pipelines or KFP v2, and a compiled spec run on this machine before its first cloud run.

    bit-tfx compile --target vertex --spec pipeline.json --project P --region R \\
        --pipeline-root gs://B/root --image IMAGE --serving-dir gs://B/serving \\
        --data gs://B/images/span-{SPAN} --layout class_folders --num-classes 5
    bit-tfx schedule --config deploy.yaml --cron "0 3 * * 1" --dry-run
    bit-tfx rehearse pipeline.json --data ./images --output ./rehearsal

Every flag is also a key of the --config file (JSON or YAML; `--trainer-accelerator-type`
is `trainer_accelerator_type`); flags win. The data and model flags are those of
`bit-tfx run`. See docs/deploy.md.
"""
import argparse
import dataclasses
import logging
import os
import tempfile

from ..core import settings
from ..core.errors import ConfigError
from ..kubeflow import config as deploy_config
from ..kubeflow import validation
from ..pipeline import configs

from . import common, console

# DeployConfig's settings shown beside --config, not in the "deployment" group; --pipeline-root
# (the gs:// root) replaces that of `run`.
_OWN_PLACE = ("spec", "pipeline_root")
_DEPLOY_FIELDS = {f.name: f for f in settings.declared(deploy_config.DeployConfig)}
_NOT_CONFIG = {"config", "dry_run", "help", "verbose", "command", "func"}


def _add_deploy_args(p, schedule):
    p.add_argument("--config", metavar="FILE", help="deployment config, JSON or YAML (flags override it)")
    common.add_setting_flags(p, deploy_config.DeployConfig, _OWN_PLACE)
    common.add_setting_flags(p, configs.RunConfig, ("num_classes",))
    g = p.add_argument_group("deployment")
    common.add_setting_flags(g, deploy_config.DeployConfig,
                             [f.name for f in settings.declared(deploy_config.DeployConfig)
                              if f.name not in _OWN_PLACE])
    # The old spellings of renamed keys (kubeflow/config.py RENAMED_KEYS) as hidden flags:
    # --output is run's output folder and --metadata run's MySQL store everywhere else.
    for old, new in deploy_config.RENAMED_KEYS.items():
        common.add_renamed(p, "--" + old.replace("_", "-"), settings.flag(_DEPLOY_FIELDS[new]))
    if schedule:
        p.add_argument("--dry-run", action="store_true",
                       help="print the exact request (JSON) instead of sending it")


def add_parsers(subparsers):
    """Registers `compile` and `schedule` on the bit-tfx command line."""
    for name, func, text in (
            ("compile", cmd_compile, "compile the pipeline for Vertex AI (PipelineJob JSON) or KFP v2 (YAML)"),
            ("schedule", cmd_schedule, "create a Vertex AI schedule or KFP recurring run for retraining")):
        # "resolve": our --pipeline-root (gs://) replaces run's, and --output (the old spelling
        # of --spec) run's output folder, which a compiled pipeline has none of.
        p = subparsers.add_parser(name, help=text, conflict_handler="resolve", description=__doc__.splitlines()[0])
        common.add_data_args(p, data_required=False, local=False)
        common.add_train_args(p)
        _add_deploy_args(p, schedule=name == "schedule")
        common.suppress_defaults(p, keep=("help", "dry_run"))
        p.set_defaults(func=func)
    p = subparsers.add_parser(
        "rehearse", help="run a compiled spec here, task by task through each task's own container "
                         "command, on local data (before the first cloud run)",
        description="Runs a spec that `bit-tfx compile` wrote (Vertex AI .json or KFP .yaml) on this "
                    "machine, task by task, as a KFP launcher hands each task to its container. The "
                    "spec's data root becomes --data; its pipeline root, serving folder and metadata "
                    "go under --output (other gs:// paths to OUTPUT/gcs/BUCKET/PATH, or --map); Google "
                    "Cloud services run their local equivalent. See docs/deploy.md, 'Rehearse'.")
    p.add_argument("spec", metavar="SPEC", help="the compiled file (bit-tfx compile --spec)")
    p.add_argument("--data", required=True, metavar="LOCAL_FOLDER",
                   help="the local folder that stands for the spec's data root (for gs://B/images/span-{SPAN}: "
                        "the folder holding span-1, span-2, ...)")
    p.add_argument("--output", required=True, metavar="DIR",
                   help="the pipeline root, serving folder, metadata and logs of the rehearsal, as "
                        "`bit-tfx run --output` lays them out")
    p.add_argument("--map", action="append", default=[], metavar="GS_PREFIX=LOCAL_FOLDER",
                   help="another gs:// prefix the spec names and the local folder standing for it "
                        "(e.g. the model's weights); repeatable")
    p.set_defaults(func=cmd_rehearse)


def cmd_rehearse(args):
    from ..kubeflow import rehearse
    rehearsal = rehearse.Rehearsal(args.spec, args.data, args.output, tuple(args.map)).check()
    args.console.start(args.output)
    from . import run
    return run.answer(rehearse.rehearse(rehearsal))


def deploy_from_args(args):
    """DeployConfig: the --config file, then the flags given."""
    given = {k: v for k, v in vars(args).items()
             if k not in _NOT_CONFIG and v is not argparse.SUPPRESS}
    file_values = deploy_config.read_file(args.config) if getattr(args, "config", None) else {}
    return deploy_config.load(file_values, given, source=f"config file {args.config}" if file_values else "flags")


def cmd_compile(args):
    deploy = validation.validate(deploy_from_args(args))
    if not deploy.spec:
        raise ConfigError("spec: name the compiled file (--spec pipeline.json for vertex, "
                          "pipeline.yaml for kfp)")
    console.import_tensorflow_quietly(getattr(args, "verbose", False))
    from ..kubeflow import compile as compiling
    return compiling.compile_pipeline(deploy)


def cmd_schedule(args):
    deploy = validation.validate(deploy_from_args(args), need_cron=True)
    if deploy.run.max_accuracy_drop > 0:
        logging.warning("max_accuracy_drop is %s: a scheduled run may push a model that much worse than "
                        "the model serving (0 forbids any drop)", deploy.run.max_accuracy_drop)
    console.import_tensorflow_quietly(getattr(args, "verbose", False))
    from ..kubeflow import compile as compiling, schedule
    with tempfile.TemporaryDirectory(prefix="bit-tfx-schedule-") as tmp:
        if not deploy.spec:
            suffix = deploy_config.OUTPUT_SUFFIXES[deploy.target][0]
            deploy = dataclasses.replace(deploy, spec=os.path.join(tmp, deploy.pipeline_name + suffix))
        compiled = compiling.compile_pipeline(deploy)
        result = schedule.create(deploy, deploy.spec, dry_run=args.dry_run)
    result["compiled"] = compiled
    return result

"""`bit-tfx hyperrule`, `bit-tfx run`, `bit-tfx pretrain` and `bit-tfx demo`: the local pipeline
(`pretrain` is `run` with the upstream recipe: RunConfig.pretrain)."""
import logging
import os

from ..models import backbones
from ..pipeline import configs

from . import common


# Each command checks its configuration before importing the pipeline (TensorFlow, TFX):
# a bad flag fails at once, before any work.

def cmd_hyperrule(args):
    config = common.run_config(args)
    from ..pipeline import runner
    return runner.run_until_hyperrule(config).to_json()  # printed: the artifact's own JSON


def cmd_run(args):
    config = common.run_config(args)
    from ..pipeline import runner
    return answer(runner.run_all(config))


def answer(summary):
    """The run's JSON (RunSummary.to_json); a run that trained nothing (the data is what the
    model serving was trained on) ends with EXIT_NOTHING_NEW, so a schedule or a script can tell."""
    if not summary.trained_nothing:
        return summary.to_json()
    return common.Output(common.json_document(summary.to_json()), exit_code=common.EXIT_NOTHING_NEW)


def cmd_demo(args):
    args.data = os.path.join(args.output, configs.DEMO_DATA_DIR)
    config = common.run_config(args)  # before the demo data is written into --output
    from ..datasets import digits
    from ..pipeline import runner
    if not os.path.isdir(args.data):
        n = digits.write_digits(args.data, per_class=args.per_class)
        logging.info("Wrote the demo dataset (scikit-learn digits): %d images in %s", n, args.data)
    if args.model_spec == configs.DEMO_DEFAULTS["model_spec"]:
        backbones.check()  # the shipped weights are the ones recorded (SHA256SUMS)
    logging.info("DEMO: fine-tuning %s on %s with the BiT-HyperRule (batch %d, %s); the gate "
                 "blesses at eval accuracy %s or above", args.model_spec, args.data, args.batch_size,
                 args.batch_policy, args.min_accuracy)
    return answer(runner.run_all(config))


def add_parsers(sub):
    p = sub.add_parser("hyperrule", help="ingest, validate and print the BiT-HyperRule decision as JSON")
    common.add_data_args(p)
    p.set_defaults(func=cmd_hyperrule)
    p = sub.add_parser("run", help="the whole pipeline: ingest, validate, fine-tune BiT, evaluate, push")
    common.add_data_args(p)
    common.add_train_args(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("pretrain", help="upstream pre-training through the same pipeline: the BiT "
                                        "upstream recipe, pushes a backbone (TF Hub layout + .npz)")
    common.add_data_args(p, pretrain=True)
    common.add_train_args(p, pretrain=True)
    p.set_defaults(func=cmd_run, pretrain=True, pipeline_name=configs.PRETRAIN_PIPELINE_NAME,
                   model_spec=configs.PRETRAIN_MODEL_SPEC)
    p = sub.add_parser("demo", help="the whole pipeline offline: fine-tunes the shipped pre-trained "
                                    "backbone on the embedded digits dataset")
    common.add_data_args(p, data_required=False)
    common.add_train_args(p)
    p.add_argument("--per-class", type=int, default=configs.DEMO_PER_CLASS,
                   help=f"demo images per class (default {configs.DEMO_PER_CLASS})")
    p.set_defaults(func=cmd_demo, **configs.DEMO_DEFAULTS)

"""`bit-tfx hyperrule`, `bit-tfx run` and `bit-tfx demo`: the local pipeline."""
import logging
import os

from bit_tfx.cli import common
from bit_tfx.pipeline import configs


# Each command validates its configuration before importing the pipeline (TensorFlow, TFX,
# Beam): a bad flag is refused at once, and before anything is written.
def cmd_hyperrule(args):
    config = common.run_config(args)
    from bit_tfx.pipeline import runner
    return runner.run_until_hyperrule(config)


def cmd_run(args):
    config = common.run_config(args)
    from bit_tfx.pipeline import runner
    return runner.run_all(config)


def cmd_demo(args):
    data = args.data = os.path.join(args.output, configs.DEMO_DATA_DIR)
    config = common.run_config(args)
    from bit_tfx.pipeline import demo_data, runner
    if not os.path.isdir(data):
        n = demo_data.write_digits(data, per_class=args.per_class)
        logging.info("Wrote the demo dataset (scikit-learn digits): %d images in %s", n, data)
    logging.warning("DEMO: %s is a SMOKE MODEL (a tiny randomly initialised ResNet-v2, no "
                    "pre-training) on a %s-step schedule: this exercises the pipeline, it is not "
                    "transfer learning, and the demo's accuracy gate is %s. For real use: "
                    "bit-tfx run --data YOUR_IMAGES (BiT-M-R50x1 from TF Hub by default).",
                    args.model_spec, args.schedule_override["total"], args.min_accuracy)
    return runner.run_all(config)


def add_parsers(sub):
    p = sub.add_parser("hyperrule", help="ingest, validate and print the BiT-HyperRule decision as JSON")
    common.add_data_args(p)
    p.set_defaults(func=cmd_hyperrule)
    p = sub.add_parser("run", help="the whole pipeline: ingest, validate, fine-tune BiT, evaluate, push")
    common.add_data_args(p)
    common.add_train_args(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="the whole pipeline offline on the embedded digits dataset "
                                    "with a tiny random smoke model")
    common.add_data_args(p, data_required=False)
    common.add_train_args(p)
    p.add_argument("--per-class", type=int, default=configs.DEMO_PER_CLASS,
                   help=f"demo images per class (default {configs.DEMO_PER_CLASS})")
    p.set_defaults(func=cmd_demo, **configs.DEMO_DEFAULTS)

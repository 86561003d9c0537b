"""The `bit-tfx` command line. Logs go to stderr; results (JSON) go to stdout.

Heavy imports (TensorFlow, TFX, Beam) happen inside the commands, after the
arguments and the configuration have been checked, so a bad flag fails at once.
"""
import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import warnings

# Before anything imports TensorFlow: TFX, TFMA and hub.KerasLayer need Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from components import keys  # noqa: E402
from components.errors import ConfigError  # noqa: E402
from components.hyperrule import rule  # noqa: E402
from pipeline import configs  # noqa: E402

EXIT_CONFIG = 2
EXIT_RUN = 1


@dataclasses.dataclass
class Output:
    """A command's stdout when it is not one JSON document (a table, JSON lines), with the
    exit code to end on (EXIT_RUN when some inputs failed and were reported)."""
    text: str
    exit_code: int = 0


def _ratio(text):
    try:
        train, eval_ = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN:EVAL integers such as 9:1, got {text!r}")
    return train, eval_


def _json_object(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e}): {text!r}")


def _add_data_args(p, data_required=True):
    g = p.add_argument_group("data")
    g.add_argument("--data", required=data_required,
                   help="image folder (root/<label>/..., or root/train|eval/<label>/...), a CSV "
                        "manifest path,label[,split], or TFRecords; {SPAN} in a name picks the newest span")
    g.add_argument("--layout", default="auto",
                   choices=["auto", "class_folders", "split_folders", "csv", "tfrecord"])
    g.add_argument("--split-ratio", type=_ratio, default=keys.DEFAULT_SPLIT_RATIO, metavar="TRAIN:EVAL",
                   help="hash split when the data has no split of its own (default 9:1)")
    g.add_argument("--max-bad-fraction", type=float, default=keys.DEFAULT_MAX_BAD_FRACTION,
                   help="fail when more than this fraction of files are not usable images (default 0.01)")
    g.add_argument("--max-image-pixels", type=int, default=keys.DEFAULT_MAX_IMAGE_PIXELS,
                   help="refuse images with more pixels than this as decompression bombs")
    g = p.add_argument_group("HyperRule")
    g.add_argument("--preserve-count", action="store_true",
                   help="the label counts objects: no random crop")
    g.add_argument("--preserve-orientation", action="store_true",
                   help="the label depends on orientation: no random flip")
    g.add_argument("--batch-size", type=int, default=rule.BASE_BATCH,
                   help="global batch actually used (default 512)")
    g.add_argument("--batch-policy", choices=rule.BATCH_POLICIES, default="accumulate",
                   help="keep the rule at a smaller batch by accumulating gradients to 512 "
                        "(exact, default) or by scaling the learning rate linearly")
    g.add_argument("--k-shot", type=int, default=None, help="k examples per class (dataset size k*classes)")
    g.add_argument("--schedule-override", type=_json_object, default=None, metavar="JSON",
                   help='smoke runs only: {"warmup": 2, "boundaries": [4, 6, 8], "total": 10}; '
                        "recorded in the artifact as an override")
    g = p.add_argument_group("run")
    g.add_argument("--output", default="bit-tfx-output",
                   help="pipeline root, SQLite metadata and logs go under this folder")
    g.add_argument("--pipeline-root", default=None,
                   help="where artifacts go (default OUTPUT/pipeline_root); gs://... for Dataflow")
    g.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
    g.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                   help="Beam pipeline argument, repeatable (default: in-memory DirectRunner); "
                        "e.g. --beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=2")


def _add_train_args(p):
    g = p.add_argument_group("model, evaluation and serving")
    g.add_argument("--model", dest="model_spec", default=configs.DEFAULT_MODEL_SPEC, metavar="SPEC",
                   help="backbone: hub:URL|DIR, npz:NAME|PATH, BiT-M-R50x1, random:ARCH "
                        "(docs/models.md); default BiT-M-R50x1 from TF Hub")
    g.add_argument("--serving-dir", default=None,
                   help="pushed versions go to SERVING_DIR/<version>/ (default OUTPUT/serving)")
    g.add_argument("--linear-probe", action="store_true",
                   help="freeze the backbone and train only the head (not the HyperRule)")
    g.add_argument("--mixed-precision", choices=["none", "bfloat16", "float16"], default="none")
    g.add_argument("--checkpoint-every", type=int, default=100, metavar="STEPS")
    g.add_argument("--min-accuracy", type=float, default=configs.DEFAULT_MIN_ACCURACY,
                   help="bless only at or above this eval accuracy (default 0.5), first run included")
    g.add_argument("--max-accuracy-drop", type=float, default=0.0,
                   help="allowed accuracy drop against the last blessed model (default 0: no regression)")


def _config(args):
    train = {}
    if hasattr(args, "model_spec"):
        train = dict(model_spec=args.model_spec, serving_dir=args.serving_dir,
                     linear_probe=args.linear_probe, mixed_precision=args.mixed_precision,
                     checkpoint_every=args.checkpoint_every, min_accuracy=args.min_accuracy,
                     max_accuracy_drop=args.max_accuracy_drop)
    return configs.RunConfig(**train,
        data=args.data, output=args.output, pipeline_name=args.pipeline_name, layout=args.layout,
        split_ratio=args.split_ratio, max_bad_fraction=args.max_bad_fraction,
        max_image_pixels=args.max_image_pixels, preserve_count=args.preserve_count,
        preserve_orientation=args.preserve_orientation, batch_size=args.batch_size,
        batch_policy=args.batch_policy, k_shot=args.k_shot, schedule_override=args.schedule_override,
        beam_args=args.beam_arg or list(configs.DEFAULT_BEAM_ARGS),
        pipeline_root_override=args.pipeline_root).validate()


def _run_pipeline(config, through):
    from pipeline import pipeline, runner
    runner.run_local(pipeline.build(config, through))


def _run_until_hyperrule(config):
    """Runs ingestion -> statistics -> schema -> validation -> HyperRule; returns the decision."""
    from components.hyperrule.component import read_decision
    from pipeline import metadata, pipeline
    _run_pipeline(config, pipeline.THROUGH_HYPERRULE)
    store = metadata.open_store(config.metadata_path)
    execution, artifact = metadata.latest_output(store, config.pipeline_name, "HyperRule",
                                                 "hyperparameters")
    decision = read_decision(artifact.uri)
    logging.info("HyperRule %s: %s", "cached" if metadata.was_cached(execution) else "ran",
                 artifact.uri)
    return decision


def cmd_hyperrule(args):
    return _run_until_hyperrule(_config(args))


def _run_all(config):
    from pipeline import pipeline, results
    _run_pipeline(config, pipeline.THROUGH_PUSHER)
    summary = results.summarize(config)
    if summary["blessed"]:
        logging.info("Blessed; pushed to %s", summary["pushed_to"])
    else:
        logging.warning("NOT blessed, not pushed: %s", "; ".join(summary.get("not_blessed_because", [])))
    summary["report"] = _write_report(config)
    return summary


def _write_report(config):
    """The evaluation report and model card under OUTPUT/report; None when that fails. The
    model was already evaluated and pushed (or refused), so a report error must not fail the run."""
    from pipeline import report
    try:
        path = report.write_report(config)["report"]
    except Exception as e:  # pylint: disable=broad-except
        logging.warning("The run finished, but its report could not be written (retry with "
                        "`bit-tfx report %s`): %s: %s", config.output, type(e).__name__, e)
        return None
    logging.info("Report: %s", path)
    return path


def cmd_run(args):
    return _run_all(_config(args))


def cmd_demo(args):
    from pipeline import demo_data
    data = os.path.join(args.output, "demo-data")
    if not os.path.isdir(data):
        n = demo_data.write_digits(data, per_class=args.per_class)
        logging.info("Wrote the demo dataset (scikit-learn digits): %d images in %s", n, data)
    args.data = data
    logging.warning("DEMO: %s is a SMOKE MODEL (a tiny randomly initialised ResNet-v2, no "
                    "pre-training) on a %s-step schedule: this exercises the pipeline, it is not "
                    "transfer learning, and the demo's accuracy gate is %s. For real use: "
                    "bit-tfx run --data YOUR_IMAGES (BiT-M-R50x1 from TF Hub by default).",
                    args.model_spec, args.schedule_override["total"], args.min_accuracy)
    return _run_all(_config(args))


# The demo must finish on 2 CPU cores in a few minutes: a tiny random model and a short
# schedule at batch 32 with a learning rate for training from scratch (0.003 is for
# fine-tuning a pre-trained BiT), recorded as an override in the HyperParameters artifact.
# A smoke model is not expected to learn digits in 60 steps, so the demo's accuracy gate is
# 0: it shows the plumbing (train, evaluate, bless, push), not a model worth serving.
DEMO_DEFAULTS = dict(output="demo-output", model_spec=configs.DEMO_MODEL_SPEC, batch_size=32,
                     batch_policy="scale_lr", min_accuracy=0.0,
                     schedule_override={"warmup": 5, "boundaries": [40, 50, 55], "total": 60,
                                        "learning_rate": 0.01})


def build_parser():
    parser = argparse.ArgumentParser(prog="bit-tfx", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show the libraries' INFO logs too")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("hyperrule", help="ingest, validate and print the BiT-HyperRule decision as JSON")
    _add_data_args(p)
    p.set_defaults(func=cmd_hyperrule)
    p = sub.add_parser("run", help="the whole pipeline: ingest, validate, fine-tune BiT, evaluate, push")
    _add_data_args(p)
    _add_train_args(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="the whole pipeline offline on the embedded digits dataset "
                                    "with a tiny random smoke model")
    _add_data_args(p, data_required=False)
    _add_train_args(p)
    p.add_argument("--per-class", type=int, default=40, help="demo images per class (default 40)")
    p.set_defaults(func=cmd_demo, **DEMO_DEFAULTS)
    from pipeline import predict  # here, not at the top: predict imports Output from this module
    predict.add_parser(sub)
    from pipeline import report
    report.add_parser(sub)
    from kubeflow import cli as kubeflow_cli  # compile, schedule (Vertex AI / KFP v2)
    kubeflow_cli.add_parsers(sub)
    return parser


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_CODE = tuple(os.path.join(_ROOT, pkg) + os.sep for pkg in ("components", "pipeline", "kubeflow"))
_NOISE = ("ArtifactQuery.property_predicate is not supported",)


class _ReadableLog(logging.Filter):
    """Our own progress at INFO; the libraries' INFO chatter only with --verbose."""

    def __init__(self, verbose):
        super().__init__()
        self._verbose = verbose

    def filter(self, record):
        if any(n in str(record.msg) for n in _NOISE):
            return False
        return (self._verbose or record.levelno >= logging.WARNING
                or record.pathname.startswith(_OWN_CODE))


def _setup_logging(verbose):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(_ReadableLog(verbose))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    if not verbose:  # Google client libraries warn about Python 3.10 on every import
        warnings.filterwarnings("ignore", category=FutureWarning)


def main(argv=None):
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        # Whatever the libraries print goes to stderr: stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = args.func(args)
    except ConfigError as e:
        print(f"bit-tfx: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as e:  # pylint: disable=broad-except
        logging.debug("failure", exc_info=True)
        print(f"bit-tfx: {args.command} failed: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_RUN
    if isinstance(result, Output):
        sys.stdout.write(result.text if result.text.endswith("\n") or not result.text
                         else result.text + "\n")
        return result.exit_code
    print(json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

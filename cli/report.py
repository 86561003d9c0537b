"""`bit-tfx report RUN_DIR`: the evaluation report and model card of a finished run (the
work is bit_tfx.pipeline.report)."""
from ..core.errors import ConfigError
from ..pipeline import configs
from . import common
from ..pipeline.report import DEFAULT_MAX_EXAMPLES


def cmd_report(args):
    if args.max_examples < 0:
        raise ConfigError(f"--max-examples must be 0 (skip the scan) or more, got {args.max_examples}")
    from ..pipeline.report import write_report
    return write_report(args.run_dir, args.report_dir, args.max_examples, args.pipeline_name,
                        metadata_store=args.metadata_store)


def add_parser(subparsers):
    p = subparsers.add_parser("report", help="write the evaluation report (HTML + JSON) and model "
                                             "card of the newest run in RUN_DIR")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="the --output folder of bit-tfx run/demo (holds metadata.sqlite, pipeline_root)")
    common.add_setting_flags(p, configs.RunConfig, ("pipeline_name",))  # declared once, as run's
    p.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, metavar="N",
                   help=f"eval examples run through the model to find the most confused ones "
                        f"(default {DEFAULT_MAX_EXAMPLES}; 0 skips the scan)")
    p.add_argument("--report-dir", default=None, help="where to write (default RUN_DIR/report)")
    common.add_setting_flags(p, configs.RunConfig, ("metadata_store",), fills={
        "metadata_default": "the one RUN_DIR's runs recorded in metadata_store.json, else "
                            "RUN_DIR/metadata.sqlite"})
    p.set_defaults(func=cmd_report)

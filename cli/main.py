"""The `bit-tfx` command line. Logs go to stderr; results (JSON) go to stdout.

Heavy imports (TensorFlow, TFX, Beam) happen inside the commands, after the
arguments and the configuration have been checked, so a bad flag fails at once
(tests/test_startup.py: --help and configuration errors import no TensorFlow).
"""
import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO lines are not for users

from bit_tfx import components  # noqa: E402  first: sets the environment TensorFlow reads at import
from bit_tfx.components.errors import ConfigError  # noqa: E402
from bit_tfx.components.trainer import preemption  # noqa: E402  pure: SIGTERM while training

from . import common, deploy, predict, report, run  # noqa: E402

DESCRIPTION = "Fine-tune BigTransfer (BiT) image models with the BiT-HyperRule as a TFX pipeline."


def build_parser():
    parser = argparse.ArgumentParser(prog="bit-tfx", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="show the libraries' INFO logs too")
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parsers(sub)
    predict.add_parser(sub)
    report.add_parser(sub)
    deploy.add_parsers(sub)
    return parser


def _own_code():
    """The folders of our packages: their INFO logs are progress, not library chatter."""
    import bit_tfx.kubeflow
    import bit_tfx.pipeline
    packages = (components, bit_tfx.pipeline, bit_tfx.kubeflow, sys.modules[__package__])
    return tuple(os.path.dirname(os.path.abspath(p.__file__)) + os.sep for p in packages)


_NOISE = ("ArtifactQuery.property_predicate is not supported",)


class _ReadableLog(logging.Filter):
    """Our own progress at INFO; the libraries' INFO chatter only with --verbose."""

    def __init__(self, verbose):
        super().__init__()
        self._verbose = verbose
        self._own = _own_code()

    def filter(self, record):
        if any(n in str(record.msg) for n in _NOISE):
            return False
        return (self._verbose or record.levelno >= logging.WARNING
                or record.pathname.startswith(self._own))


def _setup_logging(verbose):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(_ReadableLog(verbose))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    if not verbose:  # Google client libraries warn about Python 3.10 on every import
        warnings.filterwarnings("ignore", category=FutureWarning)


def failure_line(command, error):
    """`bit-tfx: CMD failed: Type: message`. Some errors carry no message (TensorFlow's
    NotFoundError from a file stat, for one): then the cause they were raised from, or else
    where they were raised, so the line always says what to check."""
    message = str(error).strip()
    if not message:
        cause = error.__cause__ or error.__context__
        if cause is not None and str(cause).strip():
            message = f"(no message) caused by {type(cause).__name__}: {cause}"
        else:
            import traceback
            frames = traceback.extract_tb(error.__traceback__)
            where = f", raised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" \
                if frames else ""
            message = f"(no message{where})"
    return f"bit-tfx: {command} failed: {type(error).__name__}: {message}"


_PIPELINE_RUNS = ("run", "hyperrule", "demo")


class _Terminated(BaseException):
    """SIGTERM outside training (the Trainer saves first: preemption.Preempted)."""


def _terminate(signum, frame):  # pylint: disable=unused-argument
    raise _Terminated()


def main(argv=None):
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        # Whatever the libraries print goes to stderr: stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = args.func(args)
    except ConfigError as e:
        print(f"bit-tfx: configuration error: {common.config_error_text(e, args)}", file=sys.stderr)
        return common.EXIT_CONFIG
    except preemption.Preempted as e:
        print(f"bit-tfx: {args.command} stopped: {e}", file=sys.stderr)
        return common.EXIT_TERMINATED
    except (KeyboardInterrupt, _Terminated) as e:
        how = "interrupted (Ctrl-C)" if isinstance(e, KeyboardInterrupt) else "stopped by SIGTERM"
        again = ("; run it again to continue: finished steps are reused from the cache and "
                 "training resumes from its last checkpoint") if args.command in _PIPELINE_RUNS else ""
        print(f"bit-tfx: {args.command} {how}{again}", file=sys.stderr)
        return common.EXIT_INTERRUPTED if isinstance(e, KeyboardInterrupt) else common.EXIT_TERMINATED
    except Exception as e:  # pylint: disable=broad-except
        logging.debug("failure", exc_info=True)
        print(failure_line(args.command, e), file=sys.stderr)
        return common.EXIT_RUN
    finally:
        signal.signal(signal.SIGTERM, previous)
    if isinstance(result, common.Output):
        sys.stdout.write(result.text if result.text.endswith("\n") or not result.text
                         else result.text + "\n")
        return result.exit_code
    print(json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False))
    return common.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

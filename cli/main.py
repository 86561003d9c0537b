"""The `bit-tfx` command line. Our progress goes to stderr, results (JSON) to stdout; a
pipeline run's library logs go to OUTPUT/logs (console.py).

Heavy imports (TensorFlow, TFX, Beam) happen inside the commands, after the
arguments and the configuration have been checked, so a bad flag fails at once
(tests/test_startup.py: --help and configuration errors import no TensorFlow).
"""
import argparse
import contextlib
import errno
import logging
import os
import re
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO lines are not for users

from .. import core  # noqa: E402,F401  first: sets the environment TensorFlow reads at import
from ..core.errors import ConfigError  # noqa: E402
from ..core.version import version  # noqa: E402
from ..models.training import preemption  # noqa: E402  pure: SIGTERM while training

from . import common, console, deploy, predict, report, run  # noqa: E402

DESCRIPTION = "Fine-tune BigTransfer (BiT) image models with the BiT-HyperRule as a TFX pipeline."


_VERBOSE_HELP = ("show everything on stderr (the libraries' logs and warnings too); without it "
                 "they go to OUTPUT/logs/<time>-<pid>.log")


def build_parser():
    parser = common.Parser(prog="bit-tfx", description=DESCRIPTION,
                           epilog=common.EXIT_CODES_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help="print bit-tfx's version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parsers(sub)
    predict.add_parser(sub)
    report.add_parser(sub)
    deploy.add_parsers(sub)
    for command in sub.choices.values():  # `bit-tfx run -v ...` as well as `bit-tfx -v run ...`
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help=_VERBOSE_HELP)
    for command in _EXIT_CODE_HELP_COMMANDS:
        sub.choices[command].epilog = common.EXIT_CODES_HELP
        sub.choices[command].formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


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


def store_failure_line(command, error, metadata_store):
    """A MySQL store lost during the run: ML Metadata says only `mysql_real_connect failed:
    errno: , error:`; the preflight's connection says why (None when that is not the error,
    or the store answers again)."""
    if not metadata_store or "mysql_real_connect failed" not in str(error):
        return None
    from ..pipeline import metadata
    try:
        metadata.preflight(metadata_store)
    except ConfigError as e:
        return (f"bit-tfx: {command} failed: the metadata store stopped answering during the run: "
                f"{e}. The steps that finished are recorded: once it answers, run the same "
                "command again (they are reused from the cache)")
    return None


# The pipeline runs: a quiet console and a log file under OUTPUT (console.py).
_PIPELINE_RUNS = ("run", "hyperrule", "demo", "pretrain", "rehearse")
# Their help ends with the exit codes (they push, or are refused by the gate).
_EXIT_CODE_HELP_COMMANDS = ("run", "demo", "pretrain", "rehearse")

# What a full disk says, wherever it is raised: OSError ENOSPC (Python, TensorFlow's file
# system: "No space left on device", with the path) and SQLite ("database or disk is full",
# through ML Metadata: the store, under OUTPUT; its message quotes the query, whose paths
# are not the full folder).
_NO_SPACE = "no space left on device"
_STORE_FULL = "database or disk is full"
_PATH_IN_MESSAGE = re.compile(r"(?:^|[\s'\"(=])(/[^\s'\";:,)]+)")


def _chain(error):
    """The error, the errors it was raised from and during, and so on."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _existing_folder(path):
    """The nearest existing folder at or above `path`."""
    folder = os.path.abspath(path)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def disk_full_folder(error, output):
    """The folder that is full when `error` (or what it was raised from) says the disk is
    full: the folder of the path the error names, else OUTPUT (`output`); None otherwise."""
    for e in _chain(error):
        message = str(e).lower()
        if _STORE_FULL in message:
            return os.path.abspath(output) if output else None
        if not ((isinstance(e, OSError) and e.errno == errno.ENOSPC) or _NO_SPACE in message):
            continue
        path = getattr(e, "filename", None) if isinstance(e, OSError) else None
        if not path:
            found = _PATH_IN_MESSAGE.search(str(e))
            path = found.group(1) if found else None
        if path and os.path.isabs(str(path)):
            return _existing_folder(str(path) if os.path.isdir(str(path)) else os.path.dirname(str(path)))
        return os.path.abspath(output) if output else None
    return None


def disk_full_line(command, error, output):
    """One line for a full disk, naming the folder; None when `error` is something else."""
    folder = disk_full_folder(error, output)
    if folder is None:
        return None
    return (f"bit-tfx: {command} failed: the disk is full: no space left in {folder} "
            f"({type(error).__name__}); free space there, or pick another --output (or "
            "--pipeline-root / --serving-dir when the full folder is one of those)")


def exit_code_of(command, result):
    """A pipeline run's answer as an exit code: 3 when the gate refused the candidate (the
    run finished, nothing was pushed: not_blessed_because says why), else 0."""
    if command in _EXIT_CODE_HELP_COMMANDS and isinstance(result, dict) and \
            result.get("blessed") is False:
        return common.EXIT_REFUSED
    return common.EXIT_OK


class _Terminated(BaseException):
    """SIGTERM outside training (the Trainer saves first: preemption.Preempted)."""


def _terminate(signum, frame):  # pylint: disable=unused-argument
    raise _Terminated()


def main(argv=None):
    args = build_parser().parse_args(argv)
    screen = console.Console(args.verbose)
    screen.setup()
    if args.command in _PIPELINE_RUNS:
        args.console = screen  # common.run_config starts the log file once the config is valid
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(args, screen)
    finally:
        signal.signal(signal.SIGTERM, previous)
        screen.stop()


def _main(args, screen):
    try:
        # Whatever the libraries print goes to stderr (the log file): stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            result = args.func(args)
    except ConfigError as e:
        screen.discard()  # found after the log file was started: nothing stays under OUTPUT
        return _ended(screen, common.EXIT_CONFIG,
                      f"bit-tfx: configuration error: {common.config_error_text(e, args)}")
    except preemption.Preempted as e:
        return _ended(screen, common.EXIT_TERMINATED, f"bit-tfx: {args.command} stopped: {e}")
    except (KeyboardInterrupt, _Terminated) as e:
        how = "interrupted (Ctrl-C)" if isinstance(e, KeyboardInterrupt) else "stopped by SIGTERM"
        again = ("; run it again to continue: finished steps are reused from the cache and "
                 "training resumes from its last checkpoint") if args.command in _PIPELINE_RUNS else ""
        return _ended(screen, common.EXIT_INTERRUPTED if isinstance(e, KeyboardInterrupt)
                      else common.EXIT_TERMINATED, f"bit-tfx: {args.command} {how}{again}")
    except Exception as e:  # pylint: disable=broad-except
        logging.getLogger(console.LOG_ONLY).error("%s failed", args.command, exc_info=True)
        return _ended(screen, common.EXIT_RUN,
                      disk_full_line(args.command, e, getattr(args, "output", None))
                      or store_failure_line(args.command, e, getattr(args, "metadata_store", None))
                      or failure_line(args.command, e))
    if isinstance(result, common.Output):
        sys.stdout.write(result.text if result.text.endswith("\n") or not result.text
                         else result.text + "\n")
        return _ended(screen, result.exit_code)
    print(common.json_document(result))
    return _ended(screen, exit_code_of(args.command, result))


def _ended(screen, code, last_line=None):
    """The exit code, after naming the log file (when the command wrote one) and then, as
    the last line on stderr, why the command stopped (when it did not finish)."""
    if screen.log_path:
        screen.say(f"bit-tfx: log (libraries included): {screen.log_path}")
    if last_line:
        screen.say(last_line)
    return code


if __name__ == "__main__":
    sys.exit(main())

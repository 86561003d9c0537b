"""What an operator sees on stderr during a pipeline run (`run`, `demo`, `pretrain`,
`hyperrule`): our own progress lines, our warnings and the verdict. Everything else, the
libraries' log lines and Python warnings (TensorFlow, absl, Beam, TFX, TFMA) and what native
code writes straight to file descriptor 2 (TensorFlow's C++ `E ... Unable to register cuFFT
factory` lines, the TFLite converter's `W0000 ...` lines), goes to a log file,
OUTPUT/logs/<UTC time>-<pid>.log, named on stderr at the end of the run.

Native code does not go through Python's logging, so fd 2 itself is pointed at the log file
(os.dup2) while the work runs; our own lines go to a duplicate of the original stderr.
Subprocesses (Beam workers, multi-worker training) inherit fd 2 and so log to the file too.
`--verbose` keeps everything on stderr, as before, and still writes the Python log records
to the file.
"""
import logging
import os
import re
import sys
import tempfile
import time
import warnings

from ..pipeline import configs, redact

# Records of this logger go to the log file only (the traceback of a failure).
LOG_ONLY = "bit_tfx.log_only"
_CONSOLE_FORMAT = "%(levelname)s %(message)s"
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Library lines that say nothing a user can act on. TFX deprecates the Pusher's
# custom_executor_spec (our filesystem Pusher's wiring: pipeline/pipeline.py), not anything
# the user configured.
_NOISE = ("ArtifactQuery.property_predicate is not supported",
          "`custom_executor_spec` is deprecated")
# What TensorFlow's native code prints when it is imported on a machine without a GPU (and
# its CPU notes): kept off the console of the commands that write no log file.
_IMPORT_NOISE = re.compile(
    r"Unable to register cu(FFT|DNN|BLAS) factory|Could not find cuda drivers|"
    r"oneDNN custom operations are on|cpu_feature_guard|rebuild TensorFlow with the appropriate "
    r"compiler flags|TF-TRT Warning: Could not find TensorRT")


def _own_code():
    """The folders of our packages: their log records are progress, not library chatter."""
    from .. import components, core, datasets, kubeflow, models, pipeline
    folders = [os.path.dirname(os.path.abspath(p.__file__))
               for p in (core, components, datasets, models, pipeline, kubeflow)]
    folders.append(os.path.dirname(os.path.abspath(__file__)))  # cli/
    return tuple(folder + os.sep for folder in folders)


class _OwnLines(logging.Filter):
    """On the console: our own records at INFO and above; a library's with --verbose, and
    at WARNING and above where no log file takes them (the commands that write none)."""

    def __init__(self, verbose):
        super().__init__()
        self._verbose = verbose
        self._own = _own_code()
        self.to_file = False  # the libraries' records go to the log file

    def filter(self, record):
        if record.name == LOG_ONLY or any(n in str(record.msg) for n in _NOISE):
            return False
        if self._verbose or record.pathname.startswith(self._own):
            return True
        return record.levelno >= logging.WARNING and not self.to_file


def _is_real_stderr(stream):
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return False


class Console:
    """The console of one command: `setup()` at start, `start(output)` once the
    configuration is valid (nothing is written into OUTPUT before), `stop()` at the end."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.stream = sys.stderr  # where our own lines go
        self.log_path = None
        self._handler = None
        self._filter = None
        self._file = None
        self._file_handler = None
        self._saved_fd = None
        self._captured_warnings = False
        self._created = []

    def setup(self):
        """Our lines on stderr (the libraries' too with --verbose, and their warnings until
        start(): the commands that write no log file show them as before)."""
        self._handler = logging.StreamHandler(self.stream)
        self._handler.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
        self._filter = _OwnLines(self.verbose)
        self._handler.addFilter(self._filter)
        self._handler.addFilter(redact.Filter())
        root = logging.getLogger()
        root.handlers[:] = [self._handler]
        root.setLevel(logging.INFO)
        if not self.verbose:  # Google client libraries warn about Python 3.10 on every import
            warnings.filterwarnings("ignore", category=FutureWarning)

    def log_file_path(self, output):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return os.path.join(os.path.abspath(output), configs.LOGS_DIR, f"{stamp}-{os.getpid()}.log")

    def start(self, output, created=()):
        """From here on the libraries write to OUTPUT/logs/<time>-<pid>.log. `created`: folders
        this command made before (OUTPUT itself, when it was new), which discard() removes."""
        if self._file is not None:
            return
        self.log_path = self.log_file_path(output)
        logs = os.path.dirname(self.log_path)
        self._created = [logs] * (not os.path.isdir(logs)) + list(created)
        os.makedirs(logs, exist_ok=True)
        # Private (0600): a log holds paths, settings and library output of the whole run.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = open(fd, "a", buffering=1, encoding="utf-8", errors="backslashreplace")
        self._file_handler = logging.StreamHandler(self._file)
        self._file_handler.setFormatter(logging.Formatter(_FILE_FORMAT))
        self._file_handler.addFilter(redact.Filter())
        logging.getLogger().addHandler(self._file_handler)
        logging.captureWarnings(True)  # warnings.warn -> the py.warnings logger -> the file
        self._captured_warnings = True
        if self.verbose:
            return
        self._filter.to_file = True
        _flush(sys.stderr)
        self._saved_fd = os.dup(2)
        if _is_real_stderr(sys.stderr):
            # Our lines go to the terminal through a copy of the original fd 2.
            self.stream = os.fdopen(os.dup(self._saved_fd), "w", buffering=1,
                                    encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
                                    errors="backslashreplace")
            self._handler.setStream(self.stream)
        os.dup2(self._file.fileno(), 2)

    def stop(self):
        """fd 2 back to the original stderr; the log file closed."""
        if self._saved_fd is not None:
            _flush(sys.stderr)
            os.dup2(self._saved_fd, 2)
            os.close(self._saved_fd)
            self._saved_fd = None
        if self._captured_warnings:
            logging.captureWarnings(False)
            self._captured_warnings = False
        if self._filter is not None:
            self._filter.to_file = False
        if self._file_handler is not None:
            logging.getLogger().removeHandler(self._file_handler)
            self._file_handler = None
        if self._file is not None:
            _flush(self._file)
            self._file.close()
            self._file = None
            # What native code and subprocesses wrote into fd 2 bypassed the filter.
            redact.scrub_file(self.log_path)
        if self.stream is not sys.stderr:
            _flush(self.stream)
            self._handler.setStream(sys.stderr)
            self.stream.close()
            self.stream = sys.stderr

    def discard(self):
        """A configuration error after start(): the log file removed, and the folders this
        command created when they hold nothing else, so the error writes nothing under OUTPUT."""
        if self.log_path is None:
            return
        self.stop()
        try:
            os.remove(self.log_path)
        except OSError:
            pass
        for folder in self._created:
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                pass
        self.log_path = None

    def say(self, text):
        """One line of ours on the console."""
        print(redact.redact(text), file=self.stream, flush=True)


def import_tensorflow_quietly(verbose=False):
    """Imports TensorFlow with its native start-up lines (CUDA plugin registration on a machine
    without a GPU, CPU notes) kept off the console; any other line written to fd 2 meanwhile
    is shown as it was. For the commands that write no log file (predict, compile, schedule),
    once their configuration is valid: the pipeline commands send all native output to their
    log file instead."""
    if verbose or "tensorflow" in sys.modules:
        return
    _flush(sys.stderr)
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        finally:
            _flush(sys.stderr)
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(True)
                    if not _IMPORT_NOISE.search(line)]
            if kept:
                sys.stderr.write("".join(kept))


def _flush(stream):
    try:
        stream.flush()
    except (OSError, ValueError):  # a full disk, a closed stream: nothing more to do
        pass

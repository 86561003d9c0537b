"""Running a pipeline locally: LocalDagRunner (Beam DirectRunner, SQLite MLMD), with one
readable progress line per step, and the two runs the CLI offers: up to the HyperRule
decision, and the whole DAG followed by its summary and report."""
import contextlib
import datetime
import logging
import os
import re
import threading
import time

from tfx.dsl.compiler import constants
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import runtime_parameter_utils


log = logging.getLogger("bit_tfx.progress")
_COMPONENT_RE = re.compile(r"^Component (\S+) is (running|finished)\.$")


def _say(*line):
    """log.info from here (a timer's thread): the console knows our lines by where they are
    logged from (cli/console.py), and a record logged by threading.Timer itself is not ours."""
    log.info(*line)


class _StepProgress(logging.Handler):
    """Turns TFX's per-component log lines into one readable line per step:
    `[3/12] ImageSchemaGen done in 1.4 s` (or `reused from cache`, or `skipped`). A step still
    at work after RUNNING_AFTER_S also gets a `[3/12] Trainer running` line when it is
    started; one reused from the cache or skipped gets only that one line (TFX says so just
    after it says the step is running)."""

    RUNNING_AFTER_S = 1.0

    def __init__(self, total):
        super().__init__(logging.INFO)
        self._total = total
        self._index = 0
        self._started = 0.0
        self._cached = False
        self._timer = None

    def _cancel(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def emit(self, record):
        if record.name == log.name:
            return
        message = record.getMessage()
        if message.startswith("A cached execution"):
            self._cached = True
            self._cancel()
            return
        if message.startswith("Skipping execution for"):  # its inputs did not resolve (a Cond)
            self._cached = "skipped"
            self._cancel()
            return
        match = _COMPONENT_RE.match(message)
        if not match:
            return
        node, state = match.groups()
        self._cancel()
        if state == "running":
            self._index += 1
            self._started, self._cached = time.monotonic(), False
            line = ("[%d/%d] %s running", self._index, self._total, node)
            if self.RUNNING_AFTER_S <= 0:
                log.info(*line)
                return
            self._timer = threading.Timer(self.RUNNING_AFTER_S, _say, line)
            self._timer.daemon = True
            self._timer.start()
        elif self._cached == "skipped":
            log.info("[%d/%d] %s skipped", self._index, self._total, node)
        elif self._cached:
            log.info("[%d/%d] %s reused from cache", self._index, self._total, node)
        else:
            log.info("[%d/%d] %s done in %.1f s", self._index, self._total, node,
                     time.monotonic() - self._started)

    def close(self):
        self._cancel()
        super().close()


@contextlib.contextmanager
def step_progress(total):
    """TFX logs "Component X is running." through absl at INFO. TensorFlow's SavedModel
    export (the first one is Transform's) sets absl's verbosity to the value of its flag
    around each save (trackable/autotrackable.py) and, the flag being unparsed (-1), leaves
    the absl logger at WARNING: every later step's lines were dropped before any handler saw
    them. With the flag at INFO for the run, the save puts INFO back; the console shows the
    libraries' INFO records only with --verbose (cli/console.py)."""
    from absl import logging as absl_logging
    handler = _StepProgress(total)
    root = logging.getLogger()
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        absl_logging.set_verbosity(verbosity)


class _NamedRunDagRunner(LocalDagRunner):
    """LocalDagRunner with a run id of ours. It names a run by the time it starts, so two runs
    started at once on one store (a cron job and a person) could not tell their executions
    apart afterwards; the process id makes the name this run's own. Only run_with_ir is
    overridden: TFX's CLI (`tfx pipeline create` on local_runner.py) finds the pipeline by
    patching LocalDagRunner.run, which this class inherits."""

    def __init__(self, run_id):
        super().__init__()
        self.run_id = run_id

    def run_with_ir(self, pipeline, run_options=None, **kwargs):
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: self.run_id})
        return super().run_with_ir(pipeline, run_options=run_options, **kwargs)


def run_local(pipeline):
    """Runs the pipeline; returns its run id (the name of its `pipeline_run` context in ML
    Metadata): everything read back after the run (metadata.latest_execution's run_id) reads
    this run's executions only."""
    log.info("Running pipeline %s locally (root %s)", pipeline.pipeline_info.pipeline_name,
             pipeline.pipeline_info.pipeline_root)
    runner = _NamedRunDagRunner(f"{datetime.datetime.now().isoformat()}-{os.getpid()}")
    with step_progress(len(pipeline.components)):
        runner.run(pipeline)
    return runner.run_id


def run_until_hyperrule(config):
    """Runs ingestion -> statistics -> schema -> validation -> HyperRule; returns the Decision."""
    from ..core.decision import read_decision
    from . import metadata, pipeline, results
    run_id = run_local(pipeline.build(config, pipeline.THROUGH_HYPERRULE))
    store = metadata.open_store(config.metadata_uri)
    execution, artifact = results.decision_output(store, config.pipeline_name, run_id)
    decision = read_decision(artifact.uri)
    log.info("HyperRule %s: %s", "cached" if metadata.was_cached(execution) else "ran", artifact.uri)
    return decision


def run_all(config):
    """The whole DAG; returns its summary (results.summarize) with the report's path."""
    from . import pipeline
    return finish(config, run_local(pipeline.build(config, pipeline.THROUGH_PUSHER)))


def finish(config, run_id):
    """What run `run_id` did (results.summarize, a RunSummary), said on the console, with its
    report written (None when nothing was trained); `bit-tfx run` and `bit-tfx rehearse` end here."""
    from . import results
    summary = results.summarize(config, run_id)
    if summary.trained_nothing:
        log.warning("Nothing new, nothing trained: %s", summary.same_data_because)
        return summary  # the report of the run that trained stays as it was
    if summary.blessed:
        log.info("Blessed; pushed to %s", summary.pushed_to)
    else:
        log.warning("NOT blessed, not pushed: %s", "; ".join(summary.not_blessed_because or []))
    summary.report = write_report_safely(config, run_id)
    return summary


def write_report_safely(config, run_id=None):
    """The evaluation report and model card under OUTPUT/report; None when that fails. The
    model was already evaluated and pushed (or refused), so a report error must not fail the run."""
    from . import report
    try:
        path = report.write_report(config, run_id=run_id)["report"]
    except Exception as e:  # pylint: disable=broad-except
        log.warning("The run finished, but its report could not be written (retry with "
                    "`bit-tfx report %s`): %s: %s", config.output, type(e).__name__, e)
        return None
    log.info("Report: %s", path)
    return path

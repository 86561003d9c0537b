"""Running a pipeline locally: LocalDagRunner (Beam DirectRunner, SQLite MLMD)."""
import contextlib
import logging
import re
import time

from tfx import v1 as tfx

log = logging.getLogger("bit_tfx.progress")
_COMPONENT_RE = re.compile(r"^Component (\S+) is (running|finished)\.$")


class _StepProgress(logging.Handler):
    """Turns TFX's per-component log lines into one readable line per step:
    `[3/12] ImageSchemaGen done in 1.4 s` (or `reused from cache`)."""

    def __init__(self, total):
        super().__init__(logging.INFO)
        self._total = total
        self._index = 0
        self._started = 0.0
        self._cached = False

    def emit(self, record):
        if record.name == log.name:
            return
        message = record.getMessage()
        if message.startswith("A cached execution"):
            self._cached = True
            return
        match = _COMPONENT_RE.match(message)
        if not match:
            return
        node, state = match.groups()
        if state == "running":
            self._index += 1
            self._started, self._cached = time.monotonic(), False
            log.info("[%d/%d] %s running", self._index, self._total, node)
        elif self._cached:
            log.info("[%d/%d] %s reused from cache", self._index, self._total, node)
        else:
            log.info("[%d/%d] %s done in %.1f s", self._index, self._total, node,
                     time.monotonic() - self._started)


@contextlib.contextmanager
def step_progress(total):
    handler = _StepProgress(total)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def run_local(pipeline):
    log.info("Running pipeline %s locally (root %s)", pipeline.pipeline_info.pipeline_name,
             pipeline.pipeline_info.pipeline_root)
    with step_progress(len(pipeline.components)):
        tfx.orchestration.LocalDagRunner().run(pipeline)

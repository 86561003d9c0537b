"""SIGTERM during training: save a checkpoint at the step reached, then stop with the code
orchestrators restart on. Pure Python (no TensorFlow): the CLI imports it at start-up.

Spot/preemptible VMs, Vertex AI Training and Kubernetes (pod eviction, node drain) send
SIGTERM and allow a grace period (about 30 s on GCE spot VMs) before SIGKILL. Without this,
a preempted Trainer loses every step since its last periodic checkpoint (up to
`checkpoint_every - 1`). With it, the training loop finishes the step in flight, saves
`ckpt-<step>` and raises `Preempted`; a re-run resumes at that step (checkpoints.py).

`Preempted` is a SystemExit with code 143 (128 + SIGTERM): what a process ended by SIGTERM
reports, and the code TF's own PreemptionCheckpointHandler exits with on GCE. In a container
(a Vertex AI / KFP step, a Vertex AI Training replica) the process therefore ends with 143
and no traceback; TFX's launcher catches only Exception, so the execution is not published
and the retried step runs again and resumes. `bit-tfx` catches it and prints one line.

Under MultiWorkerMirroredStrategy every worker must save at the same step: the stop request
is summed over the workers each step (`agreed`), so one worker's SIGTERM stops them all.
"""
import contextlib
import logging
import signal
import threading

log = logging.getLogger("bit_tfx.trainer")
RESTARTABLE_EXIT_CODE = 128 + signal.SIGTERM  # 143


class Preempted(SystemExit):
    """Training stopped by SIGTERM after saving a checkpoint at `step`."""

    def __init__(self, step, total, checkpoint):
        super().__init__(RESTARTABLE_EXIT_CODE)
        self.step, self.total, self.checkpoint = step, total, checkpoint

    def __str__(self):
        return (f"SIGTERM: training stopped at step {self.step}/{self.total} after saving "
                f"{self.checkpoint}; run the same pipeline again to resume at step {self.step}")


class _Watch:
    def __init__(self):
        self.requested = False

    def _handle(self, signum, frame):  # pylint: disable=unused-argument
        if not self.requested:
            log.warning("SIGTERM received: saving a checkpoint after the current step, then stopping")
        self.requested = True


@contextlib.contextmanager
def sigterm_watch():
    """While training: SIGTERM sets `.requested` instead of ending the process. The previous
    handler (the default, or the CLI's) is back afterwards. Signals reach Python only in the
    main thread; elsewhere (a thread of some runner) the watch is inert and says so."""
    watch = _Watch()
    if threading.current_thread() is not threading.main_thread():
        log.warning("The Trainer runs outside the main thread: SIGTERM cannot be caught; a "
                    "preemption loses the steps since the last periodic checkpoint")
        yield watch
        return
    previous = signal.signal(signal.SIGTERM, watch._handle)  # pylint: disable=protected-access
    try:
        yield watch
    finally:
        signal.signal(signal.SIGTERM, previous)

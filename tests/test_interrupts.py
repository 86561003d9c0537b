"""Interrupts as a user and an orchestrator send them to a real `bit-tfx run` (a subprocess):
Ctrl-C and SIGTERM end it with one plain line and no traceback, the store stays sound, a
re-run reuses the finished steps, and a Trainer stopped by SIGTERM saves a checkpoint at the
step it reached, so the re-run resumes there (not at the last periodic checkpoint: there is
none here). The last run ends normally: its stderr holds no traceback either."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from bit_tfx.cli import common
from runs import colour_images

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]  # minutes (three run starts): CI runs it (.ci/run)
TOTAL = 60


def _command(data, out):
    return [sys.executable, "-m", "bit_tfx.cli.main", "run", "--data", str(data), "--output", str(out),
            "--model", "random:tiny", "--batch-size", "16", "--batch-policy", "scale_lr",
            "--checkpoint-every", "1000", "--min-accuracy", "0", "--schedule-override",
            json.dumps({"warmup": 2, "boundaries": [40, 50, 55], "total": TOTAL, "learning_rate": 0.01})]


def _run_until(cmd, log, pattern, signum, timeout=900):
    """Starts cmd with stderr to `log`; once a stderr line matches `pattern`, sends signum.
    Returns (exit code, stderr)."""
    with open(log, "w") as err:
        # SIGINT as at a terminal: a shell starts background jobs with SIGINT ignored, and the
        # child would inherit that.
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + timeout
    while not re.search(pattern, open(log).read(), re.M):
        assert proc.poll() is None, f"ended before {pattern!r}:\n" + open(log).read()[-3000:]
        assert time.time() < deadline, f"no {pattern!r} within {timeout} s"
        time.sleep(0.1)
    proc.send_signal(signum)
    proc.wait(timeout=300)
    return proc.returncode, open(log).read()


def _no_traceback(stderr):
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-4000:]


def test_ctrl_c_then_sigterm_in_training_then_a_clean_resume(tmp_path):
    colour_images(str(tmp_path / "data"), 20, seed=7)
    out = tmp_path / "out"
    cmd = _command(tmp_path / "data", out)

    # 1. Ctrl-C after the first steps finished.
    code, err = _run_until(cmd, tmp_path / "1.log", r"StatisticsGen done in", signal.SIGINT)
    _no_traceback(err)
    assert code == common.EXIT_INTERRUPTED, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("bit-tfx: run interrupted (Ctrl-C); run it again"), err

    # 2. The re-run reuses what finished; SIGTERM (a preempted VM) in the middle of training.
    code, err = _run_until(cmd, tmp_path / "2.log", rf"step 10/{TOTAL} ", signal.SIGTERM)
    _no_traceback(err)
    assert code == common.EXIT_TERMINATED == 143, err[-3000:]
    assert re.search(r"ImageExampleGen reused from cache", err), err[-3000:]
    last = err.strip().splitlines()[-1]
    stopped = re.match(rf"bit-tfx: run stopped: SIGTERM: training stopped at step (\d+)/{TOTAL} "
                       r"after saving (\S+); run the same pipeline again", last)
    assert stopped, err[-3000:]
    step, checkpoint = int(stopped.group(1)), stopped.group(2)
    assert 10 <= step < TOTAL and os.path.exists(checkpoint + ".index")
    assert not (out / "serving").exists()

    # 3. The re-run resumes at that very step and finishes: exit 0, no traceback at exit.
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    _no_traceback(done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = re.search(r"Resuming from (\S+) at step (\d+)", done.stderr)
    assert resumed and (resumed.group(1), int(resumed.group(2))) == (checkpoint, step), done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["pushed_to"] and summary["blessed"]

"""A Trainer killed mid-run (as a preempted VM would be) resumes from its last checkpoint."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bit_tfx.core import keys
from runs import colour_images

# ~4 minutes (a killed run and its resume): CI runs it (.ci/run's slow line)
pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def test_killed_trainer_resumes_from_its_last_checkpoint(tmp_path):
    colour_images(str(tmp_path / "data"), 20, seed=5)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bit_tfx.cli.main", "run", "--data", str(tmp_path / "data"),
           "--output", str(out), "--model", "random:tiny", "--batch-size", "16",
           "--batch-policy", "scale_lr", "--checkpoint-every", "5", "--min-accuracy", "0",
           "--schedule-override", '{"warmup": 2, "boundaries": [30, 35, 38], "total": 40, "learning_rate": 0.01}']
    env = dict(os.environ)
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
    # Wait until the manager has recorded ckpt-5 (its state file is written atomically, after
    # the checkpoint), then kill at once: possibly while ckpt-10 is being written.
    state = str(out / "pipeline_root" / keys.NODE_TRAINER / "checkpoints" / "*" / "checkpoint")
    deadline = time.time() + 600
    while not any("ckpt-" in open(p).read() for p in glob.glob(state)):
        assert first.poll() is None, "the run ended before its first checkpoint: " + first.stderr.read()[-2000:]
        assert time.time() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # preempted: no clean-up, no warning
    first.wait()
    assert not glob.glob(str(out / "serving" / "*")), "killed before the end, nothing was pushed"

    second = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    resumed = [line for line in second.stderr.splitlines() if "Resuming from" in line]
    assert resumed and int(resumed[0].rsplit("at step ", 1)[1]) >= 5, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["blessed"] and summary["pushed_to"]

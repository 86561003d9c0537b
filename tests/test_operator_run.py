"""The gate alone, and what an operator sees, on real `bit-tfx run` commands (subprocesses).

The model now serving (the pushed_run fixture's version, copied into a serving folder of
this test) classifies red vs blue. The candidate is trained on data where red images are
labelled blue and green ones red: it calls red and blue images both "blue", so on the eval
split (10 red, 10 blue, correctly labelled) it scores 0.5, above --min-accuracy 0.4 and 0.5
below the serving model's 1.0. Allowed a drop of 0.25 it is refused for the drop (exit 3,
nothing pushed); allowed 0.6, the same candidate is blessed and pushed (exit 0).

Both runs' stderr is read line by line: only our own lines (progress for every one of the 12
steps, fresh or from the cache; our warnings; the verdict; the log file's name), no library
line, warning or traceback. About 3.5 minutes on 2 CPU cores, beside the shared pushed_run."""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import images
import runs
from bit_tfx.cli import common
from test_console import strangers  # the lines a normal run must not print

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 200, 30)
STEPS = 12  # nodes of the whole DAG

def _images(folder, colour, n, seed):
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = np.clip(rng.normal(colour, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
        images.write(os.path.join(folder, f"{seed}_{i:03d}.png"), images.encode(Image.fromarray(pixels), "PNG"))


def _bit_tfx(argv):
    return subprocess.run([sys.executable, "-m", "bit_tfx.cli.main"] + argv,
                          capture_output=True, text=True, timeout=1500)


def _check_console(stderr, output):
    """Only our own lines; each of the steps started and ended; the log file named exists
    and holds what the libraries said."""
    lines = stderr.splitlines()
    assert strangers(stderr) == [], "\n".join(strangers(stderr))
    for n in range(1, STEPS + 1):  # a step under a second has no "running" line
        mine = [line for line in lines if line.startswith(f"INFO [{n}/{STEPS}] ")]
        assert 1 <= len(mine) <= 2 and re.search(r" (done in .*|reused from cache|skipped)$", mine[-1]), \
            (n, mine, stderr)
        assert len(mine) == 1 or mine[0].endswith(" running"), (n, mine, stderr)
    named = "bit-tfx: log (libraries included): "
    (log,) = [line[len(named):] for line in lines if line.startswith(named)]
    assert os.path.dirname(log) == os.path.join(str(output), "logs") and os.path.isfile(log)
    with open(log) as f:
        text = f.read()
    assert "Component Pusher is running." in text  # TFX's own line, in the file only
    return lines


def test_the_gate_refuses_a_drop_against_the_serving_model_and_allows_a_smaller_one(
        pushed_run, tmp_path):
    _, first, _ = pushed_run
    serving = tmp_path / "serving"
    serving.mkdir()
    served = serving / os.path.basename(first.pushed_to)
    shutil.copytree(first.pushed_to, served)
    data, out = tmp_path / "data", tmp_path / "out"
    _images(data / "train" / "blue", RED, 20, 1)
    _images(data / "train" / "blue", BLUE, 20, 2)
    _images(data / "train" / "red", GREEN, 20, 3)
    _images(data / "eval" / "red", RED, 10, 4)
    _images(data / "eval" / "blue", BLUE, 10, 5)
    smoke = runs.SMOKE
    flags = ["run", "--data", str(data), "--output", str(out), "--serving-dir", str(serving),
             "--model", smoke["model_spec"], "--batch-size", str(smoke["batch_size"]),
             "--batch-policy", smoke["batch_policy"], "--checkpoint-every", str(smoke["checkpoint_every"]),
             "--schedule-override", json.dumps(smoke["schedule_override"]), "--min-accuracy", "0.4"]

    refused = _bit_tfx(flags + ["--max-accuracy-drop", "0.25"])
    assert refused.returncode == common.EXIT_REFUSED, refused.stderr[-5000:]
    answer = json.loads(refused.stdout)
    assert answer["blessed"] is False and answer["pushed_to"] is None, answer
    assert 0.4 <= answer["metrics"]["sparse_categorical_accuracy"] <= 0.75, answer
    (reason,) = answer["not_blessed_because"]
    assert "against the model now serving, more than the allowed drop of 0.2500" in reason, reason
    assert "below the minimum" not in reason
    assert os.listdir(serving) == [served.name]
    lines = _check_console(refused.stderr, out)
    assert not any("reused from cache" in line for line in lines)  # a fresh run: every step ran
    assert any(line.startswith("WARNING NOT blessed, not pushed: ") for line in lines)

    # The same candidate (the Trainer's output is reused) allowed a larger drop.
    allowed = _bit_tfx(flags + ["--max-accuracy-drop", "0.6"])
    assert allowed.returncode == common.EXIT_OK, allowed.stderr[-5000:]
    answer = json.loads(allowed.stdout)
    assert answer["blessed"] is True and "not_blessed_because" not in answer, answer
    assert sorted(os.listdir(serving)) == sorted([served.name, str(answer["version"])])
    lines = _check_console(allowed.stderr, out)
    assert f"INFO [9/{STEPS}] Trainer reused from cache" in lines

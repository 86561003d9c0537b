"""Two runs started at once on one --output (a cron job and a person, two terminals) share
one SQLite ML Metadata store and one pipeline root: both must finish with the same answer,
leave the store readable, and a third run afterwards is a full cache hit."""
import json
import os
import subprocess
import sys

import pytest

import images

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]  # minutes: run in CI (.ci/run), not in `make test`


def test_two_concurrent_runs_on_one_output_both_succeed_and_agree(tmp_path):
    images.class_folders(str(tmp_path / "data"), ["a", "b"], 10, size=(40, 40))
    cmd = [sys.executable, "-m", "bit_tfx.cli.main", "hyperrule", "--data", str(tmp_path / "data"),
           "--output", str(tmp_path / "out"), "--batch-size", "32", "--batch-policy", "scale_lr"]
    both = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(p.returncode, out, err) for p in both for out, err in [p.communicate(timeout=900)]]
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err, err[-3000:]
    decisions = [json.loads(out) for _, out, _ in results]
    # Each names the statistics it was decided from: the same artifact, or one per run when
    # both ran StatisticsGen at once; the numbers are the same.
    sources = [d["statistics"].pop("source") for d in decisions]
    assert decisions[0] == decisions[1] and all(os.path.isdir(s) for s in sources)
    third = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]
    again = json.loads(third.stdout)
    assert again["statistics"].pop("source") in sources and again == decisions[0]
    for step in ("ImageExampleGen", "StatisticsGen", "HyperRule"):
        assert f"{step} reused from cache" in third.stderr, third.stderr[-3000:]

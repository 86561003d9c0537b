"""The runner file works with TFX's own CLI (local engine), as README documents."""
import json
import os
import subprocess
import sys

import pytest

from runs import colour_images

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def test_tfx_pipeline_create_and_run_create(tmp_path):
    colour_images(str(tmp_path / "data"), 12, seed=1)
    config = {"data": str(tmp_path / "data"), "output": str(tmp_path / "out"), "model_spec": "random:tiny",
              "batch_size": 16, "batch_policy": "scale_lr", "min_accuracy": 0.0,
              "schedule_override": {"warmup": 1, "boundaries": [2, 3, 4], "total": 5}}
    (tmp_path / "run.json").write_text(json.dumps(config))
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, BIT_TFX_CONFIG=str(tmp_path / "run.json"), HOME=str(tmp_path),
               PATH=bin_dir + os.pathsep + os.environ["PATH"])
    runner = os.path.abspath("local_runner.py")
    for args in (["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
                 ["run", "create", "--engine=local", "--pipeline_name=bit-tfx"]):
        done = subprocess.run([os.path.join(bin_dir, "tfx")] + args, capture_output=True, text=True,
                              env=env, cwd=str(tmp_path))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert os.listdir(tmp_path / "out" / "serving"), "the run pushed no version"

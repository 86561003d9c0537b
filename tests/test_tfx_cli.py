"""The runner file works with TFX's own CLI (local engine), as README documents. Without
BIT_TFX_CONFIG it runs the embedded demo, so this is also the demo's accuracy check (issue 22):
the shipped backbone fine-tuned on the digits must pass the demo's own gate, fixed in
pipeline/configs.py before it was measured, and be pushed."""
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def test_tfx_pipeline_create_and_run_create_the_demo_which_passes_its_gate(tmp_path):
    from bit_tfx.pipeline import configs, results
    bin_dir = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "BIT_TFX_CONFIG"}
    env.update(HOME=str(tmp_path), PATH=bin_dir + os.pathsep + os.environ["PATH"])
    runner = os.path.abspath("local_runner.py")
    for args in (["pipeline", "create", "--engine=local", f"--pipeline_path={runner}"],
                 ["run", "create", "--engine=local", "--pipeline_name=bit-tfx"]):
        done = subprocess.run([os.path.join(bin_dir, "tfx")] + args, capture_output=True, text=True,
                              env=env, cwd=str(tmp_path))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    output = tmp_path / configs.DEMO_DEFAULTS["output"]
    summary = results.summarize(configs.RunConfig(data=str(output / configs.DEMO_DATA_DIR),
                                                  output=str(output)))
    accuracy = summary.metrics["sparse_categorical_accuracy"]
    assert accuracy >= configs.DEMO_MIN_ACCURACY >= 0.8, summary
    assert summary.blessed and os.listdir(output / configs.SERVING_DIR), summary

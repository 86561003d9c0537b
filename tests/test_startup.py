"""Start-up: what a command imports before it does its work (issue 10).

`bit-tfx --help` and every configuration error answer without importing TensorFlow or any
library built on it, and `bit-tfx compile` imports google-cloud-aiplatform only when the
deployment asks for a Vertex AI extension component (Training job Trainer, Endpoint Pusher).
Each case runs in a fresh interpreter and reads its sys.modules; bench/startup.py measures
the seconds.
"""
import json
import os
import subprocess
import sys

import pytest

from test_kubeflow import BASE, VERTEX, _flags

# Never needed to print help or to refuse a configuration. google.cloud.aiplatform_v1 alone
# (the accelerator enum) costs seconds: its package imports every service client.
HEAVY = ("tensorflow", "tfx", "apache_beam", "tensorflow_model_analysis", "tensorflow_transform",
         "tensorflow_data_validation", "tfx_bsl", "kfp", "google.cloud.aiplatform",
         "google.cloud.aiplatform_v1")
AIPLATFORM = ("google.cloud.aiplatform", "google.cloud.aiplatform_v1")

# `bit-tfx ARGV` in this interpreter; then the exit code and which of the modules are loaded.
_PROBE = """
import json, sys
from bit_tfx.cli import main
argv, out, watched = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
try:
    code = main.main(argv)
except SystemExit as e:  # argparse: --help, and flags it refuses itself
    code = e.code
with open(out, "w") as f:
    json.dump({"code": code, "loaded": [m for m in watched if m in sys.modules]}, f)
"""


def _bit_tfx(argv, tmp_path, watched=HEAVY):
    """(exit code, watched modules loaded, stderr) of `bit-tfx ARGV` in a fresh interpreter."""
    out = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), str(out), json.dumps(watched)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.exists(), done.stderr[-3000:]
    result = json.loads(out.read_text())
    return result["code"], result["loaded"], done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["compile", "--help"], ["run", "--help"],
                                  ["predict", "--help"], ["report", "--help"], ["rehearse", "--help"]])
def test_help_imports_no_tensorflow(tmp_path, argv):
    code, loaded, err = _bit_tfx(argv, tmp_path)
    assert code == 0, err
    assert loaded == [], f"bit-tfx {' '.join(argv)} imported {loaded}"


def _vertex(**change):
    values = dict(VERTEX, output="pipeline.json")
    values.update(change)
    return ["compile"] + _flags({k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize("argv, message", [
    (["run", "--data", ".", "--batch-size", "0"], "--batch-size"),
    (["run", "--data", ".", "--model", "hub:"], "model"),
    (["demo", "--output", "demo", "--min-accuracy", "2"], "--min-accuracy"),
    (["hyperrule", "--data", ".", "--pipeline-name", "Bit_TFX"], "--pipeline-name"),
    (_vertex(trainer_accelerator_type="NVIDIA_TESLA_K9000"), "trainer_accelerator_type 'NVIDIA_TESLA_K9000'"),
    (_vertex(project=None), "project is required"),
    (_vertex(output="pipeline.yaml"), "name the file *.json"),
    (["schedule", "--dry-run", "--cron", "61 3 * * 1"] + _vertex()[1:], "minute field '61'"),
    (["report", ".", "--max-examples", "-1"], "--max-examples"),
    (["run", "--data", ".", "--metadata", "postgres://u@h/db"], "--metadata 'postgres://u@h/db' is not a MySQL URL"),
    (["hyperrule", "--data", ".", "--schema", "no-such-schema.pbtxt"], "--schema 'no-such-schema.pbtxt' is not a file"),
    (["rehearse", "no-such-spec.json", "--data", ".", "--output", "demo"], "spec 'no-such-spec.json' does not exist"),
])
def test_configuration_errors_exit_2_without_importing_tensorflow(tmp_path, argv, message):
    code, loaded, err = _bit_tfx(argv, tmp_path)
    assert code == 2 and "configuration error" in err and message in err, err
    assert loaded == [], f"bit-tfx {' '.join(argv)} imported {loaded} before refusing the configuration"
    assert not os.path.exists(tmp_path / "demo")  # nothing was written


def test_compile_imports_aiplatform_only_for_the_vertex_extensions(tmp_path):
    """A Vertex PipelineJob whose Trainer is a step and whose Pusher writes to gs:// compiles
    without google-cloud-aiplatform (the Vertex AI Training Trainer and the Endpoint Pusher
    need it: their executor modules import the client)."""
    plain = dict(BASE, target="vertex", data="gs://bit-bucket/images/span-{SPAN}", layout="class_folders",
                 num_classes=5, serving_dir="gs://bit-bucket/serving", output=str(tmp_path / "plain.json"))
    code, loaded, err = _bit_tfx(["compile"] + _flags(plain), tmp_path, watched=AIPLATFORM + ("tfx",))
    assert code == 0, err
    assert loaded == ["tfx"], f"compile without Vertex AI extensions imported {loaded}"
    with open(plain["output"]) as f:
        tasks = json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {"Trainer", "Pusher", "Evaluator"} <= set(tasks)


def test_accelerator_names_read_from_source_are_aiplatforms_enum():
    """validation reads the names without importing google.cloud.aiplatform_v1: the same list."""
    from google.cloud.aiplatform_v1.types.accelerator_type import AcceleratorType
    from bit_tfx.kubeflow import validation
    names = validation.vertex_accelerator_types()
    assert names == [a.name for a in AcceleratorType if a.name != "ACCELERATOR_TYPE_UNSPECIFIED"]
    assert {"NVIDIA_TESLA_T4", "NVIDIA_TESLA_A100", "TPU_V3"} <= set(names)


def test_tfx_api_holds_tfx_v1s_own_objects():
    """tfx_api spells what it offers as tfx.v1 does, and each name is tfx.v1's own object."""
    from tfx import v1
    from bit_tfx.components import tfx_api
    for ours, theirs in ((tfx_api.dsl, v1.dsl), (tfx_api.dsl.experimental, v1.dsl.experimental),
                         (tfx_api.proto, v1.proto)):
        for name, value in vars(ours).items():
            assert name == "experimental" or value is getattr(theirs, name), name
    assert tfx_api.types.standard_artifacts.Model is v1.types.standard_artifacts.Model
    for name in ("ImportExampleGen", "StatisticsGen", "ExampleValidator", "Transform", "Trainer",
                 "Evaluator", "Pusher"):
        assert getattr(tfx_api.components, name) is getattr(v1.components, name), name

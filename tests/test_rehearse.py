"""`bit-tfx rehearse`: a compiled spec run task by task through each task's own container
command, as a KFP launcher hands it the ExecutorInput.

Default suite: the launcher's pieces on specs compiled here (the DAG order, the executor input
of both schemas, the path map, the trigger conditions, the local equivalents of Dataflow,
Vertex AI Training and the Endpoint) and the configuration errors. Slow (CI): rehearsals of
both targets with the installed wheel (tests/wheels.py), outside the checkout: trained,
blessed and pushed; `bit-tfx predict` on what it pushed; and a second rehearsal on the same
data that ends "nothing new".
"""
import json
import os
import subprocess

import pytest
from google.protobuf import json_format

from bit_tfx.core import keys
from bit_tfx.core.errors import ConfigError
from bit_tfx.kubeflow import rehearse, validation
from runs import cli_in_process as _main

BUCKET = "gs://bit-bucket"
# What the demo trains with (batch 16, the rule's rate scaled, orientation kept), on a 20-step
# schedule, gated at 0.3 on ten digit classes (chance 0.1).
TRAINING = ["--batch-size", "16", "--batch-policy", "scale_lr", "--preserve-orientation",
            "--schedule-override", '{"warmup": 2, "boundaries": [10, 14, 17], "total": 20}',
            "--min-accuracy", "0.3", "--layout", "class_folders", "--num-classes", "10",
            "--data", f"{BUCKET}/digits", "--pipeline-root", f"{BUCKET}/root",
            "--image", "europe-docker.pkg.dev/bit-project/bit/bit-tfx:1",
            "--model", f"npz:small:{BUCKET}/models/backbone.npz"]
KFP = ["--target", "kfp", "--serving-dir", f"{BUCKET}/serving"]
# Vertex: Dataflow (the target's default), a Vertex AI Training job, a Vertex AI Endpoint.
VERTEX = ["--target", "vertex", "--project", "bit-project", "--region", "us-central1",
          "--vertex-endpoint", "digits", "--trainer-placement", "vertex_training",
          "--trainer-machine-type", "n1-standard-8"]


def compile_args(target, output):
    return ["compile"] + (KFP if target == "kfp" else VERTEX) + TRAINING + ["--spec", str(output)]


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    """{target: (path, PipelineSpec, PipelineJob or None)} compiled in this process."""
    from bit_tfx.cli import deploy
    from bit_tfx.cli.main import build_parser
    from bit_tfx.kubeflow import compile as compiling
    tmp = tmp_path_factory.mktemp("specs")
    found = {}
    for target, name in (("kfp", "pipeline.yaml"), ("vertex", "pipeline.json")):
        args = build_parser().parse_args(compile_args(target, tmp / name))
        compiling.compile_pipeline(validation.validate(deploy.deploy_from_args(args)))
        found[target] = (str(tmp / name),) + compiling.load(str(tmp / name))
    return found


# --------------------------------------------------------------------------- the launcher's pieces
def test_tasks_run_after_every_task_they_depend_on(specs):
    for target, (_, spec, _) in specs.items():
        order = [t.name for t in rehearse.tasks_in_order(spec)]
        assert sorted(order) == sorted(spec.root.dag.tasks), target
        for task in rehearse.tasks_in_order(spec):
            for upstream in task.upstream:
                assert order.index(upstream) < order.index(task.name), (target, task.name, upstream)
        assert order[0] == keys.NODE_IMAGE_EXAMPLE_GEN and order[-1] == keys.NODE_PUSHER


def test_the_spec_s_cloud_paths_map_under_the_output(specs, tmp_path):
    _, spec, job = specs["vertex"]
    paths = rehearse.path_map(spec, job, str(tmp_path / "data"), str(tmp_path / "out"),
                              [(f"{BUCKET}/models", str(tmp_path / "weights"))])
    assert paths.local(f"{BUCKET}/digits") == str(tmp_path / "data")
    assert paths.local(f"{BUCKET}/digits/seven/1.png") == str(tmp_path / "data" / "seven" / "1.png")
    assert paths.local(f"{BUCKET}/digits2/x") == str(tmp_path / "out" / "gcs" / "bit-bucket" / "digits2" / "x")
    assert paths.local(f"{BUCKET}/root/tmp/dataflow") == str(tmp_path / "out" / "pipeline_root" / "tmp" / "dataflow")
    assert paths.local(f"{BUCKET}/models/backbone.npz") == str(tmp_path / "weights" / "backbone.npz")
    # inside JSON parameters too
    assert json.loads(paths.rewrite(json.dumps({"a": [f"{BUCKET}/digits/x", "gs://other/y"]}))) == \
        {"a": [str(tmp_path / "data" / "x"), str(tmp_path / "out" / "gcs" / "other" / "y")]}
    # a data root compiled as a local path (compile warns) is replaced as a whole value
    local = rehearse.PathMap(str(tmp_path / "out"), [], {"/compiled/images": str(tmp_path / "data")})
    assert local.rewrite("/compiled/images") == str(tmp_path / "data")
    assert local.rewrite("/compiled/images2") == "/compiled/images2"
    # a KFP spec names no pipeline root (it is given at submission): the serving folder is in it
    _, spec, job = specs["kfp"]
    paths = rehearse.path_map(spec, job, str(tmp_path / "data"), str(tmp_path / "out"))
    assert paths.local(f"{BUCKET}/serving/17") == str(tmp_path / "out" / "serving" / "17")


def test_trigger_conditions_read_the_producers_metadata():
    expression = "(inputs.artifacts['_ServingBaseline.model'].artifacts[0].metadata['train'] == 1.0)"
    trains = {"_ServingBaseline.model": [{"uri": "u", "name": "n", "metadata": {"train": 1.0}}]}
    same = {"_ServingBaseline.model": [{"uri": "u", "name": "n", "metadata": {"train": 0.0}}]}
    assert rehearse.condition_holds(expression, trains)
    assert not rehearse.condition_holds(expression, same)
    assert rehearse.condition_holds(f"!{expression}", same)
    assert not rehearse.condition_holds(f"{expression} && inputs.parameter_values['n'] > 2", trains, {"n": 2})
    assert rehearse.condition_holds(f"{expression} || inputs.parameter_values['s'] == 'x'", same, {"s": "x"})
    with pytest.raises(ConfigError, match="__import__"):
        rehearse.condition_holds("__import__('os').system('true')", {})
    with pytest.raises(ConfigError, match="KeyError"):
        rehearse.condition_holds(expression, {})


def test_the_executor_input_has_the_schema_s_parameters_and_the_inputs_as_produced(specs, tmp_path):
    from kfp.pipeline_spec import pipeline_spec_pb2
    upstream = pipeline_spec_pb2.RuntimeArtifact(name="run/ImageExampleGen/examples", uri="/x/examples")
    upstream.metadata.update({"span": 0.0, "split_names": '["train", "eval"]'})
    for target, field in (("kfp", "parameter_values"), ("vertex", "parameters")):
        _, spec, _ = specs[target]
        (task,) = [t for t in rehearse.tasks_in_order(spec) if t.name == keys.NODE_STATISTICS]
        parameters = rehearse.constant_parameters(task.spec)
        message = rehearse.executor_input(task, parameters, {"examples": upstream}, str(tmp_path / target), "run")
        given = getattr(message.inputs, field)
        assert set(given) == set(parameters) == {"exclude_splits"}, target
        assert len(getattr(message.inputs, "parameters" if field == "parameter_values" else "parameter_values")) == 0
        assert message.inputs.artifacts["examples"].artifacts[0] == upstream
        (out,) = message.outputs.artifacts["statistics"].artifacts
        assert out.uri == str(tmp_path / target / "statistics") and out.name == "run/StatisticsGen/statistics"
        assert "ExampleStatistics" in out.type.instance_schema
        assert message.outputs.output_file == str(tmp_path / target / "executor_output.json")
        argv = rehearse.command_line(task, list(task.container.args), message, "run", str(tmp_path))
        assert argv[1:3] == ["-m", rehearse.ENTRYPOINT] and os.path.isabs(argv[0])
        invocation = json_format.Parse(argv[argv.index("--json_serialized_invocation_args") + 1],
                                       pipeline_spec_pb2.ExecutorInput())
        assert invocation == message


def test_cloud_services_have_local_equivalents_that_say_so(specs, tmp_path):
    _, spec, job = specs["vertex"]
    tasks = {t.name: t for t in rehearse.tasks_in_order(spec)}
    out = str(tmp_path / "out")
    args, _, notes = rehearse.local_equivalents(
        keys.NODE_STATISTICS, list(tasks[keys.NODE_STATISTICS].container.args), {}, out)
    assert "--runner=DataflowRunner" in tasks[keys.NODE_STATISTICS].container.args
    assert rehearse.split_args(args)[1] == ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
    assert notes == ["Dataflow -> Beam's DirectRunner in the task's process"]

    trainer = tasks[keys.NODE_TRAINER]
    args, parameters, notes = rehearse.local_equivalents(
        keys.NODE_TRAINER, list(trainer.container.args), rehearse.constant_parameters(trainer.spec), out)
    assert args[args.index("--executor_class_path") + 1] == rehearse.TRAINING_HERE
    assert notes[-1].startswith("Vertex AI Training job -> its CustomJob")
    assert json.loads(parameters["custom_config"][0])["ai_platform_training_args"]["job_spec"]

    pusher = tasks[keys.NODE_PUSHER]
    args, parameters, notes = rehearse.local_equivalents(
        keys.NODE_PUSHER, list(pusher.container.args), rehearse.constant_parameters(pusher.spec), out)
    assert args[args.index("--executor_class_path") + 1] == rehearse.FILESYSTEM_PUSHER
    assert json.loads(parameters["push_destination"][0]) == {
        "filesystem": {"baseDirectory": os.path.join(out, "serving")}}
    assert "custom_config" not in parameters and notes[-1].startswith("Vertex AI Endpoint upload")

    baseline = tasks[keys.NODE_SERVING_BASELINE]
    _, parameters, notes = rehearse.local_equivalents(
        keys.NODE_SERVING_BASELINE, list(baseline.container.args), rehearse.constant_parameters(baseline.spec), out)
    assert parameters["serving_directory"] == (os.path.join(out, "serving"), "2.0")
    assert not {"vertex_endpoint", "vertex_project", "vertex_region"} & set(parameters)
    assert notes[-1].startswith("the model the Vertex AI Endpoint serves")

    # KFP compiled to a filesystem Pusher and Beam in the pod: nothing to replace
    _, spec, _ = specs["kfp"]
    for task in rehearse.tasks_in_order(spec):
        args, parameters, notes = rehearse.local_equivalents(
            task.name, list(task.container.args), rehearse.constant_parameters(task.spec), out)
        assert (args, parameters, notes) == (list(task.container.args), rehearse.constant_parameters(task.spec),
                                             []), task.name


def test_the_gate_is_read_back_from_the_compiled_eval_config():
    from bit_tfx.components.evaluation import gate
    from tfx.utils import proto_utils
    for min_accuracy, drop in ((0.8, 0.0), (0.3, 0.02)):
        config = json.loads(proto_utils.proto_to_json(gate.eval_config(min_accuracy, drop, 10)))
        assert gate.thresholds_of(config) == {"min_accuracy": min_accuracy, "max_accuracy_drop": drop}


@pytest.mark.parametrize("change, message", [
    ({"spec": "missing.json"}, "does not exist: give the file `bit-tfx compile --spec` wrote"),
    ({"spec": "not_a_spec.yaml"}, "is not a compiled pipeline"),
    ({"data": "no_such_folder"}, "is not a folder: give the local folder that stands for the spec's data root"),
    ({"output": "data/out"}, "is inside --data"),
    ({"map": "bit-bucket/models=./w"}, "give GS_PREFIX=LOCAL_FOLDER"),
])
def test_configuration_errors_fail_before_any_task_and_write_nothing(specs, tmp_path, capsys, change, message):
    (tmp_path / "data").mkdir()
    (tmp_path / "not_a_spec.yaml").write_text("pipelineInfo: [1, 2]\n")
    values = {"spec": specs["kfp"][0], "data": "data", "output": "out", **change}
    values = {k: str(tmp_path / v) if k != "map" and not os.path.isabs(v) else v for k, v in values.items()}
    argv = ["rehearse", values["spec"], "--data", values["data"], "--output", values["output"]]
    argv += ["--map", values["map"]] if "map" in values else []
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == ""
    assert message in err.strip().splitlines()[-1]
    assert not os.path.exists(values["output"])


# --------------------------------------------------------------------------- whole rehearsals (CI)
def _installed(wheel_venv, argv, cwd, ok=(0,)):
    import wheels
    done = subprocess.run([os.path.join(wheel_venv.bin, "bit-tfx")] + argv, cwd=cwd, capture_output=True,
                          text=True, env=wheels.environment(wheel_venv.bin), timeout=900)
    assert done.returncode in ok, (argv[0], done.returncode, done.stderr[-4000:])
    return done


@pytest.mark.slow
def test_compiled_specs_rehearse_with_the_installed_wheel(wheel_venv, tmp_path):
    """Both targets, each as `bit-tfx compile` wrote it, run by the installed bit-tfx from a
    folder outside the checkout, into one OUTPUT as one project's specs would share its serving
    folder: the Vertex JSON through the local equivalents of Dataflow, Vertex AI Training and
    the Endpoint (trained, blessed, pushed; `bit-tfx predict` on the pushed version), then the
    KFP YAML on the same data: its untrained tasks run, its condition skips the training branch,
    nothing new (exit 4). (The KFP YAML's training branch ran in full by hand, docs/deploy.md;
    one more trained rehearsal is four minutes of CI.)"""
    from bit_tfx.datasets import digits
    from bit_tfx.models import backbones
    data = tmp_path / "digits"
    digits.write_digits(str(data), per_class=12)
    # The installed wheel's shipped .npz, as if it were in the bucket.
    shipped = os.path.join(wheel_venv.site, "bit_tfx", "models", "backbones", backbones.FRACTAL_SMALL.name)
    assert os.path.isfile(os.path.join(shipped, backbones.WEIGHTS_FILE))
    output, weights = tmp_path / "rehearsal", f"{BUCKET}/models={shipped}"
    specs = {target: tmp_path / name for target, name in (("vertex", "pipeline.json"), ("kfp", "pipeline.yaml"))}
    for target, spec in specs.items():
        _installed(wheel_venv, compile_args(target, spec), tmp_path)
    rehearse_args = ["--data", str(data), "--output", str(output), "--map", weights]

    done = _installed(wheel_venv, ["rehearse", str(specs["vertex"])] + rehearse_args, tmp_path)
    summary = json.loads(done.stdout)
    assert summary["verdict"] == "trained" and summary["blessed"], summary
    assert summary["metrics"]["sparse_categorical_accuracy"] >= 0.3
    assert summary["pushed_to"] == os.path.join(str(output), "serving", str(summary["version"]))
    assert os.path.isfile(os.path.join(summary["pushed_to"], "saved_model.pb"))
    assert summary["report"] and os.path.isfile(summary["report"])
    tasks = {t["task"]: t for t in summary["rehearsal"]["tasks"]}
    assert set(tasks) == set(compiled_tasks(specs["vertex"])) and not any("skipped" in t for t in tasks.values())
    lines = done.stderr.splitlines()
    assert any(f"] {keys.NODE_PUSHER} done in" in line for line in lines)
    said = " ".join(note for t in tasks.values() for note in t["local_equivalents"])
    for service in ("Dataflow", "Vertex AI Training job", "Vertex AI Endpoint"):
        assert service in said and any(service in line and "(local equivalent)" in line for line in lines)
    job = output / "pipeline_root" / summary["rehearsal"]["run"] / keys.NODE_TRAINER / "vertex_custom_job.json"
    pool = json.loads(job.read_text())["job_spec"]["worker_pool_specs"][0]
    assert pool["container_spec"]["command"][:3] == ["python", "-m", "tfx.scripts.run_executor"]
    assert pool["machine_spec"]["machine_type"] == "n1-standard-8"

    predicted = _installed(wheel_venv, ["predict", "--model", str(output / "serving"), "--json",
                                        str(data / "seven")], tmp_path)
    answers = [json.loads(line) for line in predicted.stdout.splitlines() if line.strip()]
    assert len(answers) == 12

    again = _installed(wheel_venv, ["rehearse", str(specs["kfp"])] + rehearse_args, tmp_path, ok=(4,))
    verdict = json.loads(again.stdout)
    assert verdict["verdict"] == "nothing_new" and verdict["serving_version"] == summary["version"]
    ran = {t["task"] for t in verdict["rehearsal"]["tasks"] if "seconds" in t}
    skipped = {t["task"] for t in verdict["rehearsal"]["tasks"] if "skipped" in t}
    assert skipped == {keys.NODE_TRANSFORM, keys.NODE_TRAINER, keys.NODE_EVALUATOR, keys.NODE_MODEL_CARD,
                       keys.NODE_PUSHER}
    assert ran == set(compiled_tasks(specs["kfp"])) - skipped
    assert f"{keys.NODE_TRAINER} skipped" in again.stderr


def compiled_tasks(path):
    from bit_tfx.kubeflow import compile as compiling
    return compiling.load(str(path))[0].root.dag.tasks


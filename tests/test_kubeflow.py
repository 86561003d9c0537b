"""Kubeflow Pipelines v2 / Vertex AI: the compiled files, the image contract, one step run from
a compiled spec as a pod would run it, deployment-config errors, and the schedule requests.

Offline and real: kfp's and google-cloud-aiplatform's own classes parse and build everything;
only the network calls of the schedule clients are not made (--dry-run).
"""
import json
import os
import subprocess
import sys

import pytest
import yaml
from google.protobuf import json_format

import images
from bit_tfx.core import keys
from bit_tfx.core.errors import ConfigError
from bit_tfx.kubeflow import config as deploy_config
from bit_tfx.kubeflow import cron, validation

IMAGE = "us-central1-docker.pkg.dev/bit-project/bit/bit-tfx:1.0"
SA = "runner@bit-project.iam.gserviceaccount.com"
BASE = dict(project="bit-project", region="us-central1", pipeline_root="gs://bit-bucket/root", image=IMAGE)
# Vertex: remote data (never read here), Dataflow, a multi-worker GPU Vertex AI Training job,
# push to a Vertex AI Endpoint.
VERTEX = dict(BASE, target="vertex", data="gs://bit-bucket/images/span-{SPAN}", layout="class_folders",
              num_classes=5, vertex_endpoint="flowers", trainer_placement="vertex_training",
              trainer_machine_type="a2-highgpu-1g", trainer_accelerator_type="NVIDIA_TESLA_A100",
              trainer_replica_count=3, dataflow_machine_type="n1-standard-4", dataflow_max_num_workers=10,
              service_account=SA)
# KFP: the Trainer step itself gets CPU, memory and GPUs; Beam in the step's pod; a gs:// folder.
KFP = dict(BASE, target="kfp", serving_dir="gs://bit-bucket/serving", trainer_cpu=8, trainer_memory_gb=32,
           trainer_accelerator_type="nvidia.com/gpu", trainer_accelerator_count=2, split_ratio=[1, 1])
OUR_CODE = {
    "bit_tfx.components.image_example_gen.executor.Executor", "bit_tfx.components.image_schema.component.Executor",
    "bit_tfx.components.image_schema.component.SpanDriftExecutor", "bit_tfx.components.hyperrule.component.Executor",
    "bit_tfx.components.transform.component.Executor", "bit_tfx.models.preprocessing.preprocessing_fn",
    "bit_tfx.models.training.run.run_fn", "bit_tfx.components.model_card.executor.Executor",
    "bit_tfx.components.pusher.executor.Executor", "bit_tfx.components.serving.executor.Executor",
    "bit_tfx.components.evaluation.evaluator.Executor"}
BEAM_TASKS = (keys.NODE_IMAGE_EXAMPLE_GEN, keys.NODE_STATISTICS, keys.NODE_TRANSFORM, keys.NODE_EVALUATOR)


def span_images(root):
    """root/span-1 (3 per class) and root/span-2 (8 per class): a run must take span 2."""
    images.class_folders(str(root), ["cat", "dog"], 3, prefix="span-1", kind="png", size=(24, 24))
    images.class_folders(str(root), ["cat", "dog"], 8, prefix="span-2", kind="png", size=(24, 24))
    return str(root / "span-{SPAN}")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Both targets compiled in this process: {target: (deploy, summary, spec, job)}."""
    from bit_tfx.kubeflow import compile as compiling
    tmp = tmp_path_factory.mktemp("kubeflow")
    data = span_images(tmp / "images")
    result = {}
    for values, name in ((VERTEX, "pipeline.json"), (dict(KFP, data=data), "pipeline.yaml")):
        deploy = _validated(dict(values, spec=str(tmp / name)))
        summary = compiling.compile_pipeline(deploy)
        spec, job = compiling.load(deploy.spec)
        result[deploy.target] = (deploy, summary, spec, job)
    return result


def executors(spec):
    from bit_tfx.kubeflow import compile as compiling
    return compiling.container_executors(spec)


def parameters(spec, task):
    from bit_tfx.kubeflow import image_contract
    return image_contract.task_parameters(spec, task)


# --------------------------------------------------------------------------- compiled files
def test_both_files_parse_with_kfp_classes_and_hold_every_component(compiled):
    from kfp.pipeline_spec import pipeline_spec_pb2
    deploy, summary, spec, job = compiled["vertex"]
    with open(deploy.spec) as f:  # strict parse: an unknown field would fail
        job_again = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())
    assert job_again.runtime_config.gcs_output_directory == "gs://bit-bucket/root"
    assert spec.schema_version == "2.0.0" and spec.pipeline_info.name == "bit-tfx"
    deploy, summary, spec_kfp, job = compiled["kfp"]
    assert job is None and spec_kfp.schema_version == "2.1.0"
    with open(deploy.spec) as f:
        json_format.ParseDict(yaml.safe_load(f), pipeline_spec_pb2.PipelineSpec())

    for target, (deploy, summary, spec, _) in compiled.items():
        tasks = set(spec.root.dag.tasks)
        assert set(summary["components"]) == tasks, target  # every node of the DAG is one task
        assert {"ImageExampleGen", "HyperRule", "HyperRuleTransform", "Trainer", "Evaluator", "Pusher",
                "SpanDriftValidator", "ServingBaseline"} <= tasks
        # The compiled DAG's nodes are exactly those keys.py names (an image source: ImageExampleGen).
        assert set(summary["components"]) == \
            {v for k, v in vars(keys).items() if k.startswith("NODE_")} - {
                keys.NODE_IMPORT_EXAMPLE_GEN, keys.NODE_UPSTREAM_RECIPE, keys.NODE_IMPORT_SCHEMA,
                keys.NODE_ANOMALIES_GATE}
        # Every input artifact comes from a task of this DAG and an output it declares.
        for name, task in spec.root.dag.tasks.items():
            for key, source in task.inputs.artifacts.items():
                producer = source.task_output_artifact.producer_task
                assert producer in spec.root.dag.tasks, (target, name, key, producer)
                outputs = spec.components[spec.root.dag.tasks[producer].component_ref.name].output_definitions
                assert source.task_output_artifact.output_artifact_key in outputs.artifacts
        assert {c.image for c in executors(spec).values()} == {IMAGE}


def test_compiling_logs_no_deprecated_tfx_usage(tmp_path, caplog):
    """The Pusher is a component class of its own (components/pusher/component.py), not TFX's
    with the deprecated `custom_executor_spec`, which logged a warning at every compile."""
    import logging
    from bit_tfx.kubeflow import compile as compiling
    deploy = _validated(dict(KFP, data=span_images(tmp_path / "images"), spec=str(tmp_path / "p.yaml")))
    with caplog.at_level(logging.WARNING):
        compiling.compile_pipeline(deploy)
    spec, _ = compiling.load(deploy.spec)
    assert keys.NODE_PUSHER in spec.root.dag.tasks
    assert not [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage().lower()]


def test_pretraining_compiles_as_the_same_dag_with_the_upstream_recipe(tmp_path):
    """`"pretrain": true` in the deployment config: the same DAG for Vertex, the UpstreamRecipe in
    the HyperRule's place with the recorded overrides, so a large in-house set pre-trains on
    Vertex AI Training GPUs through the compile path every run uses."""
    from bit_tfx.kubeflow import compile as compiling
    overrides = {"epochs": 30, "decay_epochs": [10, 20, 27]}
    deploy = _validated(dict(VERTEX, spec=str(tmp_path / "pretrain.json"), pretrain=True,
                             model_spec="random:R50x1", upstream_schedule="bit-s",
                             upstream_overrides=overrides, pipeline_name="bit-tfx-pretrain"))
    summary = compiling.compile_pipeline(deploy)
    spec, _ = compiling.load(deploy.spec)
    tasks = set(spec.root.dag.tasks)
    assert keys.NODE_UPSTREAM_RECIPE in tasks and keys.NODE_HYPERRULE not in tasks
    assert set(summary["components"]) == tasks
    recipe = parameters(spec, keys.NODE_UPSTREAM_RECIPE)
    assert recipe["schedule"] == "bit-s" and json.loads(recipe["overrides"]) == overrides
    trainer = spec.root.dag.tasks[keys.NODE_TRAINER]
    assert keys.HYPERPARAMETERS_KEY in trainer.inputs.artifacts
    assert trainer.inputs.artifacts[keys.HYPERPARAMETERS_KEY].task_output_artifact.producer_task \
        == keys.NODE_UPSTREAM_RECIPE


def test_curated_schema_and_anomalies_gate_compile_for_both_targets(tmp_path):
    """`schema_file` and `fail_on_anomalies` (--schema, --fail-on-anomalies) in a deployment:
    TFX's ImportSchemaGen in the ImageSchemaGen's place feeds the validator, Transform and the
    Trainer; the AnomaliesGate is an ordinary container step that reads the validator's
    anomalies, and Transform and the Trainer wait for it (dependentTasks), on Vertex and KFP."""
    from bit_tfx.kubeflow import compile as compiling
    schema = "gs://bit-bucket/schemas/flowers.pbtxt"  # remote: read by the step, not at compile time
    for values, name in ((VERTEX, "gated.json"), (dict(KFP, data="gs://bit-bucket/d/span-{SPAN}",
                                                       layout="class_folders", num_classes=2), "gated.yaml")):
        deploy = _validated(dict(values, spec=str(tmp_path / name), schema_file=schema,
                                 fail_on_anomalies=True))
        summary = compiling.compile_pipeline(deploy)
        spec, _ = compiling.load(deploy.spec)
        tasks = spec.root.dag.tasks
        assert set(summary["components"]) == set(tasks)
        assert keys.NODE_IMPORT_SCHEMA in tasks and keys.NODE_SCHEMA not in tasks, name
        assert parameters(spec, keys.NODE_IMPORT_SCHEMA)["schema_file"] == schema
        for node in (keys.NODE_VALIDATOR, keys.NODE_TRANSFORM, keys.NODE_TRAINER):
            assert tasks[node].inputs.artifacts[keys.SCHEMA_KEY].task_output_artifact.producer_task \
                == keys.NODE_IMPORT_SCHEMA, (name, node)
        gate = tasks[keys.NODE_ANOMALIES_GATE]
        assert gate.inputs.artifacts[keys.ANOMALIES_KEY].task_output_artifact.producer_task == keys.NODE_VALIDATOR
        for node in (keys.NODE_TRANSFORM, keys.NODE_TRAINER):
            assert keys.NODE_ANOMALIES_GATE in tasks[node].dependent_tasks, (name, node)
        assert any("bit_tfx.components.anomalies_gate.component.Executor" in " ".join(c.args)
                   for c in executors(spec).values()), name
        assert compiling.kfp_backend_gaps(compiling._executors(spec)) == [], name


def test_every_task_is_an_executor_kind_the_open_source_kfp_backend_implements(compiled):
    """Walks both compiled specs with kfp's own proto classes: every task's executor is a
    container or an importer, the kinds the open-source KFP v2 backend implements (its source,
    kubeflow/pipelines backend/src/v2/compiler/argocompiler/dag.go, workflowCompiler.task:
    "resolver executors not implemented", custom_job "is Google Cloud only"), and no container
    carries a lifecycle hook (the backend's container driver runs none; TFX compiles the
    ExampleGen driver as one for FileBasedExampleGen subclasses)."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from bit_tfx.kubeflow import compile as compiling
    assert compiling.KFP_OSS_EXECUTORS == ("container", "importer")
    for target, (deploy, summary, spec, _) in compiled.items():
        executors_by_label = spec.deployment_spec["executors"]
        for name, task in spec.root.dag.tasks.items():
            component = spec.components[task.component_ref.name]
            executor = pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec()
            json_format.ParseDict(json_format.MessageToDict(executors_by_label[component.executor_label]),
                                  executor)
            assert executor.WhichOneof("spec") in compiling.KFP_OSS_EXECUTORS, (target, name)
            assert not executor.container.HasField("lifecycle"), (target, name)
        assert compiling.kfp_backend_gaps(compiling._executors(spec)) == [], target
        assert not any("KFP v2" in w for w in summary["warnings"]), summary["warnings"]
    # The check can fail: a Resolver, as the DAG had one, is named.
    spec = pipeline_spec_pb2.PipelineSpec()
    spec.CopyFrom(compiled["kfp"][2])
    label = spec.components[spec.root.dag.tasks["Pusher"].component_ref.name].executor_label
    spec.deployment_spec["executors"][label] = {"resolver": {"outputArtifactQueries": {}}}
    assert compiling.kfp_backend_gaps(compiling._executors(spec)) == [
        "Pusher: a resolver task, which the open-source KFP v2 backend does not implement"]


def test_scheduled_runs_take_the_newest_span_and_gate_against_what_is_serving(compiled):
    for target, (deploy, summary, spec, _) in compiled.items():
        tasks = spec.root.dag.tasks
        # No driver hook: the executor resolves {SPAN}, and the step is never a cache hit
        # (nothing would tell the cache that a new span arrived); the other steps are cached.
        assert not executors(spec)["ImageExampleGen"].HasField("lifecycle")
        input_config = json.loads(parameters(spec, "ImageExampleGen")["input_config"])
        assert input_config["splits"][0]["pattern"] == "span-{SPAN}/*/*"
        assert not tasks["ImageExampleGen"].caching_options.enable_cache
        assert tasks["Trainer"].caching_options.enable_cache and tasks["ServingBaseline"].caching_options.enable_cache
        # The baseline: ServingBaseline, a regular step run once per ingested span.
        serving = tasks["ServingBaseline"]
        assert serving.inputs.artifacts["examples"].task_output_artifact.producer_task == "ImageExampleGen"
        baseline = tasks["Evaluator"].inputs.artifacts["baseline_model"].task_output_artifact
        assert (baseline.producer_task, baseline.output_artifact_key) == ("ServingBaseline", "model")
        drift = tasks["SpanDriftValidator"].inputs.artifacts["schema"].task_output_artifact
        assert (drift.producer_task, drift.output_artifact_key) == ("ServingBaseline", "schema")
        assert tasks["Pusher"].inputs.artifacts["model_blessing"].task_output_artifact.producer_task == "Evaluator"
        assert "schema" in tasks["ModelCardGen"].inputs.artifacts  # shipped in every pushed version
        eval_config = json.loads(parameters(spec, "Evaluator")["eval_config"])
        threshold = eval_config["metrics_specs"][0]["metrics"][1]["per_slice_thresholds"][0]["threshold"]
        assert threshold["change_threshold"]["direction"] == "HIGHER_IS_BETTER"  # no drop allowed (default 0)
    # It looks where the Pusher pushes: the Vertex AI Endpoint, or the gs:// serving folder.
    # (and whether to train on the data the serving version was trained on: not unless forced)
    vertex_baseline = parameters(compiled["vertex"][2], "ServingBaseline")
    assert vertex_baseline == {"vertex_project": "bit-project", "vertex_region": "us-central1",
                               "vertex_endpoint": "flowers", "force": 0,
                               "input_base": vertex_baseline["input_base"]}
    kfp_baseline = parameters(compiled["kfp"][2], "ServingBaseline")
    assert kfp_baseline == {"serving_directory": "gs://bit-bucket/serving", "force": 0,
                            "input_base": kfp_baseline["input_base"]}


TRAINING_BRANCH = (keys.NODE_TRANSFORM, keys.NODE_TRAINER, keys.NODE_EVALUATOR, keys.NODE_MODEL_CARD,
                   keys.NODE_PUSHER)


def test_a_scheduled_run_on_the_serving_model_s_data_skips_the_training_branch(compiled):
    """The tfx.dsl.Cond of the DAG, compiled: each step of the training branch carries the
    trigger condition on ServingBaseline's `train` (a CEL expression over the task's inputs,
    which Vertex AI Pipelines and the KFP v2 driver evaluate before the step starts), with
    ServingBaseline's model among its inputs; the steps before it carry none."""
    for target, (_, _, spec, _) in compiled.items():
        tasks = spec.root.dag.tasks
        for name, task in tasks.items():
            condition = task.trigger_policy.condition
            if name not in TRAINING_BRANCH:
                assert condition == "", (target, name)
                continue
            key = next(k for k, a in task.inputs.artifacts.items()
                       if (a.task_output_artifact.producer_task, a.task_output_artifact.output_artifact_key)
                       == (keys.NODE_SERVING_BASELINE, keys.MODEL_KEY))
            assert condition == (f"(inputs.artifacts['{key}'].artifacts[0]"
                                 f".metadata['{keys.TRAIN_PROPERTY}'] == 1.0)"), (target, name, condition)
            component = spec.components[task.component_ref.name]
            assert key in component.input_definitions.artifacts, (target, name)


def test_force_compiles_into_the_serving_baseline_step():
    """`force: true` (or --force) in a deployment: every scheduled run trains."""
    from bit_tfx.kubeflow import compile as compiling
    tfx_pipeline, _ = compiling.build(_validated(dict(KFP, data="gs://bit-bucket/images/span-{SPAN}",
                                                      layout="class_folders", force=True)))
    serving = next(c for c in tfx_pipeline.components if c.id == keys.NODE_SERVING_BASELINE)
    assert serving.exec_properties["force"] == 1


def test_configured_beam_args_resources_and_placements(compiled):
    from google.cloud.aiplatform_v1.types import custom_job
    from bit_tfx.models.training.config import TrainerConfig

    deploy, summary, spec, _ = compiled["vertex"]
    containers = executors(spec)
    dataflow = {"--runner=DataflowRunner", "--project=bit-project", "--region=us-central1",
                "--temp_location=gs://bit-bucket/root/tmp/dataflow", f"--sdk_container_image={IMAGE}",
                "--machine_type=n1-standard-4", "--max_num_workers=10"}
    for task in BEAM_TASKS:
        assert dataflow <= set(containers[task].args), task
    # Trainer (2): the step launches a Vertex AI Training job.
    trainer_args = list(containers[keys.NODE_TRAINER].args)
    assert trainer_args[trainer_args.index("--executor_class_path") + 1] == \
        "tfx.extensions.google_cloud_ai_platform.trainer.executor.GenericExecutor"
    trainer = parameters(spec, keys.NODE_TRAINER)
    assert trainer["run_fn"] == "bit_tfx.models.training.run.run_fn"
    custom_config = json.loads(trainer["custom_config"])
    assert custom_config["ai_platform_enable_vertex"] is True
    assert custom_config["ai_platform_vertex_region"] == "us-central1"
    training = custom_config["ai_platform_training_args"]
    assert training["project"] == "bit-project"
    assert summary["trainer"]["vertex_training"] == training  # what compile prints is what was compiled
    job_spec = custom_job.CustomJobSpec(training["job_spec"])  # Vertex AI's own message accepts it
    chief, workers = job_spec.worker_pool_specs
    assert (chief.replica_count, workers.replica_count) == (1, 2)
    for pool in (chief, workers):
        assert pool.machine_spec.machine_type == "a2-highgpu-1g"
        assert pool.machine_spec.accelerator_type.name == "NVIDIA_TESLA_A100"
        assert pool.machine_spec.accelerator_count == 1
        assert pool.container_spec.image_uri == IMAGE
    assert job_spec.service_account == SA
    TrainerConfig.from_custom_config(custom_config)  # run_fn accepts what the extension forwards
    pusher = json.loads(parameters(spec, keys.NODE_PUSHER)["custom_config"])
    assert pusher["ai_platform_serving_args"]["endpoint_name"] == "flowers"
    assert pusher["ai_platform_serving_args"]["project_id"] == "bit-project"
    assert pusher["ai_platform_vertex_container_image_uri"] == deploy_config.DEFAULT_SERVING_IMAGE

    deploy, summary, spec, _ = compiled["kfp"]
    containers = executors(spec)
    for task in BEAM_TASKS:
        assert "--direct_running_mode=in_memory" in containers[task].args
        assert not any(a.startswith("--runner=") for a in containers[task].args)
    # Trainer (1): the pipeline step itself gets the resources.
    resources = containers[keys.NODE_TRAINER].resources
    assert (resources.cpu_limit, resources.memory_limit) == (8.0, 32.0)
    assert (resources.accelerator.type, resources.accelerator.count) == ("nvidia.com/gpu", 2)
    assert summary["trainer"] == {"placement": "step", "resources": {
        "cpuLimit": 8.0, "memoryLimit": 32.0, "accelerator": {"type": "nvidia.com/gpu", "count": "2"}}}
    assert json.loads(parameters(spec, keys.NODE_PUSHER)["push_destination"]) == \
        {"filesystem": {"base_directory": "gs://bit-bucket/serving"}}


def test_every_import_path_in_the_specs_imports(compiled):
    """The image contract: what the specs name must import where the steps run."""
    from bit_tfx.kubeflow import image_contract
    paths = {}
    for target, (_, _, spec, _) in compiled.items():
        paths.update(image_contract.referenced_import_paths(spec))
    assert OUR_CODE <= set(paths)
    assert "tfx.scripts.run_executor" in paths  # the Vertex AI Training replicas' entrypoint
    assert image_contract.check_imports(paths) == {}
    assert image_contract.check_imports(["bit_tfx.models.training.run.no_such_fn"])  # the check can fail


def test_image_contract_checks_a_compiled_file(compiled, capsys):
    from bit_tfx.kubeflow import image_contract
    deploy = compiled["kfp"][0]
    assert image_contract.main(["image_contract", deploy.spec]) == 0
    result = json.loads(capsys.readouterr().out)
    assert OUR_CODE <= set(result["checked"])
    assert result["failures"] == {}


# --------------------------------------------------------------------------- a step, as a pod runs it
def test_image_example_gen_runs_from_the_compiled_spec_like_a_pod(compiled, tmp_path):
    """The step's own command line from the compiled KFP spec, handed the ExecutorInput a
    launcher builds (kubeflow/rehearse.py, as `bit-tfx rehearse` runs every task)."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from bit_tfx.kubeflow import rehearse
    deploy, _, spec, _ = compiled["kfp"]
    (task,) = [t for t in rehearse.tasks_in_order(spec) if t.name == keys.NODE_IMAGE_EXAMPLE_GEN]
    task_root = str(tmp_path / "root" / "ImageExampleGen_1")
    executor_input = rehearse.executor_input(task, rehearse.constant_parameters(task.spec), {}, task_root, "run")
    output_file = executor_input.outputs.output_file

    # No driver runs (the open-source KFP backend runs no hook): the executor alone picks the
    # newest span, ingests it and records span and fingerprint on the artifact, as the driver does.
    assert not os.path.exists(output_file)
    argv = rehearse.command_line(task, list(task.container.args), executor_input, "run", str(tmp_path / "root"))
    at = list(task.container.args).index("{{$}}") + len(task.container.command)
    assert argv[0] == sys.executable and argv[1:at] + argv[at + 1:] == \
        list(task.container.command[1:]) + [a for a in task.container.args if a != "{{$}}"]
    assert json_format.Parse(argv[at], pipeline_spec_pb2.ExecutorInput()) == executor_input
    rehearse.run_task(argv, task_root, str(tmp_path / "ImageExampleGen.log"))
    with open(output_file) as f:
        output = json_format.Parse(f.read(), pipeline_spec_pb2.ExecutorOutput())
    (examples,) = output.artifacts[keys.EXAMPLES_KEY].artifacts
    metadata = json_format.MessageToDict(examples.metadata)
    assert examples.uri == os.path.join(task_root, "examples")
    assert json.loads(metadata["split_names"]) == ["train", "eval"]
    assert metadata["valid_images"] == 16 and metadata["quarantined_files"] == 0
    # (Examples has a `span` property of its own; TFX records the span as the custom property)
    assert metadata["custom:span"] == 2 and "num_files:16," in metadata["input_fingerprint"]
    for split in ("train", "eval"):
        assert any(n.endswith(".gz") for n in os.listdir(os.path.join(examples.uri, f"Split-{split}"))), split
    with open(os.path.join(examples.uri, keys.QUARANTINE_DIR, keys.QUARANTINE_REPORT)) as f:
        report = json.load(f)
    assert report["valid"] == 16  # span 2's 16 images; span 1 (6 images) was not read


# --------------------------------------------------------------------------- configuration errors
from runs import cli_in_process as _main  # noqa: E402


def _validated(values, need_cron=False):
    return validation.validate(deploy_config.load(values), need_cron=need_cron)


def _flags(values):
    argv = []
    for key, value in values.items():
        argv += [f"--{key.replace('_', '-')}", ":".join(map(str, value)) if isinstance(value, list) else str(value)]
    return argv


@pytest.mark.parametrize("change, field", [
    ({"pipeline_name": "Bit_TFX"}, "pipeline_name"),
    ({"project": None}, "project is required"),
    ({"pipeline_root": None}, "pipeline_root is required"),
    ({"pipeline_root": "/local/root"}, "pipeline_root '/local/root' must be a Cloud Storage path"),
    ({"trainer_accelerator_type": "NVIDIA_TESLA_K9000"}, "trainer_accelerator_type 'NVIDIA_TESLA_K9000'"),
    ({"trainer_accelerator_type": "TPU_V3"}, "trainer_accelerator_type TPU_V3 needs a TPU machine type"),
    ({"spec": "pipeline.yaml"}, "name the file *.json"),
    ({"trainer_cpu": 4}, "trainer_cpu applies to trainer_placement: step"),
    ({"metadata_service": "mysql"}, "metadata_service 'mysql' is not supported: a pipeline compiled for Vertex AI"),
    ({"cron": "TZ=UTC 0 3 * * 1", "time_zone": "UTC"}, "give the zone once"),
    ({"time_zone": "Mars/Olympus"}, "time_zone 'Mars/Olympus' is not an IANA time zone"),
])
def test_invalid_vertex_config_fails_before_compiling(tmp_path, capsys, change, field):
    values = dict(VERTEX, spec=str(tmp_path / "pipeline.json"))
    values.update(change)
    if values["spec"] == "pipeline.yaml":
        values["spec"] = str(tmp_path / "pipeline.yaml")
    code, out, err = _main(["compile"] + _flags({k: v for k, v in values.items() if v is not None}), capsys)
    assert code == 2, err
    assert "configuration error" in err and field in err, err
    assert not os.listdir(tmp_path)  # nothing compiled


@pytest.mark.parametrize("target, cron, field", [
    ("vertex", "0 0 3 * * 1", "has 6 field(s); a vertex cron has 5"),
    ("vertex", "61 3 * * 1", "minute field '61'"),
    ("vertex", "0 3 * * 1 TZ", "has 6 field(s)"),
    ("vertex", "TZ=Mars/Olympus 0 3 * * 1", "Mars/Olympus is not an IANA time zone"),
    ("kfp", "0 3 * * 1", "has 5 field(s); a kfp cron has 6"),
    ("kfp", "0 0 25 * * 1", "hour field '25'"),
    ("kfp", "0 0 3 * FOO 1", "month field 'FOO'"),
])
def test_malformed_cron_fails_naming_the_field(tmp_path, capsys, target, cron, field):
    base = VERTEX if target == "vertex" else dict(KFP, data="gs://bit-bucket/images", layout="class_folders")
    values = dict(base, cron=cron)
    code, out, err = _main(["schedule", "--dry-run"] + _flags(values), capsys)
    assert code == 2 and "cron" in err and field in err, err


@pytest.mark.parametrize("check, expression, message", [
    (cron.check_kfp, "TZ=UTC 0 0 3 * * 1", "'TZ=UTC 0 0 3 * * 1': a KFP cron has no time-zone prefix"),
    (cron.check_vertex, "CRON_TZ=Nowhere 0 3 * * 1", "Nowhere is not an IANA time zone"),
    (cron.check_vertex, "TZ=UTC", "has 0 field(s); a vertex cron has 5"),
    (cron.check_vertex, "*/0 3 * * 1", "minute field '*/0' is not valid"),
    (cron.check_vertex, "5-2 3 * * 1", "minute field '5-2' is not valid"),
    (cron.check_vertex, "0 3 * * 8", "day of week field '8' is not valid (numbers 0-7"),
    (cron.check_kfp, "0 0 3 * * 7", "day of week field '7' is not valid (numbers 0-6"),
    (cron.check_kfp, "0 0 3 ? JAN,XYZ *", "month field 'JAN,XYZ'"),
])
def test_cron_dialects_name_what_is_wrong(check, expression, message):
    with pytest.raises(ConfigError) as raised:
        check(expression, field="cron")
    assert message in str(raised.value)


def test_deploy_configuration_imports_no_tensorflow():
    """Loading and checking a deployment (what `bit-tfx compile` does before any work) is pure
    Python: no TensorFlow, TFX, Beam or kfp."""
    values = dict(KFP, data="gs://b/d", layout="class_folders", cron="0 0 3 * * 1")
    code = ("import sys; from bit_tfx.kubeflow import config, cron, validation; "
            f"validation.validate(config.load({values!r}), need_cron=True); "
            "bad = [m for m in ('tensorflow', 'tfx', 'apache_beam', 'kfp') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_config_file_unknown_keys_and_kfp_time_zone_are_errors(tmp_path, capsys):
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(dict(VERTEX, trainer_gpus=2)))
    code, _, err = _main(["compile", "--config", str(path), "--spec", str(tmp_path / "p.json")], capsys)
    assert code == 2 and "unknown key(s) in the config file" in err and "trainer_gpus" in err, err
    with pytest.raises(ConfigError, match="time_zone"):
        _validated(dict(KFP, data="gs://b/d", layout="class_folders", cron="0 0 3 * * 1", time_zone="Europe/Berlin"),
                   need_cron=True)
    with pytest.raises(ConfigError, match="trainer_accelerator_type 'NVIDIA_TESLA_T4': on KFP"):
        _validated(dict(KFP, data="gs://b/d", trainer_accelerator_type="NVIDIA_TESLA_T4"))
    with pytest.raises(ConfigError, match="trainer_replica_count must be int"):
        deploy_config.load(dict(VERTEX, trainer_replica_count="three"))


@pytest.mark.parametrize("values, message", [
    ({"metadata_service": "mysql"}, "metadata_service 'mysql' is not supported"),
    ({"metadata_service": "kfp", "mysql_host": "db.internal"}, "mysql_host was removed with metadata: mysql"),
    ({"metadata_store": "mysql://bit@db:3306/mlmd"}, "metadata_store is a local-run setting"),
])
def test_metadata_mysql_in_a_deployment_says_what_to_use_instead(tmp_path, capsys, values, message):
    """KubeflowV2DagRunner compiles no metadata connection: the platform records to its own
    store. `metadata: mysql` (and its keys) used to be accepted and do nothing; now it is a
    configuration error that names what to use (kfp's metadata service, or a local run's
    --metadata)."""
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(dict(KFP, data="gs://b/d", layout="class_folders", **values)))
    code, _, err = _main(["compile", "--config", str(path), "--spec", str(tmp_path / "p.yaml")], capsys)
    assert code == 2 and message in err, err
    assert "metadata_service: kfp" in err and "--metadata mysql://" in err, err
    assert not (tmp_path / "p.yaml").exists()


def test_flags_override_the_config_file_and_valid_crons_pass(tmp_path):
    from bit_tfx.cli import deploy as kubeflow_cli
    from bit_tfx.cli import main as cli
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps(dict(VERTEX, cron="0 3 * * 1", batch_size=128)))
    args = cli.build_parser().parse_args(["schedule", "--config", str(path), "--region", "europe-west4",
                                          "--model", "BiT-M-R50x1", "--dry-run"])
    deploy = validation.validate(kubeflow_cli.deploy_from_args(args), need_cron=True)
    assert (deploy.region, deploy.project, deploy.cron) == ("europe-west4", "bit-project", "0 3 * * 1")
    assert (deploy.run.model_spec, deploy.run.batch_size, deploy.run.num_classes) == ("BiT-M-R50x1", 128, 5)
    assert deploy.run.layout == "class_folders"  # the flag's default did not overwrite the file
    for expression in ("*/15 2-4 1,15 JAN-MAR MON-FRI", "TZ=America/New_York 0 9 * * 7", "CRON_TZ=UTC 0 0 1 */2 *"):
        cron.check_vertex(expression)
    for expression in ("0 */5 * * * ?", "30 0 3 ? * SUN", "0 0 0 1 1 *"):
        cron.check_kfp(expression)
    with pytest.raises(ConfigError):
        cron.check_vertex("0 3 ? * 1")  # "?" is KFP's (robfig/cron), not unix cron


def test_tpu_vm_training_sets_the_local_tpu_for_the_distribution_strategy():
    from bit_tfx.kubeflow import placement
    deploy = _validated(dict(VERTEX, trainer_machine_type="ct5lp-hightpu-4t", trainer_accelerator_type=None,
                             trainer_tpu_topology="2x2", trainer_replica_count=1))
    (pool,) = placement.KubeflowPlatform(deploy).vertex_training_args()["job_spec"]["worker_pool_specs"]
    assert pool["machine_spec"] == {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    assert pool["container_spec"]["env"] == [{"name": "TPU_NAME", "value": "local"}]


# --------------------------------------------------------------------------- schedules
def test_vertex_schedule_request_field_by_field(tmp_path, capsys):
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(dict(VERTEX, cron="0 3 * * 1", time_zone="Europe/Berlin")))
    code, out, err = _main(["schedule", "--config", str(path), "--dry-run"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["dry_run"] and result["method"].endswith("ScheduleService.CreateSchedule")
    request = result["request"]
    parent = "projects/bit-project/locations/us-central1"
    assert request["parent"] == parent
    schedule = request["schedule"]
    assert schedule["displayName"] == "bit-tfx-retrain"
    assert schedule["cron"] == "TZ=Europe/Berlin 0 3 * * 1"
    assert schedule["maxConcurrentRunCount"] == "1"
    assert schedule["allowQueueing"] is False
    create = schedule["createPipelineJobRequest"]
    assert create["parent"] == parent
    job = create["pipelineJob"]
    assert job["serviceAccount"] == SA
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bit-bucket/root"
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "bit-tfx"
    assert set(job["pipelineSpec"]["root"]["dag"]["tasks"]) == set(result["compiled"]["tasks"])


def test_kfp_recurring_run_request_field_by_field(tmp_path, capsys):
    values = dict(KFP, data="gs://bit-bucket/images/span-{SPAN}", layout="class_folders", num_classes=2,
                  cron="0 0 3 * * 1", schedule_name="nightly", service_account="pipeline-runner",
                  kfp_host="http://localhost:8080", kfp_experiment="flowers", max_concurrent_runs=2)
    code, out, err = _main(["schedule", "--dry-run"] + _flags(values), capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["dry_run"] and "create_recurring_run" in result["method"]
    body = result["request"]
    assert body["display_name"] == "nightly"
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * 1"}}
    assert int(body["max_concurrency"]) == 2 and body["no_catchup"] is True
    assert body["mode"] == "ENABLE"
    assert body["experiment_id"] == "<id of experiment 'flowers', created if missing>"
    assert body["service_account"] == "pipeline-runner"
    assert body["runtime_config"]["pipeline_root"] == "gs://bit-bucket/root"
    assert body["pipeline_spec"]["pipelineInfo"]["name"] == "bit-tfx"
    assert body["pipeline_spec"]["schemaVersion"] == "2.1.0"
    assert "pipeline_version_reference" not in body


# --------------------------------------------------------------------------- the TFX CLI
def test_tfx_cli_vertex_engine_accepts_the_runner_file(tmp_path):
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump(VERTEX))
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, BIT_TFX_DEPLOY_CONFIG=str(path), HOME=str(tmp_path),
               PATH=bin_dir + os.pathsep + os.environ["PATH"])  # the CLI asks `pip freeze` for kfp
    runner = os.path.abspath("kubeflow_v2_runner.py")
    done = subprocess.run([os.path.join(bin_dir, "tfx"), "pipeline", "create", "--engine=vertex",
                           f"--pipeline_path={runner}"], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    from bit_tfx.kubeflow import compile as compiling
    spec, job = compiling.load(str(tmp_path / "tfx" / "vertex" / "bit-tfx" / "pipeline.json"))
    assert job is not None and keys.NODE_TRAINER in spec.root.dag.tasks

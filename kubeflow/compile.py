"""Compiles the one DAG (pipeline.create_pipeline) for the cloud with KubeflowV2DagRunner:

  --target vertex  a Vertex AI PipelineJob, JSON (pipelineSpec + runtimeConfig), schema 2.0.0:
                   what TFX's own `tfx pipeline create --engine=vertex` writes and submits.
  --target kfp     a bare KFP v2 PipelineSpec, YAML, schema 2.1.0 (the schema the KFP 2 SDK
                   writes and the KFP 2 backend reads parameters from).

KubeflowV2DagRunner builds both forms (YAML when the output file ends in .yaml), through
kubeflow/dag_runner.py (the ExampleGen step uncached); the file is read back with kfp's own
pipeline_spec_pb2 classes before this returns.

The DAG has only steps that the open-source KFP v2 backend implements (KFP_OSS_EXECUTORS):
no resolver, and no lifecycle hook (ExampleGen resolves {SPAN} in its executor there).

At compile time the data is usually in gs:// and cannot be looked at from here: a remote
`data` is turned into ExampleGen's input pattern from its names alone (the layout must be
given, or be a .csv / TFRecord name) and the class count for per-class metrics comes from
num_classes. Local data is checked and counted as `bit-tfx run` does.
"""
import logging
import os

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from ..core import keys
from ..components.image_example_gen import sources
from . import config as deploy_config

SCHEMA_2_1 = {deploy_config.VERTEX: False, deploy_config.KFP: True}
# The executor kinds the open-source KFP v2 backend runs, read from its source (kubeflow/pipelines,
# backend/src/v2/compiler/argocompiler/dag.go, workflowCompiler.task): a container or an
# importer; a resolver is "resolver executors not implemented", a custom_job "is Google Cloud
# only". Its container driver runs no lifecycle hook (preCacheCheck) either.
KFP_OSS_EXECUTORS = ("container", "importer")


def resolve_source(run):
    """(Source, RunConfig with num_classes, warnings) without reading remote data."""
    warnings = []
    if sources.is_remote(run.data):
        source = sources.source_from_names(run.data, run.layout)
        if source.layout != sources.TFRECORD and not run.num_classes:
            warnings.append("num_classes is not set and the data cannot be listed from here: "
                            "no per-class precision/recall or top-5 accuracy (set num_classes)")
        return source, run, warnings
    import dataclasses  # pylint: disable=import-outside-toplevel
    from ..pipeline import pipeline  # pylint: disable=import-outside-toplevel
    source = sources.resolve(run.data, run.layout)
    run = dataclasses.replace(run, num_classes=pipeline.class_count(run, source))
    warnings.append(f"data {run.data!r} is a local path: the cloud steps cannot read it; give a "
                    "gs:// path for a real deployment")
    return source, run, warnings


def build(deploy):
    """(the TFX pipeline for a validated DeployConfig, warnings)."""
    _, tfx_pipeline, warnings = _build(deploy)
    return tfx_pipeline, warnings


def _build(deploy):
    """(its KubeflowPlatform, the TFX pipeline, warnings)."""
    from . import placement  # pylint: disable=import-outside-toplevel
    from ..pipeline import pipeline  # pylint: disable=import-outside-toplevel
    platform = placement.KubeflowPlatform(deploy)
    source, run, warnings = resolve_source(platform.config)
    tfx_pipeline = pipeline.create_pipeline(
        run, source, deploy.metadata_connection_config(), platform=platform)
    return platform, tfx_pipeline, warnings


def runner(deploy, output):
    """The KubeflowV2DagRunner writing `output` (.json PipelineJob or .yaml PipelineSpec)."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2  # pylint: disable=import-outside-toplevel
    from . import dag_runner  # pylint: disable=import-outside-toplevel
    output = os.path.abspath(output)
    return dag_runner.DagRunner(
        v2.KubeflowV2DagRunnerConfig(default_image=deploy.image,
                                     use_pipeline_spec_2_1=SCHEMA_2_1[deploy.target]),
        output_dir=os.path.dirname(output), output_filename=os.path.basename(output))


def compile_pipeline(deploy):
    """Compiles to deploy.spec, reads it back with kfp's classes, and returns a summary."""
    return compile_spec(deploy)[0]


def compile_spec(deploy):
    """compile_pipeline's (summary, PipelineSpec read back from the file)."""
    platform, tfx_pipeline, warnings = _build(deploy)
    output = os.path.abspath(deploy.spec)
    if os.path.exists(output):
        os.remove(output)  # the runner refuses nothing, but a stale file must not survive a failure
    runner(deploy, output).run(tfx_pipeline)
    spec, job = load(output)
    logging.info("Compiled %s for %s: %s", deploy.pipeline_name, deploy.target, output)
    executors = _executors(spec)  # converted once for the warnings and the summary
    summary = summarize(deploy, platform, tfx_pipeline, spec, job, executors,
                        warnings + kfp_backend_warnings(deploy, executors))
    return summary, spec


def load(path):
    """(PipelineSpec, PipelineJob or None) parsed strictly with kfp's pipeline_spec_pb2."""
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        job = json_format.Parse(text, pipeline_spec_pb2.PipelineJob())
        spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec),
                                     pipeline_spec_pb2.PipelineSpec())
        return spec, job
    return json_format.ParseDict(yaml.safe_load(text), pipeline_spec_pb2.PipelineSpec()), None


def constant_parameters(task):
    """{name: (value as plain Python, schema '2.1' | '2.0')} of a PipelineTaskSpec's constant
    parameters (2.1: runtimeValue.constant; 2.0: runtimeValue.constantValue)."""
    found = {}
    for name, parameter in task.inputs.parameters.items():
        value = parameter.runtime_value
        if value.HasField("constant"):
            found[name] = (json_format.MessageToDict(value.constant), "2.1")
        elif value.HasField("constant_value"):
            legacy = value.constant_value
            found[name] = (getattr(legacy, legacy.WhichOneof("value")), "2.0")
    return found


def _executors(spec):
    """{task name: its executor spec as a dict} ({"container": ...}, {"resolver": ...}, ...)."""
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    return {name: executors[spec.components[task.component_ref.name].executor_label]
            for name, task in spec.root.dag.tasks.items()}


def container_executors(spec):
    """{task name: PipelineContainerSpec} for the tasks that run in a container."""
    return _containers(_executors(spec))


def _containers(executors):
    return {name: _container(executor) for name, executor in executors.items() if "container" in executor}


def _container(executor):
    return json_format.ParseDict(executor["container"],
                                 pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec())


def _kinds(executors):
    return {name: next(iter(executor)) for name, executor in executors.items()}


def executor_kinds(spec):
    """{task name: 'container' | 'resolver' | 'importer' | ...}."""
    return _kinds(_executors(spec))


def kfp_backend_gaps(executors):
    """Sentences naming each task the open-source KFP v2 backend cannot run (KFP_OSS_EXECUTORS,
    no lifecycle hooks); empty for the bit-tfx DAG, which tests/test_kubeflow.py checks.
    `executors`: _executors(spec)."""
    gaps = [f"{name}: a {kind} task, which the open-source KFP v2 backend does not implement"
            for name, kind in sorted(_kinds(executors).items()) if kind not in KFP_OSS_EXECUTORS]
    gaps += [f"{name}: a container with a lifecycle hook, which the open-source KFP v2 backend never runs"
             for name, c in sorted(_containers(executors).items()) if c.HasField("lifecycle")]
    return gaps


def kfp_backend_warnings(deploy, executors):
    """kfp_backend_gaps as warnings, for --target kfp (not exercised against a cluster here)."""
    if deploy.target != deploy_config.KFP:
        return []
    return [gap + " (docs/deploy.md, 'KFP v2')" for gap in kfp_backend_gaps(executors)]


def summarize(deploy, platform, tfx_pipeline, spec, job, executors, warnings):
    """What compile prints; `platform` built the pipeline, `executors` is _executors(spec)."""
    trainer = executors.get(keys.NODE_TRAINER, {})
    trainer = _container(trainer) if "container" in trainer else None
    summary = {
        "target": deploy.target,
        "output": os.path.abspath(deploy.spec),
        "format": "Vertex AI PipelineJob (JSON)" if job is not None else "KFP PipelineSpec (YAML)",
        "schema_version": spec.schema_version,
        "pipeline_name": spec.pipeline_info.name,
        "pipeline_root": deploy.pipeline_root,
        "image": deploy.image,
        "tasks": sorted(spec.root.dag.tasks),
        "components": [c.id for c in tfx_pipeline.components],
        "beam_runner": deploy.effective_beam_runner,
        "trainer": {"placement": deploy.trainer_placement},
        "push_to": (f"Vertex AI Endpoint {deploy.vertex_endpoint!r} ({deploy.region})" if deploy.vertex_endpoint
                    else deploy.run.serving_dir),
        "metadata": metadata_note(deploy),
        "warnings": warnings,
    }
    if trainer is not None and trainer.HasField("resources"):
        summary["trainer"]["resources"] = json_format.MessageToDict(trainer.resources)
    if deploy.trainer_placement == deploy_config.VERTEX_TRAINING:
        summary["trainer"]["vertex_training"] = platform.vertex_training_args()
    for warning in warnings:
        logging.warning("%s", warning)
    return summary


def metadata_note(deploy):
    kind = deploy.effective_metadata
    if kind == deploy_config.METADATA_VERTEX:
        return "Vertex ML Metadata (managed, the region's default store)"
    return "the KFP cluster's metadata service (metadata-grpc-service and its MySQL)"

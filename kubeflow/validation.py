"""Whether a DeployConfig can be compiled and run (pure Python, no TensorFlow).

validate() makes every check that needs neither the data nor the network, before anything is
compiled, and raises ConfigError naming the field and saying what to do: the target and the
run's own checks (RunConfig.validate), what the target needs (project, region, pipeline root,
image), the forms of names (GCP project and region, gs:// URIs, container image references,
display names, machine and accelerator types, time zones), and which settings go together
(serving, Beam, Trainer placement, ML Metadata, schedule). The cron dialects are kubeflow/cron.py.
"""
import os
import re

from ..core.errors import ConfigError
from . import cron
from .config import (BEAM_RUNNERS, DATAFLOW, DIRECT, KFP, METADATA_KINDS, MYSQL_REMOVED_MESSAGE,
                                     METADATA_VERTEX, OUTPUT_SUFFIXES, PLACEMENTS, REMOVED_MYSQL, STEP, TARGETS,
                                     VERTEX, VERTEX_TRAINING)

# What each name must look like.
PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")                      # GCP project ID
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]$")                                 # us-central1
# TFX steps read and write artifacts through tf.io.gfile, which in TF 2.16 reaches Cloud
# Storage natively (s3:// needs tensorflow-io, which the image does not have).
GCS_URI_RE = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?$")
IMAGE_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*"  # [registry/]path
                      r"(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})?$")                # :tag or @digest
# Vertex AI display names (schedules, endpoints).
DISPLAY_NAME_RE = re.compile(r"^[A-Za-z0-9][\w .-]{0,127}$")
MACHINE_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TPU_TOPOLOGY_RE = re.compile(r"^\d+x\d+(x\d+)?$")
# On KFP the accelerator type of a step is a Kubernetes extended resource name.
K8S_RESOURCE_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
CRON_CHECKS = {VERTEX: cron.check_vertex, KFP: cron.check_kfp}


def validate(d, need_cron=False):
    """`d` (a DeployConfig) when every data- and network-free check passes; ConfigError naming
    the field otherwise. need_cron: a schedule is being made, so `cron` is required."""
    if d.target not in TARGETS:
        raise ConfigError(f"target must be one of {TARGETS}, got {d.target!r}")
    d.run.validate()  # pipeline_name ([a-z0-9-], Kubeflow/Vertex naming), model spec, ...
    if not d.run.data:
        raise ConfigError("data: the images to train on are required (e.g. gs://bucket/images/span-{SPAN})")
    required = ["pipeline_root", "image"]
    if d.uses_google_cloud:
        required = ["project", "region"] + required
    for name in required:
        if not getattr(d, name):
            raise ConfigError(f"{name} is required for --target {d.target}"
                              f"{'' if d.target == VERTEX else ' with ' + d.uses_google_cloud} "
                              f"(flag --{name.replace('_', '-')} or key {name!r} in the config file)")
    if d.project is not None and not PROJECT_RE.match(d.project):
        raise ConfigError(f"project {d.project!r} is not a GCP project ID (6-30 characters: "
                          "lowercase letters, digits, hyphens)")
    if d.region is not None and not REGION_RE.match(d.region):
        raise ConfigError(f"region {d.region!r} is not a GCP region such as us-central1")
    require_gs("pipeline_root", d.pipeline_root)
    check_image("image", d.image)
    if d.spec is not None:
        want = OUTPUT_SUFFIXES[d.target]
        what = "a Vertex AI PipelineJob (.json)" if d.target == VERTEX else "a KFP PipelineSpec (.yaml)"
        if not d.spec.endswith(want):
            raise ConfigError(f"spec {d.spec!r}: --target {d.target} writes {what}; "
                              f"name the file *{want[0]}")
    _check_serving(d)
    _check_beam(d)
    _check_trainer(d)
    _check_metadata(d)
    _check_schedule(d, need_cron)
    return d


def require_gs(name, value):
    """ConfigError naming `name` unless `value` is a gs://BUCKET/... path."""
    if not GCS_URI_RE.match(value or ""):
        raise ConfigError(f"{name} {value!r} must be a Cloud Storage path gs://BUCKET/..., which "
                          "every step can reach (bucket names: 3-222 characters, lowercase "
                          "letters, digits, '-', '_', '.')")


def check_image(name, value):
    """ConfigError naming `name` unless `value` is a container image reference."""
    if not IMAGE_RE.match(value or ""):
        raise ConfigError(f"{name} {value!r} is not a container image reference such as "
                          "us-central1-docker.pkg.dev/PROJECT/REPO/bit-tfx:TAG")


def vertex_accelerator_types():
    """The accelerator names Vertex AI accepts: google-cloud-aiplatform's own enum, read from
    its source file. Importing it would import the whole google.cloud.aiplatform_v1 package
    (every service client: seconds) just to check one configuration value."""
    import ast  # pylint: disable=import-outside-toplevel
    import importlib.util  # pylint: disable=import-outside-toplevel
    package = importlib.util.find_spec("google.cloud.aiplatform_v1")  # locates it, runs nothing
    path = os.path.join(package.submodule_search_locations[0], "types", "accelerator_type.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    enum = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AcceleratorType")
    return [t.id for n in enum.body if isinstance(n, ast.Assign) for t in n.targets
            if isinstance(t, ast.Name) and t.id != "ACCELERATOR_TYPE_UNSPECIFIED"]


# ---------------------------------------------------------------------- one concern each
def _check_serving(d):
    if d.vertex_endpoint and d.run.serving_dir:
        raise ConfigError("serving_dir and vertex_endpoint are both set: push either to a gs:// "
                          "folder (serving_dir) or to a Vertex AI Endpoint (vertex_endpoint)")
    if not d.vertex_endpoint and not d.run.serving_dir:
        raise ConfigError("serving_dir (a gs:// folder) or vertex_endpoint (a Vertex AI Endpoint "
                          "name) is required: where blessed models are pushed")
    if d.run.serving_dir:
        require_gs("serving_dir", d.run.serving_dir)
    if d.vertex_endpoint:
        if not DISPLAY_NAME_RE.match(d.vertex_endpoint):
            raise ConfigError(f"vertex_endpoint {d.vertex_endpoint!r}: an endpoint display "
                              "name (letters, digits, space, . _ -, at most 128 characters)")
        check_image("serving_image", d.serving_image)
        if not 1 <= d.serving_min_replicas <= d.serving_max_replicas:
            raise ConfigError("serving_min_replicas and serving_max_replicas must satisfy "
                              f"1 <= min <= max, got {d.serving_min_replicas}, {d.serving_max_replicas}")


def _check_beam(d):
    if d.beam_runner is not None and d.beam_runner not in BEAM_RUNNERS:
        raise ConfigError(f"beam_runner must be one of {BEAM_RUNNERS}, got {d.beam_runner!r}")
    dataflow_keys = sorted(k for k in d.given if k.startswith("dataflow_"))
    if d.effective_beam_runner == DIRECT and dataflow_keys:
        raise ConfigError(f"{dataflow_keys[0]} is set but beam_runner is direct; set "
                          "beam_runner: dataflow (or remove the dataflow_* settings)")
    if d.effective_beam_runner == DATAFLOW:
        if any(a.startswith("--runner=") for a in (d.run.beam_args if "beam_args" in d.given else [])):
            raise ConfigError("beam_args: give the runner with beam_runner, not --runner")
        if d.dataflow_temp_location:
            require_gs("dataflow_temp_location", d.dataflow_temp_location)
        if d.dataflow_max_num_workers is not None and d.dataflow_max_num_workers < 1:
            raise ConfigError(f"dataflow_max_num_workers must be positive, got {d.dataflow_max_num_workers}")


def _check_trainer(d):
    if d.trainer_placement not in PLACEMENTS:
        raise ConfigError(f"trainer_placement must be one of {PLACEMENTS}, got {d.trainer_placement!r}")
    step_only = [k for k in ("trainer_cpu", "trainer_memory_gb") if k in d.given]
    vertex_only = [k for k in ("trainer_machine_type", "trainer_replica_count", "trainer_tpu_topology",
                               "trainer_image", "trainer_boot_disk_gb") if k in d.given]
    if d.trainer_placement == VERTEX_TRAINING and step_only:
        raise ConfigError(f"{step_only[0]} applies to trainer_placement: step; a Vertex AI Training "
                          "job takes trainer_machine_type instead")
    if d.trainer_placement == STEP and vertex_only:
        raise ConfigError(f"{vertex_only[0]} applies to trainer_placement: vertex_training")
    for name in ("trainer_cpu", "trainer_memory_gb"):
        value = getattr(d, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
    if d.trainer_accelerator_count is not None and d.trainer_accelerator_count < 0:
        raise ConfigError("trainer_accelerator_count must not be negative, "
                          f"got {d.trainer_accelerator_count}")
    if d.trainer_accelerator_count and not d.trainer_accelerator_type:
        raise ConfigError("trainer_accelerator_count is set without trainer_accelerator_type")
    if d.trainer_accelerator_type:
        if d.target == KFP and d.trainer_placement == STEP:
            if not K8S_RESOURCE_RE.match(d.trainer_accelerator_type):
                raise ConfigError(
                    f"trainer_accelerator_type {d.trainer_accelerator_type!r}: on KFP a step's "
                    "accelerator is a Kubernetes resource name such as nvidia.com/gpu, amd.com/gpu "
                    "or cloud-tpus.google.com/v3")
        else:
            names = vertex_accelerator_types()
            if d.trainer_accelerator_type not in names:
                raise ConfigError(f"trainer_accelerator_type {d.trainer_accelerator_type!r} is not a "
                                  f"Vertex AI accelerator type; one of {', '.join(names)}")
    if d.trainer_placement == VERTEX_TRAINING:
        _check_vertex_training(d)


def _check_vertex_training(d):
    if d.trainer_replica_count < 1:
        raise ConfigError(f"trainer_replica_count must be at least 1, got {d.trainer_replica_count}")
    if not MACHINE_TYPE_RE.match(d.trainer_machine_type):
        raise ConfigError(f"trainer_machine_type {d.trainer_machine_type!r} is not a machine "
                          "type name such as n1-standard-8, a2-highgpu-1g or ct5lp-hightpu-4t")
    tpu_type, tpu_machine = d.tpu_accelerator, d.tpu_machine
    if tpu_type and not tpu_machine:
        raise ConfigError(f"trainer_accelerator_type {d.trainer_accelerator_type} needs a TPU "
                          "machine type (trainer_machine_type cloud-tpu, ct5lp-hightpu-4t, ...)")
    if d.trainer_accelerator_type and not tpu_type and tpu_machine:
        raise ConfigError(f"trainer_machine_type {d.trainer_machine_type} is a TPU VM; "
                          f"{d.trainer_accelerator_type} is not a TPU accelerator")
    if d.trainer_tpu_topology is not None:
        if not tpu_machine:
            raise ConfigError("trainer_tpu_topology applies to TPU machine types only")
        if not TPU_TOPOLOGY_RE.match(d.trainer_tpu_topology):
            raise ConfigError(f"trainer_tpu_topology {d.trainer_tpu_topology!r} must look "
                              "like 2x2 or 2x2x1")
    if d.trainer_image:
        check_image("trainer_image", d.trainer_image)
    if d.trainer_boot_disk_gb is not None and d.trainer_boot_disk_gb < 100:
        raise ConfigError(f"trainer_boot_disk_gb must be at least 100 (Vertex AI's minimum), "
                          f"got {d.trainer_boot_disk_gb}")


def _check_metadata(d):
    kind = d.effective_metadata
    if kind == REMOVED_MYSQL:
        raise ConfigError(f"metadata_service 'mysql' is not supported: {MYSQL_REMOVED_MESSAGE}")
    if kind not in METADATA_KINDS:
        raise ConfigError(f"metadata_service must be one of {METADATA_KINDS}, got {d.metadata_service!r}")
    if d.target == VERTEX and kind != METADATA_VERTEX:
        raise ConfigError(f"metadata_service {kind!r}: Vertex AI Pipelines always records to Vertex ML "
                          "Metadata; use metadata_service: vertex (or leave it out)")
    if d.target == KFP and kind == METADATA_VERTEX:
        raise ConfigError("metadata_service 'vertex' is Vertex AI's managed store; on KFP use kfp (the "
                          "cluster's metadata service)")


def _check_schedule(d, need_cron):
    if need_cron or d.cron is not None:
        if not d.cron:
            raise ConfigError("cron is required for a schedule (flag --cron or key 'cron')")
        CRON_CHECKS[d.target](d.cron, "cron")
        if d.time_zone is not None and cron.has_time_zone_prefix(d.cron):
            raise ConfigError("cron carries a TZ= prefix and time_zone is set too; give the zone once")
    if d.time_zone is not None:
        if d.target == KFP:
            raise ConfigError("time_zone: a KFP recurring run has no time zone of its own; the "
                              "cluster's cronScheduleTimezone (pipeline-install-config) applies. "
                              "Remove time_zone or write the cron in that zone")
        if not cron.is_time_zone(d.time_zone):
            raise ConfigError(f"time_zone {d.time_zone!r} is not an IANA time zone such as Europe/Berlin or UTC")
    if d.max_concurrent_runs < 1:
        raise ConfigError(f"max_concurrent_runs must be at least 1, got {d.max_concurrent_runs}")
    if d.schedule_name is not None and not DISPLAY_NAME_RE.match(d.schedule_name):
        raise ConfigError(f"schedule_name {d.schedule_name!r}: letters, digits, space, . _ -, "
                          "at most 128 characters")

"""Deployment configuration for Kubeflow Pipelines v2 and Vertex AI Pipelines (pure Python).

One DeployConfig says where the pipeline runs (target, project, region, pipeline root,
container image), where Beam work goes (Dataflow or the step's own pod), where the Trainer
runs (the pipeline step itself with a ResourceSpec, or a Vertex AI Training job), where
the Pusher pushes (a gs:// folder or a Vertex AI Endpoint), which ML Metadata store is
used, and when scheduled runs start. What a run does (data, model, HyperRule settings,
evaluation gate) is the embedded pipeline/configs.RunConfig, unchanged.

A config file (JSON or YAML) is flat: deployment keys (the fields below) and RunConfig keys
side by side, e.g.

    target: vertex
    project: my-project
    region: us-central1
    pipeline_root: gs://my-bucket/bit-tfx/root
    image: us-central1-docker.pkg.dev/my-project/bit-tfx/bit-tfx:0.1.0
    serving_dir: gs://my-bucket/bit-tfx/serving
    data: gs://my-bucket/flowers/span-{SPAN}
    layout: class_folders
    num_classes: 5
    cron: "0 3 * * 1"

Every key is also a flag (`--trainer-accelerator-type` sets trainer_accelerator_type);
flags override the file. load() type-checks the values; kubeflow/validation.validate() makes
every other check that needs neither the data nor the network, before anything is compiled
(the cron dialects are kubeflow/cron.py).
"""
import dataclasses
import json
import logging
from typing import Optional

import yaml

from ..core.errors import ConfigError
from ..core.settings import setting, value_type
from ..pipeline import configs

from . import cron

VERTEX = "vertex"
KFP = "kfp"
TARGETS = (VERTEX, KFP)
# What each target writes: a Vertex AI PipelineJob (.json) or a KFP PipelineSpec (.yaml).
OUTPUT_SUFFIXES = {VERTEX: (".json",), KFP: (".yaml", ".yml")}
STEP = "step"
VERTEX_TRAINING = "vertex_training"
PLACEMENTS = (STEP, VERTEX_TRAINING)
DATAFLOW = "dataflow"
DIRECT = "direct"
BEAM_RUNNERS = (DATAFLOW, DIRECT)
METADATA_VERTEX = "vertex"   # Vertex AI's managed ML Metadata (the only one Vertex Pipelines uses)
METADATA_KFP = "kfp"         # the KFP cluster's own metadata service (its MySQL, set at install)
METADATA_KINDS = (METADATA_VERTEX, METADATA_KFP)
# `metadata: mysql` and its mysql_* keys were removed: KubeflowV2DagRunner compiles no metadata
# connection into the spec (the platform's launcher records to its own store), so they did nothing.
REMOVED_MYSQL = "mysql"
MYSQL_REMOVED_MESSAGE = (
    "a pipeline compiled for Vertex AI or KFP v2 records to the platform's own ML Metadata "
    "store: the compiled spec carries no metadata connection (KubeflowV2DagRunner compiles "
    "none). Use metadata_service: kfp and point the KFP cluster's metadata service "
    "(metadata-grpc-service) at your MySQL when installing KFP, or metadata_service: vertex on "
    "Vertex AI; a local run takes a "
    "shared MySQL with bit-tfx run --metadata mysql://USER[:PASSWORD]@HOST[:PORT]/DB "
    "(docs/deploy.md, \"ML Metadata\")")

# Vertex AI's prebuilt TF Serving container for the Vertex Pusher (the newest TF 2 CPU image
# google-cloud-aiplatform lists; our models are exported by TF 2.16, see docs/deploy.md).
DEFAULT_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
# Machine types whose accelerators are TPU VMs (Vertex AI Training).
TPU_MACHINE_PREFIXES = ("cloud-tpu", "ct4p-", "ct5lp-", "ct5p-", "ct6e-")


@dataclasses.dataclass
class DeployConfig:
    """The deployment's own settings, each declared once with its help (core/settings.py): the
    compile/schedule flags and the config file's keys derive from these fields; RunConfig's
    settings come with `run`."""
    run: configs.RunConfig
    target: Optional[str] = setting(
        None, choices=TARGETS,
        help="vertex: Vertex AI PipelineJob JSON; kfp: KFP v2 PipelineSpec YAML")
    spec: Optional[str] = setting(
        None, metavar="FILE",
        help="the compiled file: FILE.json (vertex) or FILE.yaml (kfp); schedule keeps it there "
             "(default: a temporary file)")
    project: Optional[str] = setting(
        None,
        help="GCP project (Vertex AI, Dataflow, Vertex AI Training/Endpoint)")
    region: Optional[str] = setting(None, help="GCP region, e.g. us-central1")
    pipeline_root: Optional[str] = setting(None, metavar="GS_URI",
                                           help="gs:// folder every artifact goes to")
    image: Optional[str] = setting(
        None,
        help="container image built from the Dockerfile (scripts/build_image.sh); every step runs "
             "in it")
    # --- serving: RunConfig.serving_dir (a gs:// folder) or a Vertex AI Endpoint ---
    vertex_endpoint: Optional[str] = setting(
        None,
        help="push blessed models to this Vertex AI Endpoint (display name) instead of "
             "--serving-dir")
    serving_image: str = setting(
        DEFAULT_SERVING_IMAGE,
        help="Vertex AI prediction container for the Endpoint")
    serving_machine_type: str = setting("n1-standard-4", help="Endpoint machine type")
    serving_min_replicas: int = setting(1, help="Endpoint minimum replicas")
    serving_max_replicas: int = setting(1, help="Endpoint maximum replicas")
    # --- Beam: Dataflow, or the step's own pod (DirectRunner, RunConfig.beam_args) ---
    beam_runner: Optional[str] = setting(
        None, choices=BEAM_RUNNERS,
        help="where Beam steps run: dataflow (default on vertex) or direct (in the step's pod)")
    dataflow_temp_location: Optional[str] = setting(
        None,
        help="gs:// temp folder for Dataflow (default PIPELINE_ROOT/tmp/dataflow)")
    dataflow_machine_type: Optional[str] = setting(None, help="Dataflow worker machine type")
    dataflow_max_num_workers: Optional[int] = setting(None, help="Dataflow autoscaling limit")
    dataflow_service_account: Optional[str] = setting(None, help="Dataflow worker service account")
    dataflow_subnetwork: Optional[str] = setting(
        None,
        help="Dataflow subnetwork (regions/R/subnetworks/S)")
    # --- Trainer placement ---
    trainer_placement: str = setting(
        STEP, choices=PLACEMENTS,
        help="step: the Trainer step gets resources; vertex_training: it launches a Vertex AI "
             "Training job")
    trainer_cpu: Optional[float] = setting(None, help="step: vCPU limit of the Trainer step")
    trainer_memory_gb: Optional[float] = setting(
        None,
        help="step: memory limit of the Trainer step, GB")
    trainer_accelerator_type: Optional[str] = setting(
        None,
        help="accelerator: NVIDIA_TESLA_T4, NVIDIA_L4, NVIDIA_TESLA_A100, TPU_V3, ... (Vertex "
             "names); nvidia.com/gpu for a step on KFP")
    trainer_accelerator_count: Optional[int] = setting(
        None,
        help="accelerators per replica (default 1; 8 for cloud-tpu)")
    trainer_machine_type: str = setting(
        "n1-standard-8",
        help="vertex_training: machine type, e.g. n1-standard-8, a2-highgpu-1g, cloud-tpu")
    trainer_replica_count: int = setting(
        1,
        help="vertex_training: replicas; more than 1 is multi-worker training")
    trainer_tpu_topology: Optional[str] = setting(
        None,
        help="vertex_training: TPU slice topology, e.g. 2x2")
    trainer_image: Optional[str] = setting(
        None,
        help="vertex_training: image of the training replicas (default --image)")
    trainer_boot_disk_gb: Optional[int] = setting(None, help="vertex_training: boot disk size, GB")
    # --- ML Metadata ---
    metadata_service: Optional[str] = setting(
        None, metavar="vertex|kfp",
        help="ML Metadata: vertex (managed) or kfp (the cluster's service)")
    # --- scheduled retraining ---
    cron: Optional[str] = setting(
        None,
        help='schedule: vertex "0 3 * * 1" (5 fields, optional TZ= prefix); kfp "0 0 3 * * 1" (6, seconds first)')
    time_zone: Optional[str] = setting(
        None,
        help="schedule (vertex): IANA time zone of the cron, e.g. Europe/Berlin")
    schedule_name: Optional[str] = setting(
        None,
        help="schedule display name (default PIPELINE_NAME-retrain)")
    max_concurrent_runs: int = setting(1, help="schedule: runs at once")
    service_account: Optional[str] = setting(
        None,
        help="Vertex: service account of the runs (and training jobs); KFP: Kubernetes service "
             "account")
    kfp_host: Optional[str] = setting(
        None,
        help="KFP API endpoint, e.g. http://localhost:8080 (default $KF_PIPELINES_ENDPOINT or "
             "in-cluster)")
    kfp_namespace: Optional[str] = setting(None, help="KFP namespace (multi-user installs)")
    kfp_experiment: str = setting("bit-tfx", help="KFP experiment of the recurring run")
    # Set by load(): the keys the user gave (file or flags), so defaults stay distinguishable.
    given: frozenset = dataclasses.field(default=frozenset(), repr=False, compare=False)

    # ------------------------------------------------------------------ derived values
    @property
    def pipeline_name(self):
        return self.run.pipeline_name

    @property
    def effective_beam_runner(self):
        return self.beam_runner or (DATAFLOW if self.target == VERTEX else DIRECT)

    @property
    def effective_metadata(self):
        return self.metadata_service or (METADATA_VERTEX if self.target == VERTEX else METADATA_KFP)

    @property
    def accelerator_count(self):
        if self.trainer_accelerator_count is not None:
            return self.trainer_accelerator_count
        if not self.trainer_accelerator_type:
            return 0
        return 8 if self.trainer_machine_type == "cloud-tpu" and self.trainer_placement == VERTEX_TRAINING else 1

    @property
    def tpu_accelerator(self):
        return (self.trainer_accelerator_type or "").startswith("TPU_")

    @property
    def tpu_machine(self):
        return self.trainer_machine_type.startswith(TPU_MACHINE_PREFIXES)

    @property
    def uses_tpu(self):
        return self.trainer_placement == VERTEX_TRAINING and (self.tpu_accelerator or self.tpu_machine)

    def beam_args(self):
        """The Beam pipeline arguments every Beam-powered step gets."""
        if self.effective_beam_runner == DIRECT:
            return list(self.run.beam_args)
        args = ["--runner=DataflowRunner", f"--project={self.project}", f"--region={self.region}",
                f"--temp_location={self.dataflow_temp_location or _join(self.pipeline_root, 'tmp', 'dataflow')}",
                # Dataflow workers run our image, so our code imports there as it does in the steps.
                f"--sdk_container_image={self.image}", "--sdk_location=container",
                "--experiments=use_runner_v2"]
        for flag, value in (("machine_type", self.dataflow_machine_type),
                            ("max_num_workers", self.dataflow_max_num_workers),
                            ("service_account_email", self.dataflow_service_account),
                            ("subnetwork", self.dataflow_subnetwork)):
            if value is not None:
                args.append(f"--{flag}={value}")
        if "beam_args" in self.given:  # extra arguments given on purpose, e.g. --beam-arg=--num_workers=4
            args += list(self.run.beam_args)
        return args

    def run_config(self):
        """The RunConfig the DAG is built from: artifacts under the pipeline root, Beam args
        for where Beam work runs."""
        return dataclasses.replace(self.run, pipeline_root_override=self.pipeline_root,
                                   beam_args=self.beam_args())

    def metadata_connection_config(self):
        """None: the orchestrator provides the store (Vertex's managed one, the KFP cluster's
        own service); KubeflowV2DagRunner would not compile a connection into the spec anyway."""
        return None

    @property
    def uses_google_cloud(self):
        """What needs a GCP project and region ('' when nothing does: KFP with in-pod Beam,
        the Trainer as a step and a gs:// serving folder)."""
        if self.target == VERTEX:
            return "Vertex AI Pipelines"
        for used, what in ((self.effective_beam_runner == DATAFLOW, "beam_runner dataflow"),
                           (self.trainer_placement == VERTEX_TRAINING, "trainer_placement vertex_training"),
                           (bool(self.vertex_endpoint), "vertex_endpoint")):
            if used:
                return what
        return ""

    @property
    def schedule_display_name(self):
        return self.schedule_name or f"{self.pipeline_name}-retrain"

    def vertex_cron(self):
        """The cron string Vertex receives: the time zone travels as a TZ= prefix."""
        return cron.with_time_zone(self.cron, self.time_zone)


# ---------------------------------------------------------------------- loading
RUN_FIELDS = {f.name for f in dataclasses.fields(configs.RunConfig)}
DEPLOY_FIELDS = {f.name for f in dataclasses.fields(DeployConfig)} - {"run", "given"}
# Local-run settings that have no meaning in a compiled pipeline: the pipeline root is
# pipeline_root, and `output` names the compiled file.
NOT_DEPLOYABLE = {"pipeline_root_override", "metadata_store"}


def read_file(path):
    """A JSON or YAML config file as a dict."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"config file {path!r} cannot be read: {e.strerror}")
    try:
        values = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"config file {path!r} is not valid {'JSON' if path.endswith('.json') else 'YAML'}: {e}")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping of keys to values, "
                          f"got {type(values).__name__}")
    return values


# Config keys (and compile/schedule flags) renamed so that a name keeps one meaning across
# commands: `output` is run's output folder, `--metadata` run's MySQL store. The old keys are
# still read, with a warning; the old flags are hidden spellings (cli/deploy.py).
RENAMED_KEYS = {"output": "spec", "metadata": "metadata_service"}


def renamed_keys(values, source):
    """`values` with RENAMED_KEYS' old keys under their new names, each named in a warning;
    ConfigError when a file gives both."""
    values = dict(values)
    for old, new in RENAMED_KEYS.items():
        if old in values:
            if new in values:
                raise ConfigError(f"the {source} gives both {old} and {new}: {old} is the old "
                                  f"name of {new}; keep {new}")
            logging.getLogger(__name__).warning(
                "%s: key %s is now %s (still read; rename it)", source, old, new)
            values[new] = values.pop(old)
    return values


def load(file_values=None, overrides=None, source="config file"):
    """DeployConfig from a config file's values and flag values (flags win). Unknown keys
    are an error naming them; values are type-checked here, everything else is checked by
    validation.validate()."""
    values = renamed_keys(file_values or {}, source)
    mysql_keys = sorted(k for k in set(values) | set(overrides or {}) if k.startswith("mysql_"))
    if mysql_keys:
        raise ConfigError(f"{mysql_keys[0]} was removed with metadata: mysql: {MYSQL_REMOVED_MESSAGE}")
    if "metadata_store" in values:
        raise ConfigError("metadata_store is a local-run setting (bit-tfx run --metadata): "
                          f"{MYSQL_REMOVED_MESSAGE}")
    unknown = sorted(set(values) - RUN_FIELDS - DEPLOY_FIELDS)
    if unknown:
        raise ConfigError(f"unknown key(s) in the {source}: {', '.join(unknown)}; known keys: "
                          f"{', '.join(sorted((RUN_FIELDS | DEPLOY_FIELDS) - NOT_DEPLOYABLE))}")
    for key in sorted(NOT_DEPLOYABLE & set(values)):
        raise ConfigError(f"{key} is a local-run setting; a deployment's artifacts go to pipeline_root")
    values.update(overrides or {})
    if isinstance(values.get("split_ratio"), list):
        values["split_ratio"] = tuple(values["split_ratio"])
    for cls in (configs.RunConfig, DeployConfig):
        _check_types(values, cls)
    # RunConfig's local output folder does not apply (the compiled file is `spec`).
    run_values = {k: v for k, v in values.items() if k in RUN_FIELDS - DEPLOY_FIELDS}
    run_values.setdefault("data", None)
    deploy_values = {k: v for k, v in values.items() if k in DEPLOY_FIELDS}
    return DeployConfig(run=configs.RunConfig(**run_values), given=frozenset(values), **deploy_values)


def _check_types(values, cls):
    for field in dataclasses.fields(cls):
        value = values.get(field.name)
        want = value_type(field.type)
        if value is None or not isinstance(want, type) or want is object:
            continue
        ok = isinstance(value, want) and not (want in (int, float) and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ConfigError(f"{field.name} must be {want.__name__}, got {value!r}")


# ---------------------------------------------------------------------- helpers
def _join(root, *parts):
    return "/".join([root.rstrip("/")] + list(parts))

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
flags override the file. validate() makes every check that needs neither the data nor the
network, before anything is compiled, and raises ConfigError naming the field.
"""
import dataclasses
import json
import os
import re
import typing
from typing import Optional

import yaml

from bit_tfx.components.errors import ConfigError
from bit_tfx.pipeline import configs

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
METADATA_MYSQL = "mysql"     # an explicit MySQL connection (self-hosted)
METADATA_KINDS = (METADATA_VERTEX, METADATA_KFP, METADATA_MYSQL)

# Vertex AI's prebuilt TF Serving container for the Vertex Pusher (the newest TF 2 CPU image
# google-cloud-aiplatform lists; our models are exported by TF 2.16, see docs/deploy.md).
DEFAULT_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
# Machine types whose accelerators are TPU VMs (Vertex AI Training).
TPU_MACHINE_PREFIXES = ("cloud-tpu", "ct4p-", "ct5lp-", "ct5p-", "ct6e-")
# On KFP the accelerator type of a step is a Kubernetes extended resource name.
_K8S_RESOURCE_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$")
_IMAGE_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*"  # [registry/]path
                       r"(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})?$")                # :tag or @digest
# Vertex AI display names (schedules, endpoints).
_DISPLAY_NAME_RE = re.compile(r"^[A-Za-z0-9][\w .-]{0,127}$")


@dataclasses.dataclass
class DeployConfig:
    run: configs.RunConfig
    target: Optional[str] = None               # vertex | kfp
    output: Optional[str] = None               # the compiled file: .json (vertex) or .yaml (kfp)
    project: Optional[str] = None              # GCP project (Vertex, Dataflow, Vertex Training/Pusher)
    region: Optional[str] = None
    pipeline_root: Optional[str] = None        # gs://... where every artifact goes
    image: Optional[str] = None                # our image (Dockerfile): every step runs in it
    # --- serving: RunConfig.serving_dir (a gs:// folder) or a Vertex AI Endpoint ---
    vertex_endpoint: Optional[str] = None      # endpoint display name; the model is uploaded to the registry
    serving_image: str = DEFAULT_SERVING_IMAGE
    serving_machine_type: str = "n1-standard-4"
    serving_min_replicas: int = 1
    serving_max_replicas: int = 1
    # --- Beam: Dataflow, or the step's own pod (DirectRunner, RunConfig.beam_args) ---
    beam_runner: Optional[str] = None          # default: dataflow on vertex, direct on kfp
    dataflow_temp_location: Optional[str] = None   # default PIPELINE_ROOT/tmp/dataflow
    dataflow_machine_type: Optional[str] = None
    dataflow_max_num_workers: Optional[int] = None
    dataflow_service_account: Optional[str] = None
    dataflow_subnetwork: Optional[str] = None
    # --- Trainer placement ---
    trainer_placement: str = STEP              # step | vertex_training
    trainer_cpu: Optional[float] = None        # step: vCPU limit
    trainer_memory_gb: Optional[float] = None  # step: memory limit (GB)
    trainer_accelerator_type: Optional[str] = None
    trainer_accelerator_count: Optional[int] = None  # default 1 when a type is given (8 for cloud-tpu)
    trainer_machine_type: str = "n1-standard-8"      # vertex_training
    trainer_replica_count: int = 1             # vertex_training: >1 = multi-worker (chief + workers)
    trainer_tpu_topology: Optional[str] = None  # vertex_training TPU slices, e.g. 2x2
    trainer_image: Optional[str] = None        # vertex_training image (default: image)
    trainer_boot_disk_gb: Optional[int] = None
    # --- ML Metadata ---
    metadata: Optional[str] = None             # vertex | kfp | mysql (default: the target's own)
    mysql_host: Optional[str] = None
    mysql_port: int = 3306
    mysql_database: str = "metadb"
    mysql_user: str = "root"
    mysql_password_env: str = "MYSQL_PASSWORD"  # the password is read from this variable, never stored
    # --- scheduled retraining ---
    cron: Optional[str] = None                 # vertex: 5 fields (unix); kfp: 6 fields (seconds first)
    time_zone: Optional[str] = None            # IANA name; vertex only (KFP uses the cluster's)
    schedule_name: Optional[str] = None        # default PIPELINE_NAME-retrain
    max_concurrent_runs: int = 1
    service_account: Optional[str] = None      # Vertex: the runs' service account; KFP: Kubernetes SA
    kfp_host: Optional[str] = None             # KFP API endpoint, e.g. http://localhost:8080
    kfp_namespace: Optional[str] = None
    kfp_experiment: str = "bit-tfx"
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
        return self.metadata or (METADATA_VERTEX if self.target == VERTEX else METADATA_KFP)

    @property
    def accelerator_count(self):
        if self.trainer_accelerator_count is not None:
            return self.trainer_accelerator_count
        if not self.trainer_accelerator_type:
            return 0
        return 8 if self.trainer_machine_type == "cloud-tpu" and self.trainer_placement == VERTEX_TRAINING else 1

    @property
    def _tpu_accelerator(self):
        return (self.trainer_accelerator_type or "").startswith("TPU_")

    @property
    def _tpu_machine(self):
        return self.trainer_machine_type.startswith(TPU_MACHINE_PREFIXES)

    @property
    def uses_tpu(self):
        return self.trainer_placement == VERTEX_TRAINING and (self._tpu_accelerator or self._tpu_machine)

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
        """The ML Metadata connection: None where the orchestrator provides it (Vertex's managed
        store, the KFP cluster's own service); a MySQL ConnectionConfig otherwise."""
        if self.effective_metadata != METADATA_MYSQL:
            return None
        from tfx.orchestration import metadata as tfx_metadata  # pylint: disable=import-outside-toplevel
        return tfx_metadata.mysql_metadata_connection_config(
            host=self.mysql_host, port=self.mysql_port, database=self.mysql_database,
            username=self.mysql_user, password=os.environ.get(self.mysql_password_env, ""))

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
        return f"TZ={self.time_zone} {self.cron}" if self.time_zone else self.cron

    # ------------------------------------------------------------------ checks
    def validate(self, need_cron=False):
        """Every check that needs neither data nor network; ConfigError names the field."""
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {self.target!r}")
        self.run.validate()  # pipeline_name ([a-z0-9-], Kubeflow/Vertex naming), model spec, ...
        if not self.run.data:
            raise ConfigError("data: the images to train on are required (e.g. gs://bucket/images/span-{SPAN})")
        required = ["pipeline_root", "image"]
        if self.uses_google_cloud:
            required = ["project", "region"] + required
        for name in required:
            if not getattr(self, name):
                raise ConfigError(f"{name} is required for --target {self.target}"
                                  f"{'' if self.target == VERTEX else ' with ' + self.uses_google_cloud} "
                                  f"(flag --{name.replace('_', '-')} or key {name!r} in the config file)")
        if self.project is not None and not re.match(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", self.project):
            raise ConfigError(f"project {self.project!r} is not a GCP project ID (6-30 characters: "
                              "lowercase letters, digits, hyphens)")
        if self.region is not None and not re.match(r"^[a-z]+-[a-z]+[0-9]$", self.region):
            raise ConfigError(f"region {self.region!r} is not a GCP region such as us-central1")
        # TFX steps read and write artifacts through tf.io.gfile, which in TF 2.16 reaches
        # Cloud Storage natively (s3:// needs tensorflow-io, which the image does not have).
        _require_gs("pipeline_root", self.pipeline_root)
        _check_image("image", self.image)
        if self.output is not None:
            want = OUTPUT_SUFFIXES[self.target]
            what = "a Vertex AI PipelineJob (.json)" if self.target == VERTEX else "a KFP PipelineSpec (.yaml)"
            if not self.output.endswith(want):
                raise ConfigError(f"output {self.output!r}: --target {self.target} writes {what}; "
                                  f"name the file *{want[0]}")
        self._validate_serving()
        self._validate_beam()
        self._validate_trainer()
        self._validate_metadata()
        if need_cron or self.cron is not None:
            if not self.cron:
                raise ConfigError("cron is required for a schedule (flag --cron or key 'cron')")
            check_cron(self.cron, self.target, "cron")
            if self.time_zone is not None and re.match(r"^(CRON_)?TZ=", self.cron.strip()):
                raise ConfigError("cron carries a TZ= prefix and time_zone is set too; give the zone once")
        if self.time_zone is not None:
            if self.target == KFP:
                raise ConfigError("time_zone: a KFP recurring run has no time zone of its own; the "
                                  "cluster's cronScheduleTimezone (pipeline-install-config) applies. "
                                  "Remove time_zone or write the cron in that zone")
            _check_time_zone(self.time_zone)
        if self.max_concurrent_runs < 1:
            raise ConfigError(f"max_concurrent_runs must be at least 1, got {self.max_concurrent_runs}")
        if self.schedule_name is not None and not _DISPLAY_NAME_RE.match(self.schedule_name):
            raise ConfigError(f"schedule_name {self.schedule_name!r}: letters, digits, space, . _ -, "
                              "at most 128 characters")
        return self

    def _validate_serving(self):
        if self.vertex_endpoint and self.run.serving_dir:
            raise ConfigError("serving_dir and vertex_endpoint are both set: push either to a gs:// "
                              "folder (serving_dir) or to a Vertex AI Endpoint (vertex_endpoint)")
        if not self.vertex_endpoint and not self.run.serving_dir:
            raise ConfigError("serving_dir (a gs:// folder) or vertex_endpoint (a Vertex AI Endpoint "
                              "name) is required: where blessed models are pushed")
        if self.run.serving_dir:
            _require_gs("serving_dir", self.run.serving_dir)
        if self.vertex_endpoint:
            if not _DISPLAY_NAME_RE.match(self.vertex_endpoint):
                raise ConfigError(f"vertex_endpoint {self.vertex_endpoint!r}: an endpoint display "
                                  "name (letters, digits, space, . _ -, at most 128 characters)")
            _check_image("serving_image", self.serving_image)
            if not 1 <= self.serving_min_replicas <= self.serving_max_replicas:
                raise ConfigError("serving_min_replicas and serving_max_replicas must satisfy "
                                  f"1 <= min <= max, got {self.serving_min_replicas}, {self.serving_max_replicas}")

    def _validate_beam(self):
        if self.beam_runner is not None and self.beam_runner not in BEAM_RUNNERS:
            raise ConfigError(f"beam_runner must be one of {BEAM_RUNNERS}, got {self.beam_runner!r}")
        dataflow_keys = sorted(k for k in self.given if k.startswith("dataflow_"))
        if self.effective_beam_runner == DIRECT and dataflow_keys:
            raise ConfigError(f"{dataflow_keys[0]} is set but beam_runner is direct; set "
                              "beam_runner: dataflow (or remove the dataflow_* settings)")
        if self.effective_beam_runner == DATAFLOW:
            if any(a.startswith("--runner=") for a in (self.run.beam_args if "beam_args" in self.given else [])):
                raise ConfigError("beam_args: give the runner with beam_runner, not --runner")
            if self.dataflow_temp_location:
                _require_gs("dataflow_temp_location", self.dataflow_temp_location)
            if self.dataflow_max_num_workers is not None and self.dataflow_max_num_workers < 1:
                raise ConfigError(f"dataflow_max_num_workers must be positive, got {self.dataflow_max_num_workers}")

    def _validate_trainer(self):
        if self.trainer_placement not in PLACEMENTS:
            raise ConfigError(f"trainer_placement must be one of {PLACEMENTS}, got {self.trainer_placement!r}")
        step_only = [k for k in ("trainer_cpu", "trainer_memory_gb") if k in self.given]
        vertex_only = [k for k in ("trainer_machine_type", "trainer_replica_count", "trainer_tpu_topology",
                                   "trainer_image", "trainer_boot_disk_gb") if k in self.given]
        if self.trainer_placement == VERTEX_TRAINING and step_only:
            raise ConfigError(f"{step_only[0]} applies to trainer_placement: step; a Vertex AI Training "
                              "job takes trainer_machine_type instead")
        if self.trainer_placement == STEP and vertex_only:
            raise ConfigError(f"{vertex_only[0]} applies to trainer_placement: vertex_training")
        for name in ("trainer_cpu", "trainer_memory_gb"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        if self.trainer_accelerator_count is not None and self.trainer_accelerator_count < 0:
            raise ConfigError("trainer_accelerator_count must not be negative, "
                              f"got {self.trainer_accelerator_count}")
        if self.trainer_accelerator_count and not self.trainer_accelerator_type:
            raise ConfigError("trainer_accelerator_count is set without trainer_accelerator_type")
        if self.trainer_accelerator_type:
            if self.target == KFP and self.trainer_placement == STEP:
                if not _K8S_RESOURCE_RE.match(self.trainer_accelerator_type):
                    raise ConfigError(
                        f"trainer_accelerator_type {self.trainer_accelerator_type!r}: on KFP a step's "
                        "accelerator is a Kubernetes resource name such as nvidia.com/gpu, amd.com/gpu "
                        "or cloud-tpus.google.com/v3")
            else:
                names = vertex_accelerator_types()
                if self.trainer_accelerator_type not in names:
                    raise ConfigError(f"trainer_accelerator_type {self.trainer_accelerator_type!r} is not a "
                                      f"Vertex AI accelerator type; one of {', '.join(names)}")
        if self.trainer_placement == VERTEX_TRAINING:
            if self.trainer_replica_count < 1:
                raise ConfigError(f"trainer_replica_count must be at least 1, got {self.trainer_replica_count}")
            if not re.match(r"^[a-z0-9][a-z0-9-]*$", self.trainer_machine_type):
                raise ConfigError(f"trainer_machine_type {self.trainer_machine_type!r} is not a machine "
                                  "type name such as n1-standard-8, a2-highgpu-1g or ct5lp-hightpu-4t")
            tpu_type, tpu_machine = self._tpu_accelerator, self._tpu_machine
            if tpu_type and not tpu_machine:
                raise ConfigError(f"trainer_accelerator_type {self.trainer_accelerator_type} needs a TPU "
                                  "machine type (trainer_machine_type cloud-tpu, ct5lp-hightpu-4t, ...)")
            if self.trainer_accelerator_type and not tpu_type and tpu_machine:
                raise ConfigError(f"trainer_machine_type {self.trainer_machine_type} is a TPU VM; "
                                  f"{self.trainer_accelerator_type} is not a TPU accelerator")
            if self.trainer_tpu_topology is not None:
                if not tpu_machine:
                    raise ConfigError("trainer_tpu_topology applies to TPU machine types only")
                if not re.match(r"^\d+x\d+(x\d+)?$", self.trainer_tpu_topology):
                    raise ConfigError(f"trainer_tpu_topology {self.trainer_tpu_topology!r} must look "
                                      "like 2x2 or 2x2x1")
            if self.trainer_image:
                _check_image("trainer_image", self.trainer_image)
            if self.trainer_boot_disk_gb is not None and self.trainer_boot_disk_gb < 100:
                raise ConfigError(f"trainer_boot_disk_gb must be at least 100 (Vertex AI's minimum), "
                                  f"got {self.trainer_boot_disk_gb}")

    def _validate_metadata(self):
        kind = self.effective_metadata
        if kind not in METADATA_KINDS:
            raise ConfigError(f"metadata must be one of {METADATA_KINDS}, got {self.metadata!r}")
        if self.target == VERTEX and kind != METADATA_VERTEX:
            raise ConfigError(f"metadata {kind!r}: Vertex AI Pipelines always records to Vertex ML "
                              "Metadata; use metadata: vertex (or leave it out)")
        if self.target == KFP and kind == METADATA_VERTEX:
            raise ConfigError("metadata 'vertex' is Vertex AI's managed store; on KFP use kfp (the "
                              "cluster's metadata service) or mysql")
        mysql_keys = sorted(k for k in self.given if k.startswith("mysql_"))
        if kind == METADATA_MYSQL:
            if not self.mysql_host:
                raise ConfigError("mysql_host is required with metadata: mysql")
            if not 0 < self.mysql_port < 65536:
                raise ConfigError(f"mysql_port must be a TCP port, got {self.mysql_port}")
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.mysql_password_env):
                raise ConfigError(f"mysql_password_env {self.mysql_password_env!r} must name an "
                                  "environment variable (the password itself is never stored)")
        elif mysql_keys:
            raise ConfigError(f"{mysql_keys[0]} is set but metadata is {kind}; set metadata: mysql")


# ---------------------------------------------------------------------- loading
RUN_FIELDS = {f.name for f in dataclasses.fields(configs.RunConfig)}
DEPLOY_FIELDS = {f.name for f in dataclasses.fields(DeployConfig)} - {"run", "given"}
# Local-run settings that have no meaning in a compiled pipeline: the pipeline root is
# pipeline_root, and `output` names the compiled file.
NOT_DEPLOYABLE = {"pipeline_root_override"}


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


def load(file_values=None, overrides=None, source="config file"):
    """DeployConfig from a config file's values and flag values (flags win). Unknown keys
    are an error naming them; values are type-checked here, everything else in validate()."""
    values = dict(file_values or {})
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
    # `output` names the compiled file here; RunConfig's local output folder does not apply.
    run_values = {k: v for k, v in values.items() if k in RUN_FIELDS - DEPLOY_FIELDS}
    run_values.setdefault("data", None)
    deploy_values = {k: v for k, v in values.items() if k in DEPLOY_FIELDS}
    return DeployConfig(run=configs.RunConfig(**run_values), given=frozenset(values), **deploy_values)


def python_type(hint):
    """int for int and Optional[int], list for List[str], ..."""
    origin = getattr(hint, "__origin__", None)
    if origin is typing.Union:
        return python_type(hint.__args__[0])
    return origin or hint


def _check_types(values, cls):
    for field in dataclasses.fields(cls):
        value = values.get(field.name)
        want = python_type(field.type)
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


def _require_gs(name, value):
    if not re.match(r"^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?$", value or ""):
        raise ConfigError(f"{name} {value!r} must be a Cloud Storage path gs://BUCKET/..., which "
                          "every step can reach (bucket names: 3-222 characters, lowercase "
                          "letters, digits, '-', '_', '.')")


def _check_image(name, value):
    if not _IMAGE_RE.match(value or ""):
        raise ConfigError(f"{name} {value!r} is not a container image reference such as "
                          "us-central1-docker.pkg.dev/PROJECT/REPO/bit-tfx:TAG")


def _is_time_zone(name):
    import zoneinfo  # pylint: disable=import-outside-toplevel
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _check_time_zone(name):
    if not _is_time_zone(name):
        raise ConfigError(f"time_zone {name!r} is not an IANA time zone such as Europe/Berlin or UTC")


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


# ---------------------------------------------------------------------- cron
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_FIELDS = {
    # Vertex AI: unix cron, 5 fields (day of week 0-7, 0 and 7 are Sunday).
    VERTEX: [("minute", 0, 59, None), ("hour", 0, 23, None), ("day of month", 1, 31, None),
             ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS)],
    # KFP: robfig/cron with a leading seconds field, 6 fields; "?" allowed in the day fields.
    KFP: [("second", 0, 59, None), ("minute", 0, 59, None), ("hour", 0, 23, None),
          ("day of month", 1, 31, None), ("month", 1, 12, _MONTHS), ("day of week", 0, 6, _DAYS)],
}
CRON_EXAMPLES = {VERTEX: "0 3 * * 1 (03:00 every Monday)", KFP: "0 0 3 * * 1 (03:00:00 every Monday)"}


def check_cron(expression, target, field="cron"):
    """Raises ConfigError (naming `field`) unless `expression` is a cron in the target's dialect."""
    text = expression.strip()
    if target == VERTEX and re.match(r"^(CRON_)?TZ=", text):
        prefix, _, text = text.partition(" ")
        zone = prefix.split("=", 1)[1]
        if not _is_time_zone(zone):
            raise ConfigError(f"{field} {expression!r}: {zone} is not an IANA time zone such as Europe/Berlin")
        text = text.strip()
    elif re.match(r"^(CRON_)?TZ=", text):
        raise ConfigError(f"{field} {expression!r}: a KFP cron has no time-zone prefix")
    parts = text.split()
    spec = _FIELDS[target]
    if len(parts) != len(spec):
        raise ConfigError(f"{field} {expression!r} has {len(parts)} field(s); a {target} cron has "
                          f"{len(spec)} ({', '.join(s[0] for s in spec)}), e.g. {CRON_EXAMPLES[target]}")
    for part, (name, low, high, names) in zip(parts, spec):
        for item in part.split(","):
            if not _cron_item_ok(item, low, high, names, allow_question=target == KFP and name.startswith("day")):
                raise ConfigError(f"{field} {expression!r}: {name} field {part!r} is not valid "
                                  f"(numbers {low}-{high}, *, ranges a-b, steps */n, lists a,b)")


def _cron_item_ok(item, low, high, names, allow_question):
    if item == "?" and allow_question:
        return True
    base, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return False
    if base == "*":
        return True

    def value(text):
        if names and text.upper() in names:
            return names[text.upper()]
        return int(text) if text.isdigit() else None

    first, dash, last = base.partition("-")
    a = value(first)
    b = value(last) if dash else a
    return a is not None and b is not None and low <= a <= b <= high

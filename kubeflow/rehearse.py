"""`bit-tfx rehearse SPEC --data LOCAL_FOLDER --output DIR`: a spec that `bit-tfx compile`
wrote (Vertex AI PipelineJob JSON or KFP v2 PipelineSpec YAML) run on this machine task by
task, as a KFP launcher hands each task to its container:

- the tasks run in the DAG's order (dependentTasks and the producers of their inputs), each one
  through its own container command and arguments as the spec gives them (TFX's Kubeflow V2
  entrypoint, `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`),
  in a process of its own; `python` is this environment's interpreter (the image's, in CI the
  installed wheel's);
- each gets what a launcher hands it in `{{$}}`: the ExecutorInput with the task's parameters
  (schema 2.0 `parameters`, 2.1 `parameterValues`), its input artifacts (type, URI and the
  metadata their producer wrote), output artifact URIs under the pipeline root and the output
  metadata file, built with kfp's own kfp.local helpers (executor_input_utils,
  placeholder_utils, executor_output_utils);
- each task's ExecutorOutput is read back and its artifacts' metadata handed to the tasks
  downstream; a task's trigger condition (the DAG's tfx.dsl.Cond, a CEL expression) is
  evaluated on those, and a task whose condition is false, or whose upstream was skipped, is
  skipped as KFP skips it;
- every execution and artifact is recorded in ML Metadata (SQLite, DIR/metadata.sqlite), as
  the launcher records them in the cluster's store, so that the run's verdict, the report,
  `bit-tfx report DIR` and `bit-tfx predict` read it as they read `bit-tfx run --output DIR`.

Cloud paths (PathMap): the spec's data root (ExampleGen's input_base) becomes LOCAL_FOLDER,
its pipeline root DIR/pipeline_root, its serving folder DIR/serving, any other gs://B/P
DIR/gcs/B/P (or what --map names). Cloud services run their local equivalent, said on the
console (local_equivalents): Dataflow -> Beam's DirectRunner in the task's process; a Vertex
AI Training job -> its CustomJob built by TFX's own client and its chief replica's container
command run here (rehearsal_executors.py); a Vertex AI Endpoint push -> the filesystem Pusher
into DIR/serving, and the serving baseline read from there.

Not rehearsed: the image (tasks run in this environment), GPUs/TPUs and multi-replica training,
Dataflow workers, Vertex's and KFP's own launchers, drivers and caches (every task runs each
time; KFP would not reuse them either: the ExampleGen task is uncached and every task below it
takes its new output), Vertex ML Metadata. docs/deploy.md, "Rehearse".
"""
import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
import time
import types

import yaml
from google.protobuf import json_format, struct_pb2

from ..core import keys
from ..core.errors import ConfigError

log = logging.getLogger("bit_tfx.progress")

ENTRYPOINT = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
GCS_DIR = "gcs"                 # under DIR: gs://B/P -> DIR/gcs/B/P
REHEARSAL_LOGS = "rehearsal"    # under DIR/logs: one folder per rehearsal, one log per task
# The entrypoint's own flags (each takes a value); every other argument is a Beam argument.
ENTRYPOINT_FLAGS = ("--executor_class_path", "--json_serialized_invocation_args",
                    "--json_serialized_inputs_spec_args")
# Cloud executors and what runs in their place here.
VERTEX_TRAINER = "tfx.extensions.google_cloud_ai_platform.trainer.executor."
VERTEX_PUSHER = "tfx.extensions.google_cloud_ai_platform.pusher.executor.Executor"
TRAINING_HERE = "bit_tfx.kubeflow.rehearsal_executors.VertexTrainingHere"
FILESYSTEM_PUSHER = "bit_tfx.components.pusher.executor.Executor"


class TaskFailed(RuntimeError):
    """A task's container command exited non-zero."""


# --------------------------------------------------------------------------- the spec
@dataclasses.dataclass
class Task:
    name: str
    spec: object        # PipelineTaskSpec
    component: object   # ComponentSpec
    container: object   # PipelineContainerSpec
    upstream: tuple     # task names this one waits for


def load(path):
    """(PipelineSpec, PipelineJob or None), ConfigError naming the file when it is not one."""
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    try:
        return compiling.load(path)
    except (json_format.ParseError, yaml.YAMLError, ValueError, TypeError) as e:
        raise ConfigError(f"spec {path!r} is not a compiled pipeline (Vertex AI PipelineJob .json or "
                          f"KFP PipelineSpec .yaml): {e}") from e


def tasks_in_order(spec):
    """The DAG's container tasks, each after every task it depends on (ties by name)."""
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    kinds = compiling.executor_kinds(spec)
    others = sorted(name for name, kind in kinds.items() if kind != "container")
    if others:
        raise ConfigError(f"spec: tasks {others} are not container tasks ({kinds}); the rehearsal runs "
                          "container tasks only (a spec from `bit-tfx compile` has no other kind)")
    containers = compiling.container_executors(spec)
    tasks = {}
    for name, task in spec.root.dag.tasks.items():
        upstream = set(task.dependent_tasks)
        upstream.update(a.task_output_artifact.producer_task for a in task.inputs.artifacts.values()
                        if a.HasField("task_output_artifact"))
        tasks[name] = Task(name, task, spec.components[task.component_ref.name], containers[name],
                           tuple(sorted(upstream)))
    ordered, done = [], set()
    while len(ordered) < len(tasks):
        ready = sorted(n for n, t in tasks.items() if n not in done and set(t.upstream) <= done)
        if not ready:
            raise ConfigError(f"spec: the tasks {sorted(set(tasks) - done)} wait on each other (a cycle)")
        ordered.append(tasks[ready[0]])
        done.add(ready[0])
    return ordered


def constant_parameters(task):
    """compile.constant_parameters: {name: (value, schema '2.1' | '2.0')}."""
    from . import compile as compiling  # pylint: disable=import-outside-toplevel
    return compiling.constant_parameters(task)


def _parameter(spec, names, key):
    """The first of the named tasks' constant parameter `key`, or None."""
    for name in names:
        if name in spec.root.dag.tasks:
            value = constant_parameters(spec.root.dag.tasks[name]).get(key)
            if value is not None and value[0]:
                return value[0]
    return None


# --------------------------------------------------------------------------- cloud paths
class PathMap:
    """gs:// prefixes and the local folders that stand for them; any other gs://B/P goes to
    DIR/gcs/B/P. Rewrites every gs:// path inside a string (JSON parameters included), and
    replaces a whole value found in `exact` (a data root compiled as a local path)."""
    _GS = re.compile(r"gs://[^\s\"',;)\]}]+")

    def __init__(self, output, rules, exact=None):
        self.output = os.path.abspath(output)
        self.rules = sorted(((p.rstrip("/"), os.path.abspath(local)) for p, local in rules if p),
                            key=lambda r: -len(r[0]))
        self.exact = dict(exact or {})

    def local(self, uri):
        for prefix, folder in self.rules:
            if uri == prefix or uri.startswith(prefix + "/"):
                return folder + uri[len(prefix):]
        return os.path.join(self.output, GCS_DIR, uri[len("gs://"):])

    def rewrite(self, text):
        if not isinstance(text, str):
            return text
        return self.exact.get(text) or self._GS.sub(lambda m: self.local(m.group(0)), text)

    def table(self):
        return {prefix: folder for prefix, folder in self.rules} | {"gs://BUCKET/PATH": os.path.join(
            self.output, GCS_DIR, "BUCKET", "PATH")}


def data_root(spec):
    """The spec's data root: its ExampleGen's input_base."""
    return _parameter(spec, keys.EXAMPLE_GEN_NODES, keys.INPUT_BASE_KEY)


def serving_root(spec):
    """The gs:// folder the spec pushes to and reads its baseline from, or None (an Endpoint)."""
    folder = _parameter(spec, [keys.NODE_SERVING_BASELINE], "serving_directory")
    if folder:
        return folder
    destination = _parameter(spec, [keys.NODE_PUSHER], "push_destination")
    if destination:
        return json.loads(destination).get("filesystem", {}).get("base_directory")
    return None


def pipeline_root(spec, job):
    """The pipeline root the spec names: the PipelineJob's gcsOutputDirectory, else the
    spec's defaultPipelineRoot (a KFP spec usually has none: it is given at submission)."""
    if job is not None and job.runtime_config.gcs_output_directory:
        return job.runtime_config.gcs_output_directory
    return spec.default_pipeline_root or None


def path_map(spec, job, data, output, maps=()):
    """The PathMap of a rehearsal of `spec` on `data` into `output`, --map rules first."""
    from ..pipeline import configs  # pylint: disable=import-outside-toplevel
    output = os.path.abspath(output)
    rules = list(maps)
    root = data_root(spec)
    if root:
        rules.append((root, data))
    rules.append((pipeline_root(spec, job), os.path.join(output, keys.PIPELINE_ROOT_DIR)))
    rules.append((serving_root(spec), os.path.join(output, configs.SERVING_DIR)))
    local_root = {root: os.path.abspath(data)} if root and not root.startswith("gs://") else {}
    return PathMap(output, [(p, local) for p, local in rules if p and p.startswith("gs://")], local_root)


def parse_maps(values):
    """--map GS_PREFIX=LOCAL_FOLDER values as (prefix, folder) pairs."""
    pairs = []
    for value in values or ():
        prefix, sep, folder = value.partition("=")
        if not sep or not prefix.startswith("gs://") or not folder:
            raise ConfigError(f"--map {value!r}: give GS_PREFIX=LOCAL_FOLDER, e.g. "
                              "--map gs://my-bucket/models=./models")
        pairs.append((prefix, folder))
    return pairs


# --------------------------------------------------------------------------- cloud services
def split_args(args):
    """(the entrypoint's own arguments, the Beam arguments) of a container's args."""
    own, beam, i = [], [], 0
    while i < len(args):
        if args[i] in ENTRYPOINT_FLAGS:
            own += args[i:i + 2]
            i += 2
        else:
            beam.append(args[i])
            i += 1
    return own, beam


def _flag(args, name):
    own = list(args)
    return own[own.index(name) + 1] if name in own else None


def local_equivalents(task_name, args, parameters, output):
    """(args, parameters, notes): what runs here in place of a cloud service, each said in a note.
    `parameters`: {name: (value, schema)} (constant_parameters), rewritten in a copy."""
    from ..pipeline import configs  # pylint: disable=import-outside-toplevel
    from tfx.proto import pusher_pb2  # pylint: disable=import-outside-toplevel
    own, beam = split_args(args)
    parameters = dict(parameters)
    notes = []
    if any(a in ("--runner=DataflowRunner", "--runner=dataflow") for a in beam) or \
            ("--runner" in beam and _flag(beam, "--runner") in ("DataflowRunner", "dataflow")):
        notes.append("Dataflow -> Beam's DirectRunner in the task's process")
        beam = list(configs.DEFAULT_BEAM_ARGS)
    executor = _flag(own, "--executor_class_path") or ""
    serving = os.path.join(os.path.abspath(output), configs.SERVING_DIR)
    if executor.startswith(VERTEX_TRAINER):
        notes.append("Vertex AI Training job -> its CustomJob built by TFX's client, the chief "
                     "replica's container command run here")
        own[own.index("--executor_class_path") + 1] = TRAINING_HERE
    elif executor == VERTEX_PUSHER:
        notes.append(f"Vertex AI Endpoint upload and deployment -> the filesystem Pusher into {serving}")
        own[own.index("--executor_class_path") + 1] = FILESYSTEM_PUSHER
        destination = pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving))
        schema = next(iter(parameters.values()))[1] if parameters else "2.1"
        parameters["push_destination"] = (json_format.MessageToJson(destination, sort_keys=True), schema)
        parameters.pop("custom_config", None)
    if task_name == keys.NODE_SERVING_BASELINE and parameters.get("vertex_endpoint", ("",))[0]:
        notes.append(f"the model the Vertex AI Endpoint serves -> the newest version in {serving}")
        schema = parameters["vertex_endpoint"][1]
        for name in ("vertex_endpoint", "vertex_project", "vertex_region"):
            parameters.pop(name, None)
        parameters["serving_directory"] = (serving, schema)
    return own + beam, parameters, notes


# --------------------------------------------------------------------------- trigger conditions
_CEL_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^']*'|\"[^\"]*\")|"
                        r"(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].])|(?P<name>[A-Za-z_]\w*))")
_CEL_NAMES = {"inputs": "inputs", "artifacts": "artifacts", "metadata": "metadata",
              "parameter_values": "parameter_values", "uri": "uri", "name": "name",
              "true": "True", "false": "False", "null": "None"}
_CEL_OPS = {"&&": " and ", "||": " or ", "!": " not "}


def condition_holds(expression, artifacts, parameter_values=None):
    """A task's trigger condition, the CEL subset TFX compiles conditionals to (comparisons,
    &&, ||, !, parentheses, inputs.artifacts['K'].artifacts[0].metadata['P'] and
    inputs.parameter_values['P']), on {key: [{"uri":, "name":, "metadata": {...}}]}. An
    expression outside that subset is a ConfigError naming it."""
    python, at = [], 0
    while at < len(expression.rstrip()):
        match = _CEL_TOKEN.match(expression, at)
        if not match or match.end() == at:
            raise ConfigError(f"trigger condition {expression!r}: cannot read it from position {at}")
        at = match.end()
        kind, text = match.lastgroup, match.group(match.lastgroup)
        if kind == "name":
            if text not in _CEL_NAMES:
                raise ConfigError(f"trigger condition {expression!r}: {text!r} is outside what the "
                                  "rehearsal evaluates")
            text = _CEL_NAMES[text]
        python.append(_CEL_OPS.get(text, text) if kind == "op" else text)
    inputs = types.SimpleNamespace(
        artifacts={k: types.SimpleNamespace(artifacts=[types.SimpleNamespace(**a) for a in v])
                   for k, v in artifacts.items()},
        parameter_values=dict(parameter_values or {}))
    try:
        return bool(eval("".join(python), {"__builtins__": {}}, {"inputs": inputs}))  # pylint: disable=eval-used
    except (KeyError, IndexError, TypeError) as e:
        raise ConfigError(f"trigger condition {expression!r}: {type(e).__name__}: {e}") from e


# --------------------------------------------------------------------------- one task
def executor_input(task, parameters, inputs, task_root, run_name):
    """The ExecutorInput a launcher hands the task: kfp.local's for the outputs (URIs under
    task_root, the output metadata file) and the schema 2.1 parameters; the 2.0 ones as
    `parameters`; the input artifacts as their producers wrote them."""
    from kfp.local import executor_input_utils  # pylint: disable=import-outside-toplevel
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel
    component = pipeline_spec_pb2.ComponentSpec()
    component.CopyFrom(task.component)
    component.input_definitions.ClearField("artifacts")  # kfp.local takes no input artifacts: ours below
    new = {n: v for n, (v, schema) in parameters.items() if schema == "2.1"}
    definitions = component.input_definitions.parameters
    for name in set(definitions) - set(new):
        del definitions[name]
    for name in set(new) - set(definitions):  # a local equivalent's own (push_destination)
        definitions[name].parameter_type = pipeline_spec_pb2.ParameterType.STRING
    result = executor_input_utils.construct_executor_input(component, new, task_root)
    for name, (value, schema) in parameters.items():
        if schema == "2.0":
            legacy = result.inputs.parameters[name]
            if isinstance(value, bool) or isinstance(value, int):
                legacy.int_value = int(value)
            elif isinstance(value, float):
                legacy.double_value = value
            else:
                legacy.string_value = str(value)
    for key, artifact in inputs.items():
        result.inputs.artifacts[key].artifacts.add().CopyFrom(artifact)
    for key, artifacts in result.outputs.artifacts.items():
        for artifact in artifacts.artifacts:
            artifact.name = f"{run_name}/{task.name}/{key}"  # unique: TFX hashes it into an id
    return result


def command_line(task, args, executor_input_message, run_name, root):
    """The container's command and args with kfp.local's placeholders resolved ({{$}} the
    ExecutorInput), `python` being this environment's interpreter."""
    from kfp.local import executor_input_utils, placeholder_utils  # pylint: disable=import-outside-toplevel
    container, task_name = task.container, task.name
    as_dict = executor_input_utils.executor_input_to_dict(executor_input_message, task.component)
    full = placeholder_utils.replace_placeholders(list(container.command) + list(args), as_dict,
                                                  run_name, task_name, root)
    if full and full[0] in ("python", "python3"):
        full[0] = sys.executable
    return full


def task_environment():
    """The image's environment (Dockerfile ENV) over this one's, without a PYTHONPATH that could
    reach a checkout: what the task imports is what is installed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_USE_LEGACY_KERAS="1", TF_ENABLE_ONEDNN_OPTS=env.get("TF_ENABLE_ONEDNN_OPTS", "1"),
               TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    return env


def run_task(argv, task_root, log_path):
    """Runs one task's command line, its output into log_path; TaskFailed with its last lines."""
    os.makedirs(task_root, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as f:
        done = subprocess.run(argv, cwd=task_root, env=task_environment(), stdout=f,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False)
    if done.returncode:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = [line.rstrip() for line in f if line.strip()]
        errors = [line for line in lines if re.search(r"Error|Exception|error:", line)]
        raise TaskFailed(f"exit {done.returncode}: {(errors or lines or ['(no output)'])[-1][-500:]} "
                         f"(its log: {log_path})")


def read_output(executor_input_message):
    """The task's ExecutorOutput, its artifacts completed from what it was handed (type, and
    URI, name and outputs it did not write), as KFP's launcher completes them."""
    from kfp.local import executor_output_utils  # pylint: disable=import-outside-toplevel
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel
    output = executor_output_utils.load_executor_output(executor_input_message.outputs.output_file)
    result = {}
    for key, handed in executor_input_message.outputs.artifacts.items():
        artifact = pipeline_spec_pb2.RuntimeArtifact()
        artifact.CopyFrom(handed.artifacts[0])
        written = output.artifacts[key].artifacts if key in output.artifacts else []
        if written:
            artifact.metadata.CopyFrom(written[0].metadata)
            if written[0].uri:
                artifact.uri = written[0].uri
        result[key] = artifact
    return result


# --------------------------------------------------------------------------- ML Metadata
class Recorder:
    """Writes each task's execution, its input and output artifacts and the run's contexts into
    ML Metadata in TFX's layout (contexts `pipeline`, `pipeline_run`, `node` named
    PIPELINE.NODE), so the readers of `bit-tfx run` read a rehearsal the same way."""

    def __init__(self, uri, pipeline_name, run_id):
        import ml_metadata as mlmd  # pylint: disable=import-outside-toplevel
        from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=import-outside-toplevel
        self.pb = pb
        config = pb.ConnectionConfig()
        config.sqlite.filename_uri = uri
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = mlmd.MetadataStore(config)
        self.pipeline_name = pipeline_name
        self.contexts = [self._context("pipeline", pipeline_name), self._context("pipeline_run", run_id)]
        self.store.put_parent_contexts([pb.ParentContext(parent_id=self.contexts[0].id,
                                                         child_id=self.contexts[1].id)])
        self.ids = {}  # artifact name -> id

    def _type_id(self, kind, name, properties=None):
        pb = self.pb
        message = {"context": pb.ContextType, "execution": pb.ExecutionType, "artifact": pb.ArtifactType}[kind]()
        message.name = name
        for key, value in (properties or {}).items():
            message.properties[key] = value
        put = {"context": self.store.put_context_type, "execution": self.store.put_execution_type,
               "artifact": self.store.put_artifact_type}[kind]
        return put(message, can_add_fields=True)

    def _context(self, kind, name):
        existing = self.store.get_context_by_type_and_name(kind, name)
        if existing is not None:
            return existing
        context = self.pb.Context(type_id=self._type_id("context", kind), name=name)
        context.id = self.store.put_contexts([context])[0]
        return context

    def _artifact(self, runtime_artifact):
        """The MLMD Artifact of a RuntimeArtifact: its TFX type, properties the type declares,
        the rest as custom properties (whole numbers as int, as TFX writes its own)."""
        from tfx.orchestration.kubeflow.v2 import compiler_utils  # pylint: disable=import-outside-toplevel
        from tfx.utils import import_utils  # pylint: disable=import-outside-toplevel
        title = yaml.safe_load(runtime_artifact.type.instance_schema or "{}").get("title") or \
            runtime_artifact.type.schema_title
        cls = import_utils.import_class_by_path(compiler_utils.TITLE_TO_CLASS_PATH.get(title, title))
        declared = cls().artifact_type.properties
        artifact = self.pb.Artifact(type_id=self._type_id("artifact", cls.TYPE_NAME, dict(declared)),
                                    uri=runtime_artifact.uri, state=self.pb.Artifact.LIVE)
        for key, value in json_format.MessageToDict(runtime_artifact.metadata).items():
            custom = key.startswith("custom:")
            key = key[len("custom:"):] if custom else key
            target = artifact.properties if key in declared and not custom else artifact.custom_properties
            if isinstance(value, bool):
                target[key].int_value = int(value)
            elif isinstance(value, (int, float)) and float(value).is_integer() and \
                    (key not in declared or declared[key] == self.pb.INT):
                target[key].int_value = int(value)
            elif isinstance(value, (int, float)):
                target[key].double_value = float(value)
            elif isinstance(value, str):
                target[key].string_value = value
            elif isinstance(value, dict):
                target[key].struct_value.CopyFrom(json_format.ParseDict(value, struct_pb2.Struct()))
            else:  # a list: its JSON
                target[key].string_value = json.dumps(value)
        return artifact

    def record(self, task_name, inputs, outputs, state):
        """One execution of `task_name` (COMPLETE, FAILED or CANCELED for a skipped one)."""
        pb = self.pb
        execution = pb.Execution(type_id=self._type_id("execution", task_name),
                                 last_known_state=getattr(pb.Execution, state))
        pairs = []
        for event_type, artifacts in ((pb.Event.INPUT, inputs), (pb.Event.OUTPUT, outputs)):
            for key, runtime_artifact in artifacts.items():
                artifact = self._artifact(runtime_artifact)
                if runtime_artifact.name in self.ids:
                    artifact.id = self.ids[runtime_artifact.name]
                event = pb.Event(type=event_type)
                event.path.steps.add().key = key
                event.path.steps.add().index = 0
                pairs.append((artifact, event))
        node = self._context("node", f"{self.pipeline_name}.{task_name}")
        _, artifact_ids, _ = self.store.put_execution(execution, pairs, self.contexts + [node],
                                                      reuse_context_if_already_exist=True)
        named = [a.name for a in inputs.values()] + [a.name for a in outputs.values()]
        self.ids.update(zip(named, artifact_ids))


# --------------------------------------------------------------------------- the rehearsal
@dataclasses.dataclass
class Rehearsal:
    """What a rehearsal is given, checked (check()) before anything runs."""
    spec_path: str
    data: str
    output: str
    maps: tuple = ()

    def check(self):
        """Every check that needs no task run, cheapest first (no TensorFlow or kfp before the
        files are known to exist); ConfigError naming the argument."""
        if not os.path.isfile(self.spec_path):
            raise ConfigError(f"spec {self.spec_path!r} does not exist: give the file `bit-tfx compile "
                              "--spec` wrote")
        data = self.data
        if "{SPAN}" in data:  # the span pattern, as compile's --data named it: its folder
            data = os.path.dirname(data.split("{SPAN}")[0]) or "."
        if not os.path.isdir(data):
            raise ConfigError(f"--data {self.data!r} is not a folder: give the local folder that stands "
                              "for the spec's data root (ExampleGen's input_base)")
        self.data = os.path.abspath(data)
        output = os.path.abspath(self.output)
        if output == self.data or output.startswith(self.data + os.sep):
            raise ConfigError(f"--output {self.output!r} is inside --data {self.data!r}: its files would "
                              "be read as images; pick a folder outside the data")
        maps = parse_maps(self.maps)
        self.spec, self.job = load(self.spec_path)
        if not data_root(self.spec):
            raise ConfigError(f"spec {self.spec_path!r} has no ExampleGen task with an input_base")
        self.paths = path_map(self.spec, self.job, self.data, output, maps)
        self.tasks = tasks_in_order(self.spec)
        self.gate = gate_thresholds(self.spec)
        return self


def gate_thresholds(spec):
    """{min_accuracy, max_accuracy_drop} of the spec's Evaluator (its eval_config), or {}."""
    from ..components.evaluation import gate  # pylint: disable=import-outside-toplevel
    config = _parameter(spec, [keys.NODE_EVALUATOR], "eval_config")
    return gate.thresholds_of(json.loads(config)) if config else {}


def rehearse(rehearsal):
    """Runs a checked Rehearsal; returns the RunSummary of `bit-tfx run` (results.summarize)
    with the rehearsal's own record (tasks, local equivalents, paths)."""
    from kfp.local import executor_input_utils  # pylint: disable=import-outside-toplevel
    from ..pipeline import configs, runner  # pylint: disable=import-outside-toplevel
    r = rehearsal
    pipeline_name = r.spec.pipeline_info.name
    run_name = executor_input_utils.get_local_pipeline_resource_name(pipeline_name)
    output = os.path.abspath(r.output)
    root = os.path.join(output, keys.PIPELINE_ROOT_DIR)
    logs = os.path.join(output, configs.LOGS_DIR, REHEARSAL_LOGS, run_name)
    os.makedirs(logs, exist_ok=True)
    config = configs.RunConfig(data=r.data, output=output, pipeline_name=pipeline_name, **r.gate)
    recorder = Recorder(config.metadata_path, pipeline_name, run_name)
    log.info("Rehearsing %s (%s, schema %s, %d tasks) on %s into %s", r.spec_path,
             "Vertex AI PipelineJob" if r.job is not None else "KFP PipelineSpec", r.spec.schema_version,
             len(r.tasks), r.data, output)
    for prefix, folder in r.paths.table().items():
        log.info("  %s -> %s", prefix, folder)
    outputs, skipped, record = {}, set(), []
    for index, task in enumerate(r.tasks, 1):
        started = time.monotonic()
        inputs = {}
        for key, source in task.spec.inputs.artifacts.items():
            producer = source.task_output_artifact.producer_task
            if producer in outputs:
                inputs[key] = outputs[producer][source.task_output_artifact.output_artifact_key]
        why_not = skip_reason(task, inputs, skipped)
        if why_not:
            skipped.add(task.name)
            log.info("[%d/%d] %s skipped: %s", index, len(r.tasks), task.name, why_not)
            record.append({"task": task.name, "skipped": why_not})
            continue
        parameters = {n: (r.paths.rewrite(v), s) for n, (v, s) in constant_parameters(task.spec).items()}
        args = [r.paths.rewrite(a) for a in task.container.args]
        args, parameters, notes = local_equivalents(task.name, args, parameters, output)
        for note in notes:
            log.info("[%d/%d] %s: %s (local equivalent)", index, len(r.tasks), task.name, note)
        task_root = os.path.join(root, run_name, task.name)
        message = executor_input(task, parameters, inputs, task_root, run_name)
        argv = command_line(task, args, message, run_name, root)
        for artifacts in message.outputs.artifacts.values():  # a gs:// "folder" needs no mkdir; here it does
            os.makedirs(artifacts.artifacts[0].uri, exist_ok=True)
        log.info("[%d/%d] %s running", index, len(r.tasks), task.name)
        try:
            run_task(argv, task_root, os.path.join(logs, f"{task.name}.log"))
        except TaskFailed as e:
            recorder.record(task.name, inputs, {}, "FAILED")
            raise TaskFailed(f"task {task.name} failed, {e}") from None
        outputs[task.name] = read_output(message)
        recorder.record(task.name, inputs, outputs[task.name], "COMPLETE")
        seconds = time.monotonic() - started
        log.info("[%d/%d] %s done in %.1f s", index, len(r.tasks), task.name, seconds)
        record.append({"task": task.name, "seconds": round(seconds, 1), "local_equivalents": notes})
    summary = runner.finish(config, run_name)
    summary.rehearsal = {"spec": os.path.abspath(r.spec_path), "run": run_name, "tasks": record,
                         "paths": r.paths.table(), "task_logs": logs}
    return summary


def skip_reason(task, inputs, skipped):
    """Why KFP would skip the task (an upstream task skipped, or its condition false), or None."""
    upstream = sorted(set(task.upstream) & skipped)
    if upstream:
        return f"{', '.join(upstream)} skipped"
    condition = task.spec.trigger_policy.condition
    if not condition:
        return None
    as_dicts = {k: [{"uri": a.uri, "name": a.name, "metadata": json_format.MessageToDict(a.metadata)}]
                for k, a in inputs.items()}
    if condition_holds(condition, as_dicts, {n: v for n, (v, _) in constant_parameters(task.spec).items()}):
        return None
    return f"its condition is false: {condition}"


"""Reading the newest run of a pipeline from ML Metadata into the report's data: its
executions by node, their artifacts (through components/model_card/facts.py, the facts the
model card states too), the training curves from the Trainer's TensorBoard event files, the
versions the Pusher pushed, and the lineage. TensorFlow, TFX and TFMA are imported inside the
functions that need them.

What it refuses (ReportError, exit code 2, before reading any artifact): a metadata.sqlite that
is not a readable ML Metadata store, and a run folder that was copied or moved (ML Metadata
records absolute paths, so a copy's store still names the original's files). An artifact whose
folder is gone makes its parts "not available", with the folder named.
"""
import contextlib
import datetime
import json
import logging
import os
import pathlib
import sqlite3

from ...core import keys
from ...core.errors import ConfigError
from ...components.image_example_gen import data_checks
from ...components.model_card import card, facts
from ...models import backbones
from . import scan

CURVES = ("loss", "accuracy", "learning_rate")  # the Trainer's tf.summary scalars
MLMD_TABLES = ("MLMDEnv", "Context", "Execution", "Artifact", "Event")  # what a store has

log = logging.getLogger(__name__)


class ReportError(ConfigError):
    """A folder or run that cannot be reported on; the message names the path and the fix."""


def _time(ms=None):
    """An MLMD time (milliseconds since the epoch), or now, as readable UTC."""
    moment = (datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) if ms is not None
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _check_store(metadata_path):
    """Refuses a metadata.sqlite that SQLite cannot read or that holds no ML Metadata (a
    truncated copy, a full disk, another file under that name), naming it, before ML Metadata
    answers with a raw SQL error."""
    try:
        read_only = pathlib.Path(os.path.abspath(metadata_path)).as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(read_only, uri=True)) as db:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as e:
        problem = str(e)
    else:
        missing = [t for t in MLMD_TABLES if t not in tables]
        problem = ("; ".join(problems[:3]) if problems != ["ok"] else
                   f"no ML Metadata tables: {', '.join(missing)} missing" if missing else None)
    if problem:
        raise ReportError(f"{metadata_path} is not a readable ML Metadata store ({problem}): the "
                          "record of the runs in this folder is damaged, or the file is not the "
                          "metadata.sqlite that `bit-tfx run` wrote. Restore it from a backup, or "
                          "run the pipeline again into a fresh --output")


class _Run:
    """The newest run of a pipeline in an MLMD store (or the one `run_id` names): its
    executions by node id."""

    def __init__(self, store, pipeline_name, metadata_path, run_id=None):
        from ml_metadata.proto import metadata_store_pb2
        from .. import metadata
        self.store = store
        pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
        if pipeline is None:
            known = sorted(c.name for c in store.get_contexts_by_type("pipeline"))
            raise ReportError(f"{metadata_path} has no pipeline named {pipeline_name!r} (it has "
                              f"{known or 'none'}); pass --pipeline-name")
        run_type = store.get_context_type(metadata.PIPELINE_RUN_CONTEXT).id
        runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type_id == run_type
                and run_id in (None, c.name)]
        if not runs:
            raise ReportError(f"{metadata_path} records no run of pipeline {pipeline_name!r}"
                              + (f" named {run_id!r}" if run_id is not None else ""))
        self.context = max(runs, key=lambda c: c.id)
        in_run = {e.id for e in store.get_executions_by_context(self.context.id)}
        prefix = pipeline_name + "."
        self.executions = {}
        for node in store.get_contexts_by_type("node"):
            if node.name.startswith(prefix):
                mine = [e for e in store.get_executions_by_context(node.id) if e.id in in_run]
                if mine:
                    self.executions[node.name[len(prefix):]] = max(mine, key=lambda e: e.id)
        self._state_name = metadata_store_pb2.Execution.State.Name
        self._done = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)
        self._output_event = metadata_store_pb2.Event.OUTPUT
        self.gone = {}  # (node, key) -> why: the artifact is recorded, its folder is not there

    def output(self, node, key):
        """The node's output artifact under `key` in this run as a TFX Artifact, or None (also
        when its folder no longer exists: `gone` then says so, and a warning names it)."""
        import tensorflow as tf
        from .. import metadata
        from tfx.types import artifact_utils
        execution = self.executions.get(node)
        artifacts = metadata.output_artifacts(self.store, execution, key) if execution is not None else []
        if not artifacts:
            return None
        if not tf.io.gfile.exists(artifacts[0].uri):
            self.gone[(node, key)] = (f"{node}'s {key} output (artifact {artifacts[0].id}) is recorded "
                                      f"at {artifacts[0].uri}, which no longer exists (deleted or "
                                      "moved); run the pipeline again to produce it")
            log.warning("The report is incomplete: %s", self.gone[(node, key)])
            return None
        [artifact_type] = self.store.get_artifact_types_by_id([artifacts[0].type_id])
        return artifact_utils.deserialize_artifact(artifact_type, artifacts[0])

    def recorded_outputs(self):
        """[(pipeline root, "node/key/id")] of the artifacts this run wrote itself (TFX puts an
        output at <pipeline root>/<node>/<key>/<execution id>); for a run that took everything
        from the cache, those of the artifacts it reused."""
        executions = {e.id: (node, e) for node, e in self.executions.items()}
        events = [e for e in self.store.get_events_by_execution_ids(list(executions))
                  if e.type == self._output_event]
        uris = {a.id: a.uri for a in self.store.get_artifacts_by_id(list({e.artifact_id for e in events}))}
        own, reused = [], []
        for event in events:
            parts = uris[event.artifact_id].rstrip("/").rsplit("/", 3)
            if len(parts) < 4:
                continue
            node, execution = executions[event.execution_id]
            place = (parts[0], "/".join(parts[1:]))
            step_keys = [step.key for step in event.path.steps if step.HasField("key")]
            mine = parts[1:] == [node, step_keys[0] if step_keys else None, str(execution.id)]
            (own if mine else reused).append(place)
        return own or reused

    def why_missing(self, node, key):
        if (node, key) in self.gone:
            return self.gone[(node, key)]
        execution = self.executions.get(node)
        if execution is None:
            return (f"the newest run has no {node} execution (it stopped earlier, ran only part "
                    "of the pipeline such as `bit-tfx hyperrule`, or predates the component)")
        if execution.last_known_state not in self._done:
            return f"{node} (execution {execution.id}) ended {self._state_name(execution.last_known_state)}"
        return f"{node} (execution {execution.id}) recorded no such output"

    def lineage(self):
        executions = [{"node": node, "id": e.id, "state": self._state_name(e.last_known_state),
                       "started": _time(e.create_time_since_epoch),
                       "seconds": round((e.last_update_time_since_epoch
                                         - e.create_time_since_epoch) / 1000, 1)}
                      for node, e in sorted(self.executions.items(), key=lambda kv: kv[1].id)]
        return {"run_id": self.context.name, "started": _time(self.context.create_time_since_epoch),
                "executions": executions}

    def custom_property(self, node, name):
        execution = self.executions.get(node)
        if execution is None or name not in execution.custom_properties:
            return None
        return execution.custom_properties[name].string_value


def _same_folder(a, b):
    if a.rstrip("/") == b.rstrip("/"):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist here (moved, or a gs:// root)
        return False


def _check_place(run, pipeline_root, run_dir, metadata_path):
    """Refuses a run folder that was copied or moved. ML Metadata records absolute URIs, so
    the store of a copy still names the original's artifacts: the report would describe the
    original's files under the copy's name. The test: the run wrote its artifacts under a
    pipeline root other than `pipeline_root`, and `pipeline_root` holds those very artifacts
    (the paths end in execution ids). A run made with --pipeline-root elsewhere (gs://...)
    leaves no such copies in RUN_DIR, and is read where it recorded its artifacts."""
    for root, relative in run.recorded_outputs():
        if not _same_folder(root, pipeline_root) and os.path.exists(os.path.join(pipeline_root, relative)):
            origin = os.path.dirname(root) if os.path.basename(root) == "pipeline_root" else None
            instead = (f"Report on the original (`bit-tfx report {origin}`) or move this folder "
                       f"back to {origin}" if origin else "Report from the folder that run was made in")
            raise ReportError(
                f"{run_dir} was copied or moved: {metadata_path} records the newest run's "
                f"artifacts under {root} (ML Metadata stores absolute paths), not under "
                f"{pipeline_root}, which holds the same artifacts; a report would describe the "
                f"files under {root} as this folder's. {instead}; or run "
                f"the pipeline into this folder again (`bit-tfx run --output {run_dir} ...`), "
                "whose newest run is then its own")


def _pushed_versions(store, pipeline_name, run):
    """Every version the pipeline's Pusher pushed, newest first (PushedModel properties)."""
    from .. import metadata
    node = store.get_context_by_type_and_name("node", f"{pipeline_name}.{keys.NODE_PUSHER}")
    this_run = run.executions.get(keys.NODE_PUSHER)
    pushes = []
    for execution in store.get_executions_by_context(node.id) if node else []:
        for artifact in metadata.output_artifacts(store, execution, keys.PUSHED_MODEL_KEY):
            props = artifact.custom_properties
            if props["pushed"].int_value:
                pushes.append({"version": props["pushed_version"].string_value,
                               "destination": props["pushed_destination"].string_value,
                               "execution": execution.id, "time": _time(execution.create_time_since_epoch),
                               "this_run": this_run is not None and this_run.id == execution.id})
    return sorted(pushes, key=lambda p: -p["execution"])


def _training_curves(model_run_uri):
    """loss, accuracy and learning_rate over steps from the Trainer's TensorBoard event
    files (a resumed Trainer adds a file; a later value for a step wins)."""
    import tensorflow as tf
    curves = {tag: {} for tag in CURVES}
    for path in sorted(tf.io.gfile.glob(os.path.join(model_run_uri, "train", "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag in curves:
                    curves[value.tag][event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: [[step, v] for step, v in sorted(points.items())] for tag, points in curves.items()}


def _data_checks(examples):
    """The ingestion's checks (data_checks.summary) and its first duplicate groups, or None."""
    if examples is None:
        return None
    path = examples.get_string_custom_property(data_checks.REPORT_PROPERTY)
    quarantine = data_checks.read(path)
    if quarantine is None:
        return None
    duplicates = quarantine.get("duplicates") or {}
    return dict(data_checks.summary(quarantine, path),
                across_splits=(duplicates.get("across_splits") or [])[:10],
                within_split=(duplicates.get("within_split") or [])[:10],
                near=(duplicates.get("near_duplicates") or [])[:10],
                eval_policy=duplicates.get("policy"))


def collect(metadata_path, pipeline_name, max_examples, run_dir=None, pipeline_root=None, run_id=None):
    """Everything the report shows about the newest run, as a plain (JSON-ready) dict.
    A part the run did not produce is None, and notes[part] says why. `max_examples` eval
    examples go through the model for the confused-examples scan (0 skips it). With
    `pipeline_root` (where RUN_DIR's artifacts should be), a copied or moved run folder is
    refused."""
    from .. import metadata
    from tfx.utils import path_utils
    if not metadata.is_mysql(metadata_path):  # a MySQL URL (--metadata) is checked by connecting
        _check_store(metadata_path)
    shown = metadata.shown(metadata_path)
    try:
        store = metadata.open_store(metadata_path)
    except RuntimeError as e:  # what ML Metadata raises for a store it cannot use
        raise ReportError(f"{shown} cannot be opened as an ML Metadata store: {e}") from None
    run = _Run(store, pipeline_name, shown, run_id)
    run_dir = os.path.abspath(run_dir) if run_dir else os.path.dirname(os.path.abspath(metadata_path))
    if pipeline_root:
        _check_place(run, pipeline_root, run_dir, shown)
    gen = next((n for n in keys.EXAMPLE_GEN_NODES if n in run.executions), keys.NODE_IMAGE_EXAMPLE_GEN)
    decision = metadata.decision_node(run.executions) or keys.NODE_HYPERRULE
    wanted = {"examples": (gen, keys.EXAMPLES_KEY),
              "statistics": (keys.NODE_STATISTICS, keys.STATISTICS_KEY),
              "hyperparameters": (decision, keys.HYPERPARAMETERS_KEY),
              "model": (keys.NODE_TRAINER, keys.MODEL_KEY),
              "model_run": (keys.NODE_TRAINER, keys.MODEL_RUN_KEY),
              "evaluation": (keys.NODE_EVALUATOR, keys.EVALUATION_KEY),
              "blessing": (keys.NODE_EVALUATOR, keys.BLESSING_KEY),
              "card_model": (keys.NODE_MODEL_CARD, keys.MODEL_KEY)}
    found = {name: run.output(*where) for name, where in wanted.items()}
    trainer_config = run.custom_property(keys.NODE_TRAINER, keys.CUSTOM_CONFIG_KEY)
    trainer_config = json.loads(trainer_config) if trainer_config else None
    data = facts.model_facts(**{name: found[name] for name in
                                ("examples", "statistics", "hyperparameters", "model", "evaluation", "blessing")},
                             input_base=run.custom_property(gen, keys.INPUT_BASE_KEY),
                             training=trainer_config)
    model, examples, model_run, card_model = (found[n] for n in ("model", "examples", "model_run", "card_model"))
    data.update({
        "pipeline_name": pipeline_name,
        "run_dir": run_dir,
        "generated": _time(),
        "training": _training_curves(model_run.uri) if model_run is not None else None,
        "transfer": backbones.transfer_of(trainer_config["model_spec"]) if trainer_config else None,
        "confused": scan.most_confused(examples.uri, model.uri, data["model"]["classes"], max_examples)
        if model is not None and examples is not None and max_examples > 0 else None,
        "data_checks": _data_checks(examples),
        "model_card": os.path.join(path_utils.serving_model_dir(card_model.uri), card.CARD_DIR,
                                   card.CARD_MARKDOWN) if card_model is not None else None,
        "lineage": dict(run.lineage(), trainer_config=trainer_config,
                        hyperparameters=found["hyperparameters"].uri
                        if found["hyperparameters"] is not None else None,
                        pushed=_pushed_versions(store, pipeline_name, run),
                        pusher_ran=keys.NODE_PUSHER in run.executions),
    })
    # What each part is made from; a missing part is explained by the first of these missing.
    needs = {"data": ("statistics",), "decision": ("hyperparameters",), "model": ("model",),
             "training": ("model_run",), "metrics": ("evaluation", "model"),
             "verdict": ("evaluation", "blessing", "model"), "confused": ("model", "examples"),
             "model_card": ("card_model",)}

    def why(part):
        missing = next((name for name in needs[part] if found[name] is None), None)
        return run.why_missing(*wanted[missing]) if missing else "--max-examples 0: the scan was skipped"

    data["notes"] = {part: why(part) for part in needs if data[part] is None}
    return data

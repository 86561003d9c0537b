"""Reading the newest run of a pipeline from ML Metadata into the report's data: its
executions by node, their artifacts (through components/model_card/facts.py, the facts the
model card states too), the training curves from the Trainer's TensorBoard event files, the
versions the Pusher pushed, and the lineage. TensorFlow, TFX and TFMA are imported inside the
functions that need them.
"""
import datetime
import json
import os

from bit_tfx.components import keys
from bit_tfx.components.errors import ConfigError
from bit_tfx.components.model_card import card, facts
from bit_tfx.pipeline.report import scan

CURVES = ("loss", "accuracy", "learning_rate")  # the Trainer's tf.summary scalars


class ReportError(ConfigError):
    """A folder or run that cannot be reported on; the message names the path and the fix."""


def _time(ms=None):
    """An MLMD time (milliseconds since the epoch), or now, as readable UTC."""
    moment = (datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) if ms is not None
              else datetime.datetime.now(datetime.timezone.utc))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Run:
    """The newest run of a pipeline in an MLMD store: its executions by node id."""

    def __init__(self, store, pipeline_name, metadata_path):
        from ml_metadata.proto import metadata_store_pb2
        self.store = store
        pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
        if pipeline is None:
            known = sorted(c.name for c in store.get_contexts_by_type("pipeline"))
            raise ReportError(f"{metadata_path} has no pipeline named {pipeline_name!r} (it has "
                              f"{known or 'none'}); pass --pipeline-name")
        run_type = store.get_context_type("pipeline_run").id
        runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type_id == run_type]
        if not runs:
            raise ReportError(f"{metadata_path} records no run of pipeline {pipeline_name!r}")
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

    def output(self, node, key):
        """The node's output artifact under `key` in this run as a TFX Artifact, or None."""
        from bit_tfx.pipeline import metadata
        from tfx.types import artifact_utils
        execution = self.executions.get(node)
        artifacts = metadata.output_artifacts(self.store, execution, key) if execution is not None else []
        if not artifacts:
            return None
        [artifact_type] = self.store.get_artifact_types_by_id([artifacts[0].type_id])
        return artifact_utils.deserialize_artifact(artifact_type, artifacts[0])

    def why_missing(self, node):
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


def _pushed_versions(store, pipeline_name, run):
    """Every version the pipeline's Pusher pushed, newest first (PushedModel properties)."""
    from bit_tfx.pipeline import metadata
    node = store.get_context_by_type_and_name("node", f"{pipeline_name}.{keys.NODE_PUSHER}")
    this_run = run.executions.get(keys.NODE_PUSHER)
    pushes = []
    for execution in store.get_executions_by_context(node.id) if node else []:
        for artifact in metadata.output_artifacts(store, execution, "pushed_model"):
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


def collect(metadata_path, pipeline_name, max_examples, run_dir=None):
    """Everything the report shows about the newest run, as a plain (JSON-ready) dict.
    A part the run did not produce is None, and notes[part] says why. `max_examples` eval
    examples go through the model for the confused-examples scan (0 skips it)."""
    from bit_tfx.pipeline import metadata
    from tfx.utils import path_utils
    store = metadata.open_store(metadata_path)
    run = _Run(store, pipeline_name, metadata_path)
    gen = next((n for n in (keys.NODE_IMAGE_EXAMPLE_GEN, keys.NODE_IMPORT_EXAMPLE_GEN)
                if n in run.executions), keys.NODE_IMAGE_EXAMPLE_GEN)
    artifacts = {"examples": run.output(gen, "examples"),
                 "statistics": run.output(keys.NODE_STATISTICS, "statistics"),
                 "hyperparameters": run.output(keys.NODE_HYPERRULE, "hyperparameters"),
                 "model": run.output(keys.NODE_TRAINER, "model"),
                 "evaluation": run.output(keys.NODE_EVALUATOR, "evaluation"),
                 "blessing": run.output(keys.NODE_EVALUATOR, "blessing")}
    trainer_config = run.custom_property(keys.NODE_TRAINER, "custom_config")
    trainer_config = json.loads(trainer_config) if trainer_config else None
    data = facts.model_facts(**artifacts, input_base=run.custom_property(gen, "input_base"),
                             model_spec=trainer_config["model_spec"] if trainer_config else None)
    model_run = run.output(keys.NODE_TRAINER, "model_run")
    model, examples = artifacts["model"], artifacts["examples"]
    card_model = run.output(keys.NODE_MODEL_CARD, "model")
    data.update({
        "pipeline_name": pipeline_name,
        "run_dir": os.path.abspath(run_dir) if run_dir else os.path.dirname(os.path.abspath(metadata_path)),
        "generated": _time(),
        "training": _training_curves(model_run.uri) if model_run is not None else None,
        "confused": scan.most_confused(examples.uri, model.uri, data["model"]["classes"], max_examples)
        if model is not None and examples is not None and max_examples > 0 else None,
        "model_card": os.path.join(path_utils.serving_model_dir(card_model.uri), card.CARD_DIR,
                                   card.CARD_MARKDOWN) if card_model is not None else None,
        "lineage": dict(run.lineage(), trainer_config=trainer_config,
                        hyperparameters=artifacts["hyperparameters"].uri
                        if artifacts["hyperparameters"] is not None else None,
                        pushed=_pushed_versions(store, pipeline_name, run),
                        pusher_ran=keys.NODE_PUSHER in run.executions),
    })
    why = {"data": run.why_missing(keys.NODE_STATISTICS), "decision": run.why_missing(keys.NODE_HYPERRULE),
           "model": run.why_missing(keys.NODE_TRAINER), "training": run.why_missing(keys.NODE_TRAINER),
           "metrics": run.why_missing(keys.NODE_EVALUATOR), "verdict": run.why_missing(keys.NODE_EVALUATOR),
           "confused": "--max-examples 0: the scan was skipped" if max_examples <= 0 and model is not None
           else run.why_missing(keys.NODE_TRAINER),
           "model_card": run.why_missing(keys.NODE_MODEL_CARD)}
    data["notes"] = {part: reason for part, reason in why.items() if data[part] is None}
    return data

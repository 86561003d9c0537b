"""What a finished run did, in plain words: blessing, why not, metrics, where the model went;
or, when its data was what the serving model was trained on, that nothing was trained.
RunSummary is that answer, typed; its JSON form (what `bit-tfx run` prints) is written in one
place, RunSummary.to_json."""
import dataclasses
import json
import os
from typing import List, Optional

from ..core import keys
from ..core.version import version as running_version
from ..components.evaluation import gate
from ..components.image_example_gen import data_checks
from . import metadata

VERDICT_TRAINED = "trained"          # the run trained and gated (blessed or not)
VERDICT_NOTHING_NEW = "nothing_new"  # the serving model's own data: nothing trained
NOTHING_NEW_NEXT = ("nothing was trained, evaluated or pushed; new data (a new span, or changed "
                    "files) trains; --force trains on this data anyway")

# Where a RunSummary field appears in the JSON: only for one verdict, only when it is set, or
# inside an object of its own ("thresholds").
_ONLY = "only"
_WHEN_SET = "when_set"
_IN = "in"


def _only(verdict):
    return dataclasses.field(default=None, metadata={_ONLY: verdict})


def _when_set():
    return dataclasses.field(default=None, metadata={_WHEN_SET: True})


def _threshold():
    return dataclasses.field(metadata={_IN: "thresholds"})


@dataclasses.dataclass
class RunSummary:
    """What one run did (summarize); `bit-tfx run`, `pretrain`, `demo` and `rehearse` print its
    to_json. A run that trained: blessed or not, metrics, where it was pushed; a run whose data
    the serving model was trained on (VERDICT_NOTHING_NEW): which version serves, and why."""
    verdict: str
    blessed: Optional[bool]                  # None: nothing was evaluated
    min_accuracy: float = _threshold()       # the gate's thresholds
    max_accuracy_drop: float = _threshold()
    pushed_to: Optional[str] = None          # the pushed version's folder
    metrics: dict = dataclasses.field(default_factory=dict)
    bit_tfx_version: str = dataclasses.field(default_factory=running_version)
    data_checks: Optional[dict] = None       # the ingestion's counts (data_checks.summary)
    report: Optional[str] = None             # the report's HTML (runner.finish writes it)
    # --- a run that trained ---
    model: Optional[str] = _only(VERDICT_TRAINED)            # the Trainer's serving SavedModel
    hyperparameters: Optional[str] = _only(VERDICT_TRAINED)  # the decision's JSON file
    version: Optional[int] = _when_set()             # the pushed version's number
    not_blessed_because: Optional[List[str]] = _when_set()  # the gate's failures
    # --- a run that trained nothing ---
    serving_version: object = _only(VERDICT_NOTHING_NEW)     # int, or the folder's name
    served_from: Optional[str] = _only(VERDICT_NOTHING_NEW)
    same_data_because: Optional[str] = _only(VERDICT_NOTHING_NEW)
    trained_on: Optional[dict] = _only(VERDICT_NOTHING_NEW)  # the serving model's training-data record
    next: Optional[str] = _only(VERDICT_NOTHING_NEW)
    # --- bit-tfx rehearse adds its own record (kubeflow/rehearse.py) ---
    rehearsal: Optional[dict] = _when_set()

    @property
    def trained_nothing(self):
        return self.verdict == VERDICT_NOTHING_NEW

    def to_json(self):
        """The JSON object `bit-tfx run` prints (sorted keys when printed)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get(_ONLY, self.verdict) != self.verdict:
                continue
            if f.metadata.get(_WHEN_SET) and value is None:
                continue
            if _IN in f.metadata:
                out.setdefault(f.metadata[_IN], {})[f.name] = value
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data):
        """The RunSummary of to_json's object (e.g. `bit-tfx run`'s stdout, parsed)."""
        nested = {f.metadata[_IN] for f in dataclasses.fields(cls) if _IN in f.metadata}
        values = {k: v for k, v in data.items() if k not in nested}
        for key in nested:
            values.update(data[key])
        return cls(**values)


def _artifact(store, config, node, key, run_id=None):
    return metadata.latest_output(store, config.pipeline_name, node, key, run_id)[1]


def decision_artifact(store, pipeline_name, run_id=None):
    """The HyperParameters artifact of the newest run: the HyperRule's, or the UpstreamRecipe's
    for a pre-training pipeline; None when neither has run."""
    return decision_output(store, pipeline_name, run_id)[1]


def decision_output(store, pipeline_name, run_id=None):
    """(execution, artifact) of whichever decision node ran newest (metadata.decision_node);
    with `run_id`, in that run."""
    newest = {n: metadata.latest_execution(store, pipeline_name, n, run_id) for n in keys.DECISION_NODES}
    node = metadata.decision_node(newest)
    if node is None:
        return None, None
    return newest[node], metadata.first_output(store, newest[node], keys.HYPERPARAMETERS_KEY)


def training_decision(store, pipeline_name, run_id=None):
    """(this run trains?, ServingBaseline's model output) of the newest run: ServingBaseline
    runs (or is reused from the cache) in every run, and its `train` says whether the training
    branch ran (pipeline.training_predicate)."""
    _, artifact = metadata.latest_output(store, pipeline_name, keys.NODE_SERVING_BASELINE, keys.MODEL_KEY,
                                         run_id)
    if artifact is None or keys.TRAIN_PROPERTY not in artifact.custom_properties:
        return True, artifact
    return bool(artifact.custom_properties[keys.TRAIN_PROPERTY].int_value), artifact


def data_checks_of_run(store, config, run_id=None):
    """The data checks (image_example_gen/data_checks.summary) of the run's ImageExampleGen
    Examples, or None (TFRecord input, or no ingestion recorded)."""
    examples = _artifact(store, config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY, run_id)
    prop = examples.custom_properties.get(data_checks.REPORT_PROPERTY) if examples is not None else None
    return data_checks.of_artifact_property(prop.string_value) if prop is not None else None


def nothing_new(config, artifact, checks):
    """The RunSummary of a run that trained nothing: which version serves, and why its data
    counts as this run's; `checks`: its ingestion's data checks."""
    served_from = artifact.custom_properties[keys.SERVED_FROM_PROPERTY].string_value
    record = artifact.custom_properties.get(keys.SERVED_TRAINING_DATA_PROPERTY)
    version = os.path.basename(served_from.rstrip("/"))
    return RunSummary(
        verdict=VERDICT_NOTHING_NEW, blessed=None, **_thresholds(config),
        serving_version=int(version) if version.isdigit() else version,
        served_from=served_from,
        same_data_because=artifact.custom_properties[keys.NOTHING_NEW_BECAUSE_PROPERTY].string_value,
        trained_on=json.loads(record.string_value) if record is not None else None,
        next=NOTHING_NEW_NEXT, data_checks=checks)


def _thresholds(config):
    return dict(min_accuracy=config.min_accuracy, max_accuracy_drop=config.max_accuracy_drop)


def summarize(config, run_id=None):
    """What the newest run did (a RunSummary); with `run_id` (runner.run_local's), what that run did."""
    store = metadata.open_store(config.metadata_uri)
    checks = data_checks_of_run(store, config, run_id)
    trains, baseline = training_decision(store, config.pipeline_name, run_id)
    if not trains:
        return nothing_new(config, baseline, checks)
    evaluation = _artifact(store, config, keys.NODE_EVALUATOR, keys.EVALUATION_KEY, run_id)
    blessing = _artifact(store, config, keys.NODE_EVALUATOR, keys.BLESSING_KEY, run_id)
    pushed = _artifact(store, config, keys.NODE_PUSHER, keys.PUSHED_MODEL_KEY, run_id)
    model = _artifact(store, config, keys.NODE_TRAINER, keys.MODEL_KEY, run_id)
    hyperparameters = decision_artifact(store, config.pipeline_name, run_id)
    blessed = bool(blessing and blessing.custom_properties["blessed"].int_value)
    was_pushed = pushed is not None and pushed.custom_properties["pushed"].int_value
    return RunSummary(
        verdict=VERDICT_TRAINED, blessed=blessed, **_thresholds(config),
        model=os.path.join(model.uri, "Format-Serving") if model else None,
        hyperparameters=os.path.join(hyperparameters.uri, keys.HYPERPARAMETERS_FILE)
        if hyperparameters else None,
        metrics=gate.overall_metrics(evaluation.uri) if evaluation else {},
        pushed_to=pushed.custom_properties["pushed_destination"].string_value if was_pushed else None,
        version=int(pushed.custom_properties["pushed_version"].string_value) if was_pushed else None,
        not_blessed_because=gate.failures(evaluation.uri)
        if not blessed and evaluation is not None else None,
        data_checks=checks)

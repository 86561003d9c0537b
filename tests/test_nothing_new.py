"""No new data, no training, and saying so (the training branch under tfx.dsl.Cond).

Fast: the comparison of a run's data with the serving version's record
(components/serving/training_data.py), and ServingBaseline's executor on a served folder.
Pipeline: `bit-tfx run` again on the shared `pushed_run` (a copy of its output folder, same
data): it stops with the nothing-new verdict and exit code 4 and no new Trainer execution, also
when fully cached; changed data is new. `--force` training again and gating against the
version serving is tests/test_report.py's `rerun` (a forced run on a copy of `pushed_run`).
"""
import json
import os
import shutil
import time

import pytest

import runs
from bit_tfx.cli import common
from bit_tfx.core import keys
from bit_tfx.components.serving import training_data
from bit_tfx.pipeline import metadata

FINGERPRINT = "split:single_split,num_files:60,total_bytes:9000,xor_checksum:1,sum_checksum:2"


def _record(span=0, version=None, fingerprint=FINGERPRINT):
    return {keys.SPAN_PROPERTY: span, keys.VERSION_PROPERTY: version,
            keys.INPUT_FINGERPRINT_PROPERTY: fingerprint, keys.INPUT_BASE_KEY: "/data", "examples": "/x"}


def test_property_names_are_tfx_s_example_gen_s():
    from tfx.components.example_gen import utils
    assert (keys.SPAN_PROPERTY, keys.VERSION_PROPERTY, keys.INPUT_FINGERPRINT_PROPERTY) == (
        utils.SPAN_PROPERTY_NAME, utils.VERSION_PROPERTY_NAME, utils.FINGERPRINT_PROPERTY_NAME)


def test_same_span_version_and_fingerprint_is_the_same_data():
    same, why = training_data.compare(_record(), _record(), "1700000000")
    assert same and "1700000000" in why and FINGERPRINT in why
    # The input folder alone does not make data new (a moved folder, files unchanged).
    assert training_data.compare(_record(), dict(_record(), input_base="/moved"), "1")[0]


@pytest.mark.parametrize("served, named", [
    (_record(span=2), "span"),
    (_record(fingerprint=FINGERPRINT.replace("num_files:60", "num_files:61")), "input_fingerprint"),
    (_record(version=3), "version"),
])
def test_another_span_version_or_fingerprint_is_new(served, named):
    same, why = training_data.compare(_record(), served, "1")
    assert not same and why.endswith(named)


def test_without_a_record_or_a_fingerprint_nothing_is_the_same():
    same, why = training_data.compare(_record(), None, "17")
    assert not same and f"{keys.ASSETS_EXTRA_DIR}/{keys.TRAINING_DATA_FILE}" in why and "17" in why
    assert not training_data.compare(_record(fingerprint=None), _record(fingerprint=None), "1")[0]


def _examples(span=0, fingerprint=FINGERPRINT):
    from tfx.types import standard_artifacts
    examples = standard_artifacts.Examples()
    examples.uri = "/pipeline_root/ImageExampleGen/examples/1"
    examples.set_int_custom_property(keys.SPAN_PROPERTY, span)
    examples.set_string_custom_property(keys.INPUT_FINGERPRINT_PROPERTY, fingerprint)
    return examples


def _baseline(tmp_path, examples, record, force=0):
    """ServingBaseline's executor over a serving folder holding one version with `record`."""
    from tfx.types import standard_artifacts
    from bit_tfx.components.serving import executor
    tmp_path = tmp_path / str(len(os.listdir(tmp_path)))
    version = tmp_path / "serving" / "1700000000"
    (version / keys.ASSETS_EXTRA_DIR).mkdir(parents=True, exist_ok=True)
    (version / keys.SAVED_MODEL_PB).write_bytes(b"not read here")
    if record is not None:
        (version / keys.ASSETS_EXTRA_DIR / keys.TRAINING_DATA_FILE).write_text(json.dumps(record))
    model, schema = standard_artifacts.Model(), standard_artifacts.Schema()
    model.uri, schema.uri = str(tmp_path / "model"), str(tmp_path / "schema")
    executor.Executor().Do({keys.EXAMPLES_KEY: [examples]},
                           {keys.MODEL_KEY: [model], keys.SCHEMA_KEY: [schema]},
                           {executor.SERVING_DIRECTORY_KEY: str(tmp_path / "serving"),
                            executor.FORCE_KEY: force, executor.INPUT_BASE_KEY: "/data"})
    return model


def test_serving_baseline_says_whether_this_run_trains(tmp_path):
    from bit_tfx.components.serving import executor
    same = _baseline(tmp_path, _examples(), _record())
    assert not executor.is_training(same)
    assert "1700000000" in same.get_string_custom_property(keys.NOTHING_NEW_BECAUSE_PROPERTY)
    assert json.loads(same.get_string_custom_property(keys.SERVED_TRAINING_DATA_PROPERTY)) == _record()
    forced = _baseline(tmp_path, _examples(), _record(), force=1)
    assert executor.is_training(forced)
    assert forced.get_string_custom_property(keys.TRAIN_BECAUSE_PROPERTY).startswith("forced (--force)")
    new_span = _baseline(tmp_path, _examples(span=1), _record())
    assert executor.is_training(new_span) and "span" in new_span.get_string_custom_property(
        keys.TRAIN_BECAUSE_PROPERTY)
    unrecorded = _baseline(tmp_path, _examples(), None)
    assert executor.is_training(unrecorded)


def test_on_kubeflow_the_examples_properties_arrive_as_json_numbers():
    """Kubeflow / Vertex hand input artifacts over with their properties as metadata: TFX turns
    them into struct custom properties, numbers as floats. The record is the same."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entry
    from tfx.types import standard_artifacts
    local = _examples(span=3)
    runtime = entry.to_runtime_artifact(local, {})
    runtime.type.schema_title = "tfx.Examples"
    remote = entry._parse_raw_artifact(runtime, {})  # pylint: disable=protected-access
    assert isinstance(remote, standard_artifacts.Examples)
    assert training_data.record_of(remote, "/data") == training_data.record_of(local, "/data")


def test_progress_says_a_step_of_the_skipped_branch_was_skipped(caplog):
    """LocalDagRunner logs a step whose conditional is false as running and finished, with
    TFX's "Skipping execution" between: one progress line says `skipped`."""
    import logging
    from bit_tfx.pipeline import runner
    tfx_log = logging.getLogger("absl")
    with caplog.at_level(logging.INFO), runner.step_progress(2):
        for message in ("Component ServingBaseline is running.", "A cached execution 7 is used.",
                        "Component ServingBaseline is finished.", "Component Trainer is running.",
                        "Skipping execution for Trainer", "Component Trainer is finished."):
            tfx_log.info(message)
    assert "[1/2] ServingBaseline reused from cache" in caplog.text
    assert "[2/2] Trainer skipped" in caplog.text


# --- real runs ---------------------------------------------------------------------------------

def _cli(pushed_run, output, capsys, *extra, data=None):
    """`bit-tfx run` with the finished run's settings into `output`: (exit code, JSON, seconds)."""
    config, _, fixture_data = pushed_run
    started = time.monotonic()
    code, out, err = runs.cli_in_process(
        ["run", "--data", str(data or fixture_data), "--output", str(output), "--model", config.model_spec,
         "--batch-size", str(config.batch_size), "--batch-policy", config.batch_policy,
         "--schedule-override", json.dumps(config.schedule_override),
         "--min-accuracy", str(config.min_accuracy), "--checkpoint-every", str(config.checkpoint_every),
         *extra], capsys)
    assert out.strip(), err[-3000:]
    return code, json.loads(out), time.monotonic() - started, err


def _executions(config, node):
    store = metadata.open_store(config.metadata_path)
    context = store.get_context_by_type_and_name("node", f"{config.pipeline_name}.{node}")
    return store.get_executions_by_context(context.id) if context else []


@pytest.fixture(scope="module")
def copied_run(pushed_run, tmp_path_factory):
    """A copy of the finished run's output folder (its serving folder holds the pushed version,
    trained on the fixture's data): (its RunConfig, the version serving)."""
    import dataclasses
    config, summary, _ = pushed_run
    output = tmp_path_factory.mktemp("nothing_new") / "out"
    shutil.copytree(config.output, output)
    return dataclasses.replace(config, output=str(output)), summary.version


@pytest.mark.pipeline
def test_the_same_data_again_trains_nothing_and_exits_4(pushed_run, copied_run, capsys):
    config, version = copied_run
    trainers = len(_executions(config, keys.NODE_TRAINER))
    code, answer, seconds, err = _cli(pushed_run, config.output, capsys)
    assert code == common.EXIT_NOTHING_NEW == 4, answer
    # (the per-step "skipped" lines are test_progress_says_...: in this process TFX's own INFO
    # records may not reach the progress handler, as they do in a fresh `bit-tfx` process)
    assert "Nothing new, nothing trained: this run's data is what the serving version" in err
    assert answer["verdict"] == "nothing_new" and answer["serving_version"] == version
    assert answer["pushed_to"] is None and answer["blessed"] is None
    assert answer["bit_tfx_version"] == pushed_run[1].bit_tfx_version  # both JSON forms state it
    assert "input fingerprint" in answer["same_data_because"] and str(version) in answer["same_data_because"]
    assert answer["trained_on"][keys.INPUT_FINGERPRINT_PROPERTY]
    assert len(_executions(config, keys.NODE_TRAINER)) == trainers  # no Trainer execution at all
    assert os.listdir(os.path.join(config.output, "serving")) == [str(version)]
    # Again: now every step is a cache hit, ServingBaseline's `train` 0 included.
    code, again, cached_seconds, _ = _cli(pushed_run, config.output, capsys)
    assert code == 4 and again["verdict"] == "nothing_new"
    assert len(_executions(config, keys.NODE_TRAINER)) == trainers
    print(f"nothing-new run: {seconds:.1f} s (ServingBaseline ran), {cached_seconds:.1f} s (fully cached)")


@pytest.mark.pipeline
def test_changed_data_is_new(pushed_run, copied_run, tmp_path, capsys):
    """One image relabelled, moved from red/ to blue/ with its bytes, size and modification
    time (issue 29: the count, bytes and mtimes TFX fingerprinted could not tell): ServingBaseline
    says this run trains, naming the fingerprint (`bit-tfx hyperrule` runs the DAG through
    ServingBaseline, no training). tests/test_fingerprint.py has every other kind of change."""
    config, _ = copied_run
    data = tmp_path / "images"
    shutil.copytree(pushed_run[2], data)  # the fixture's data stays as it is (copy2: same mtimes)
    moved = sorted((data / "red").iterdir())[0]
    os.rename(moved, data / "blue" / moved.name)
    code, _, err = runs.cli_in_process(["hyperrule", "--data", str(data), "--output", str(config.output)],
                                       capsys)
    assert code == 0, err[-2000:]
    store = metadata.open_store(config.metadata_path)
    _, model = metadata.latest_output(store, config.pipeline_name, keys.NODE_SERVING_BASELINE, keys.MODEL_KEY)
    assert model.custom_properties[keys.TRAIN_PROPERTY].int_value == 1
    assert "input_fingerprint" in model.custom_properties[keys.TRAIN_BECAUSE_PROPERTY].string_value

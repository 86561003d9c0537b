"""Real pipeline runs (LocalDagRunner, Beam DirectRunner, SQLite MLMD) on tiny image sets."""
import collections
import csv
import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import images
import runs
from bit_tfx.core import keys
from bit_tfx.components.image_example_gen import executor
from bit_tfx.pipeline import metadata, results

pytestmark = pytest.mark.pipeline
LABELS = ["cat", "dog", "oiseau bleu"]


def _mixed_folder(root, per_class=40):
    images.class_folders(root, LABELS, per_class)
    for name, data in images.unusual_images().items():
        images.write(os.path.join(root, "cat", name), data)
    for name, (data, _) in images.bad_files().items():
        images.write(os.path.join(root, "dog", name), data)
    images.write(os.path.join(root, "dog", ".DS_Store"), b"\0\0junk")
    # What publishers' archives and people's folders hold besides the images: skipped, listed.
    images.write(os.path.join(root, "LICENSE.txt"), b"CC-BY 2.0\n")
    images.write(os.path.join(root, "cat", "Thumbs.db"), b"\0\0junk")
    images.write(os.path.join(root, "cat", "more", "img_extra.jpg"), images.rgb_jpeg(seed=99))
    os.mkfifo(os.path.join(root, "dog", "pipe.jpg"))  # reading it would block for ever
    return root


MIXED_SKIPPED = [
    {"file": "LICENSE.txt", "label": None, "reason": "not_in_class_folder", "detail": None},
    {"file": "cat/Thumbs.db", "label": "cat", "reason": "hidden_file", "detail": None},
    {"file": "cat/more", "label": "cat", "reason": "nested_folder",
     "detail": "not read: images must sit directly in <label>/: move them up into the class "
               "folder, or list them in a CSV manifest (path,label)"},
    {"file": "dog/.DS_Store", "label": "dog", "reason": "hidden_file", "detail": None},
    {"file": "dog/pipe.jpg", "label": "dog", "reason": "not_regular_file", "detail": None},
]


def test_mixed_folder_quarantines_every_bad_file_and_keeps_the_rest(tmp_path, caplog):
    data = _mixed_folder(str(tmp_path / "data"))
    config = runs.run(data, tmp_path / "out", max_bad_fraction=0.05)
    _, artifact = runs.latest(config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)

    report = runs.quarantine_report(artifact.uri)
    expected_bad = {f"dog/{name}": reason for name, (_, reason) in images.bad_files().items()}
    assert {b["file"]: b["reason"] for b in report["bad_files"]} == expected_bad
    assert report["skipped"] == MIXED_SKIPPED  # skipped, not bad: the 5% limit holds 5 bad files
    assert report["skipped_by_reason"] == {"not_in_class_folder": 1, "hidden_file": 2,
                                           "nested_folder": 1, "not_regular_file": 1}
    assert "5 skipped (hidden_file: 2, nested_folder: 1, not_in_class_folder: 1, " \
           "not_regular_file: 1)" in caplog.text
    assert "not read: 'cat/more'" in caplog.text and "CSV manifest" in caplog.text
    n_valid = 3 * 40 + len(images.unusual_images())
    assert (report["valid"], report["bad"], report["total_files"]) == (n_valid, 5, n_valid + 5)

    train, eval_ = runs.examples(artifact.uri, "train"), runs.examples(artifact.uri, "eval")
    assert len(train) + len(eval_) == n_valid
    assert len(train) == sum(report["valid_per_split_and_class"]["train"].values())
    assert 0.75 < len(train) / n_valid < 0.98  # 9:1 hash split
    names = {e[keys.FILENAME].decode() for e in train + eval_}
    assert {f"cat/{n}" for n in images.unusual_images()} <= names
    assert not names & set(expected_bad)
    for e in train + eval_:
        with open(os.path.join(data, e[keys.FILENAME].decode()), "rb") as f:
            assert e[keys.IMAGE_ENCODED] == f.read()  # original bytes, untouched
        pixels = tf.io.decode_image(e[keys.IMAGE_ENCODED], channels=3, expand_animations=False)
        assert pixels.shape == (e[keys.IMAGE_HEIGHT], e[keys.IMAGE_WIDTH], 3)
        assert e[keys.LABEL_TEXT].decode() == e[keys.FILENAME].decode().split("/")[0]
    assert artifact.custom_properties["quarantined_files"].int_value == 5

    # The same folder again: every component is a cache hit.
    runs.run(data, tmp_path / "out", max_bad_fraction=0.05)
    store = metadata.open_store(config.metadata_path)
    for node in (keys.NODE_IMAGE_EXAMPLE_GEN, keys.NODE_STATISTICS, keys.NODE_SCHEMA, keys.NODE_HYPERRULE):
        assert metadata.was_cached(metadata.latest_execution(store, config.pipeline_name, node)), node


def test_too_many_bad_files_fails_naming_the_report(tmp_path, caplog):
    data = _mixed_folder(str(tmp_path / "data"), per_class=10)
    with pytest.raises(Exception) as failure:
        runs.run(data, tmp_path / "out")  # default limit: 1%
    message = str(failure.value)
    assert "over the limit of 1.0%" in message and keys.QUARANTINE_REPORT in message
    assert "raise --max-bad-fraction" in message  # the flag a user types
    report_path = next(w for w in message.split() if w.endswith(keys.QUARANTINE_REPORT + "."))[:-1]
    with open(report_path) as f:
        assert len(json.load(f)["bad_files"]) == 5
    # The ingestion's own line names the report that is kept, not the deleted artifact's.
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Ingested ")]
    assert line.endswith(f"report: {report_path}"), line


def test_csv_manifest_with_splits_relative_absolute_and_missing_paths(tmp_path):
    pics = images.class_folders(str(tmp_path / "pics"), ["a", "b"], 6)
    rows = [["path", "label", "split"]]
    for i, path in enumerate(pics):
        label = os.path.basename(os.path.dirname(path))
        shown = path if i % 2 else os.path.relpath(path, tmp_path)
        rows.append([shown, label, "val" if i % 6 == 0 else "train"])
    rows.append(["pics/a/gone.jpg", "a", "train"])
    rows.append(["./" + rows[1][0], " " + rows[1][1], rows[1][2]])  # the first row again
    # As spreadsheet programs save it: a byte order mark before the header, CRLF line ends.
    with open(tmp_path / "manifest.csv", "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(rows)
    config = runs.run(tmp_path / "manifest.csv", tmp_path / "out", max_bad_fraction=0.1)
    _, artifact = runs.latest(config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)
    report = runs.quarantine_report(artifact.uri)
    assert [(b["file"], b["reason"]) for b in report["bad_files"]] == [("pics/a/gone.jpg", "missing_file")]
    assert [(r["file"], r["reason"]) for r in report["skipped"]] == [("./pics/a/img_0000.jpg", "duplicate_row")]
    assert report["classes"] == ["a", "b"]
    assert len(runs.examples(artifact.uri, "eval")) == 2  # the split column, not the hash; once
    assert len(runs.examples(artifact.uri, "train")) == 10


@pytest.mark.slow  # two trained runs, ~2.5 minutes: CI runs it (.ci/run's slow line)
def test_new_span_with_a_label_the_serving_model_never_saw_is_an_anomaly(tmp_path):
    """The drift baseline is the schema shipped in the version now serving."""
    pattern = tmp_path / "span-{SPAN}"
    runs.colour_images(str(tmp_path / "span-1"), 30, seed=1)
    config = runs.run(pattern, tmp_path / "out", **runs.SMOKE)  # trained, blessed, pushed
    _, first = runs.latest(config, keys.NODE_DRIFT, keys.ANOMALIES_KEY)
    assert first.custom_properties["baseline_schema"].string_value.startswith("none: no version under")
    served = results.summarize(config).pushed_to
    assert served

    images.class_folders(str(tmp_path / "span-2"), ["red", "blue", "green"], 12)  # new data arrives
    runs.run(pattern, tmp_path / "out")
    _, gen = runs.latest(config, keys.NODE_IMAGE_EXAMPLE_GEN, keys.EXAMPLES_KEY)
    assert gen.custom_properties["span"].int_value == 2  # the newest span
    _, drift = runs.latest(config, keys.NODE_DRIFT, keys.ANOMALIES_KEY)
    assert drift.custom_properties["baseline_schema"].string_value == \
        os.path.join(served, keys.ASSETS_EXTRA_DIR, keys.SCHEMA_FILE)
    found = runs.anomalies(drift.uri, "train")
    assert keys.LABEL_TEXT in found and any("Unexpected string values" in r for r in found[keys.LABEL_TEXT])
    _, hp = runs.latest(config, keys.NODE_HYPERRULE, keys.HYPERPARAMETERS_KEY)
    with open(os.path.join(hp.uri, keys.HYPERPARAMETERS_FILE)) as f:
        assert json.load(f)["inputs"]["num_classes"] == 3


def test_imported_tfrecords_with_unsupported_format_are_anomalies(tmp_path):
    os.makedirs(tmp_path / "records")
    with tf.io.TFRecordWriter(str(tmp_path / "records" / "data.tfrecord")) as w:
        for i in range(30):
            fmt = "tiff" if i % 10 == 0 else "jpeg"
            w.write(executor.make_example(images.rgb_jpeg(seed=i), fmt, 40, 50, "ab"[i % 2],
                                          f"x/{i}.jpg").SerializeToString())
    config = runs.run(tmp_path / "records" / "data.tfrecord", tmp_path / "out")
    _, anomalies = runs.latest(config, keys.NODE_VALIDATOR, keys.ANOMALIES_KEY)
    found = runs.anomalies(anomalies.uri, "train")
    assert keys.IMAGE_FORMAT in found, found


def test_cli_prints_decision_json_and_reruns_cached(tmp_path):
    images.class_folders(str(tmp_path / "data"), ["a", "b"], 10, size=(120, 100))
    cmd = [sys.executable, "-m", "bit_tfx.cli.main", "hyperrule", "--data", str(tmp_path / "data"),
           "--output", str(tmp_path / "out"), "--batch-size", "128", "--preserve-orientation"]
    env = dict(os.environ)
    first = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    decision = json.loads(first.stdout)  # stdout holds only the JSON
    assert decision["crop_size"] == 480 and decision["resize_size"] == 512  # 120x100 >= 96x96
    assert decision["random_flip"] is False and decision["random_crop"] is True
    assert decision["gradient_accumulation_steps"] == 4 and decision["learning_rate"] == 0.003
    assert decision["inputs"]["num_classes"] == 2
    second = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert second.returncode == 0 and json.loads(second.stdout) == decision
    assert "HyperRule cached" in second.stderr
    # Progress a person can follow: one line per step, numbered, with its outcome.
    assert "[1/7] ImageExampleGen done in" in first.stderr
    assert "[1/7] ImageExampleGen reused from cache" in second.stderr
    bad = subprocess.run(cmd + ["--max-bad-fraction", "1.5"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "--max-bad-fraction" in bad.stderr
    # More shots than the smallest class has (9 or so of its 10 images train): the HyperRule
    # refuses it from the real statistics, a configuration error, without a traceback.
    shots = subprocess.run(cmd + ["--k-shot", "10000"], capture_output=True, text=True, env=env)
    assert shots.returncode == 2, shots.stderr[-3000:]
    assert "configuration error: k_shot 10000" in shots.stderr and "Traceback" not in shots.stderr


def test_the_seed_layout_trains_without_edits(pushed_run):
    # The pushed run's images sit as tf_flowers' archive does: a LICENSE.txt beside the classes.
    config, summary, data = pushed_run
    assert (data / "LICENSE.txt").is_file() and summary.blessed
    _, artifact = runs.latest(config, "ImageExampleGen", "examples")
    assert runs.quarantine_report(artifact.uri)["skipped"] == [
        {"file": "LICENSE.txt", "label": None, "reason": "not_in_class_folder", "detail": None}]


def test_a_label_the_vocabulary_drops_stops_the_trainer_before_it_trains(tmp_path):
    # TFRecords are not planned file by file: a label with a line break reaches tf.Transform,
    # whose vocabulary leaves it out. Its images would train as label -1; the Trainer refuses.
    os.makedirs(tmp_path / "records")
    with tf.io.TFRecordWriter(str(tmp_path / "records" / "data.tfrecord")) as w:
        for i in range(36):
            w.write(executor.make_example(images.rgb_jpeg(seed=i), "jpeg", 40, 50,
                                          ["a", "b", "cl\nass"][i % 3], f"x/{i}.jpg").SerializeToString())
    with pytest.raises(Exception, match="vocabulary has 2 classes.*3 classes") as failure:
        runs.run(tmp_path / "records" / "data.tfrecord", tmp_path / "out", **dict(runs.SMOKE, num_classes=3))
    assert "line break" in str(failure.value)


def test_hash_split_is_deterministic_and_follows_the_ratio():
    paths = [f"class_{i % 7}/image_{i}.jpg" for i in range(20_000)]
    first = [executor.hash_split(p, [9, 10]) for p in paths]
    assert first == [executor.hash_split(p, [9, 10]) for p in paths]
    share = collections.Counter(first)[1] / len(paths)
    assert 0.09 < share < 0.11

"""--schema (a curated schema through TFX's ImportSchemaGen instead of the inferred one) and
--fail-on-anomalies (AnomaliesGate: the run stops before Transform and training, naming each
anomaly): the configuration checks, and real runs of `bit-tfx hyperrule` on tiny data."""
import json

import pytest

import runs
from bit_tfx.core import keys
from bit_tfx.pipeline import metadata


def _schema(labels):
    """A curated schema for our image features, the label domain limited to `labels`."""
    features = [(keys.IMAGE_ENCODED, "BYTES"), (keys.IMAGE_FORMAT, "BYTES"), (keys.IMAGE_HEIGHT, "INT"),
                (keys.IMAGE_WIDTH, "INT"), (keys.FILENAME, "BYTES")]
    text = "".join(f'feature {{ name: "{name}" type: {kind} presence {{ min_fraction: 1.0 }} }}\n'
                   for name, kind in features)
    values = " ".join(f'value: "{label}"' for label in labels)
    return text + (f'feature {{ name: "{keys.LABEL_TEXT}" type: BYTES presence {{ min_fraction: 1.0 }} '
                   f'string_domain {{ {values} }} }}\n')


@pytest.mark.parametrize("content, message", [
    (None, "--schema '{path}' is not a file: give the path of a schema.pbtxt"),
    ("feature { name: 'x' type: NOT_A_TYPE }", "--schema '{path}' is not a Schema in protobuf text format"),
    ("", "--schema '{path}' declares no feature"),
    # A valid schema of other data: refused before any step, naming what is missing.
    ('feature { name: "pixels" type: FLOAT }', f"declares no {keys.IMAGE_ENCODED}, {keys.LABEL_TEXT}: "
                                               "Transform decodes"),
    (f'feature {{ name: "{keys.IMAGE_ENCODED}" type: BYTES }} feature {{ name: "{keys.LABEL_TEXT}" type: INT }}',
     f"declares {keys.LABEL_TEXT} with another type than BYTES"),
])
def test_a_missing_or_unparsable_schema_is_a_configuration_error(tmp_path, capsys, content, message):
    path = tmp_path / "schema.pbtxt"
    if content is not None:
        path.write_text(content)
    runs.colour_images(str(tmp_path / "images"), per_class=2, seed=1)
    code, _, err = runs.cli_in_process(["hyperrule", "--data", str(tmp_path / "images"), "--output",
                                        str(tmp_path / "out"), "--schema", str(path)], capsys)
    assert code == 2 and message.format(path=path) in err, err
    assert not (tmp_path / "out" / "metadata.sqlite").exists()  # nothing ran


@pytest.mark.pipeline
def test_a_curated_schema_is_used_and_anomalies_stop_the_run_only_when_asked(tmp_path, capsys):
    runs.colour_images(str(tmp_path / "images"), per_class=8, seed=2)  # red and blue
    red_only, both = tmp_path / "red_only.pbtxt", tmp_path / "both.pbtxt"
    red_only.write_text(_schema(["red"]))
    both.write_text(_schema(["blue", "red"]))
    base = ["hyperrule", "--data", str(tmp_path / "images"), "--output", str(tmp_path / "out")]

    # The imported schema (blue is not a label there) is the one the validator checks with; the
    # anomaly is recorded and, without the flag, nothing is gated.
    code, _, err = runs.cli_in_process(base + ["--schema", str(red_only)], capsys)
    assert code == 0, err[-3000:]
    store = metadata.open_store(str(tmp_path / "out" / "metadata.sqlite"))
    _, schema = metadata.latest_output(store, "bit-tfx", keys.NODE_IMPORT_SCHEMA, keys.SCHEMA_KEY)
    assert schema is not None and metadata.latest_execution(store, "bit-tfx", keys.NODE_SCHEMA) is None
    _, anomalies = metadata.latest_output(store, "bit-tfx", keys.NODE_VALIDATOR, keys.ANOMALIES_KEY)
    found = runs.anomalies(anomalies.uri, keys.TRAIN_SPLIT)
    assert list(found) == [keys.LABEL_TEXT] and "Unexpected string values" in found[keys.LABEL_TEXT]

    # --fail-on-anomalies: the gate fails its step and names the anomaly.
    code, _, err = runs.cli_in_process(base + ["--schema", str(red_only), "--fail-on-anomalies"], capsys)
    assert code == 1, err[-3000:]
    assert f"train: '{keys.LABEL_TEXT}': Unexpected string values" in err, err[-3000:]
    assert "fail_on_anomalies is set, so nothing was trained" in err

    # Clean data under the flag: the gate passes and the decision is made.
    code, out, err = runs.cli_in_process(base + ["--schema", str(both), "--fail-on-anomalies"], capsys)
    assert code == 0, err[-3000:]
    assert json.loads(out), out  # the decision
    gate = metadata.latest_execution(store, "bit-tfx", keys.NODE_ANOMALIES_GATE)
    assert gate is not None and not metadata.was_cached(gate)

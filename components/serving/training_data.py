"""What data a model was trained on, and whether this run's data is the same.

Every pushed version carries `assets.extra/training_data.json` (ModelCardGen writes it from the
Examples it was trained on): the span, the version and the input fingerprint that TFX's
file-based ExampleGen driver records on the Examples artifact (or our executors, where no
driver ran: image_example_gen/span.py), and the input base. The fingerprint is what makes
ExampleGen a cache hit locally: every matched file's relative path, size and modification time
(image_example_gen/span.files_fingerprint). ServingBaseline compares this run's Examples with the
serving version's record (`compare`): the same span, version and fingerprint is the same data,
and the training branch of the DAG is skipped (pipeline/pipeline.py, tfx.dsl.Cond).
"""
import json

from ...core import keys

RECORD_FIELDS = (keys.SPAN_PROPERTY, keys.VERSION_PROPERTY, keys.INPUT_FINGERPRINT_PROPERTY)


def _int_or_none(value):
    # On Kubeflow / Vertex an input artifact's custom properties come back from the
    # orchestrator's metadata as JSON numbers (floats); locally as MLMD ints.
    return None if value is None or value == "" else int(value)


def record_of(examples, input_base):
    """{span, version, input_fingerprint, input_base, examples} of an Examples artifact."""
    def get(name):
        return examples.get_custom_property(name) if examples.has_custom_property(name) else None
    return {keys.SPAN_PROPERTY: _int_or_none(get(keys.SPAN_PROPERTY)),
            keys.VERSION_PROPERTY: _int_or_none(get(keys.VERSION_PROPERTY)),
            keys.INPUT_FINGERPRINT_PROPERTY: get(keys.INPUT_FINGERPRINT_PROPERTY) or None,
            keys.INPUT_BASE_KEY: input_base,
            "examples": examples.uri}


def dumps(record):
    return json.dumps(record, indent=1, sort_keys=True)


def describe(record):
    """`span 3 (version 1), input fingerprint split:...` of a record."""
    version = record.get(keys.VERSION_PROPERTY)
    return (f"span {record.get(keys.SPAN_PROPERTY)}"
            + (f" (version {version})" if version is not None else "")
            + f", input fingerprint {record.get(keys.INPUT_FINGERPRINT_PROPERTY)!r}")


def compare(current, served, served_version):
    """(same data?, the reason in words) for this run's record and the serving version's
    (None when the version carries no record). Without a fingerprint on either side nothing
    can be called the same: the run trains."""
    if served is None:
        return False, (f"the serving version {served_version} carries no {keys.ASSETS_EXTRA_DIR}/"
                       f"{keys.TRAINING_DATA_FILE} (pushed before versions recorded their training "
                       "data), so this run's data cannot be compared with it")
    if not current.get(keys.INPUT_FINGERPRINT_PROPERTY):
        return False, "this run's examples carry no input fingerprint to compare"
    differ = [name for name in RECORD_FIELDS if current.get(name) != served.get(name)]
    if differ:
        return False, (f"this run's data ({describe(current)}) differs from what the serving "
                       f"version {served_version} was trained on ({describe(served)}) in "
                       + ", ".join(differ))
    return True, (f"this run's data is what the serving version {served_version} was trained on: "
                  f"{describe(current)} (its {keys.ASSETS_EXTRA_DIR}/{keys.TRAINING_DATA_FILE}); "
                  "the same file paths, sizes and modification times as ExampleGen fingerprints them")

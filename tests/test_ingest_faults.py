"""Faults by kind in ingestion (issue 23): a file's content decides whether it is quarantined;
an I/O error is retried and, if it stays, stops the run naming the file (no training data is
silently dropped). Also: file names that are not UTF-8, and classes left without eval images."""
import os
import shutil
import subprocess
import sys

import apache_beam as beam
import pytest
import tensorflow as tf

import images
import runs
from bit_tfx.core import keys
from bit_tfx.components.image_example_gen import component, executor, sources

SPLITS, BUCKETS = list(keys.SPLIT_NAMES), [9, 10]


class Flaky:
    """A test double of executor.read_file: raises `errors` in turn, then reads the file."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return executor.read_file(path)


def _item(path, file="a/x.jpg", label="a"):
    return {"path": path, "file": file, "label": label, "split": None}


def _check(item, read, tries=4):
    dofn = executor._ReadAndCheck(SPLITS, BUCKETS, keys.DEFAULT_MAX_IMAGE_PIXELS, read=read,
                                  tries=tries, first_wait=0.001)
    dofn.setup()
    return list(dofn.process(item))


@pytest.mark.parametrize("error", [
    tf.errors.UnavailableError(None, None, "gs://bucket/a/x.jpg: 503 Service Unavailable"),
    tf.errors.DeadlineExceededError(None, None, "timed out"),
    tf.errors.AbortedError(None, None, "connection reset"),
    tf.errors.PermissionDeniedError(None, None, "403"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_a_transient_io_error_is_retried_and_the_file_is_ingested(tmp_path, error):
    path = str(tmp_path / "x.jpg")
    images.write(path, images.rgb_jpeg(seed=1))
    read = Flaky(error, error)
    [result] = _check(_item(path), read)
    assert not isinstance(result, beam.pvalue.TaggedOutput)  # an example, not quarantined
    split, label, serialized, *_ = result
    assert label == "a" and tf.train.Example.FromString(serialized).features.feature[
        keys.IMAGE_ENCODED].bytes_list.value[0] == images.rgb_jpeg(seed=1)
    assert read.calls == 3


def test_waits_grow_exponentially_and_a_lasting_error_names_the_file():
    waits = []
    error = tf.errors.UnavailableError(None, None, "503 Service Unavailable")
    read = Flaky(*[error] * 5)
    with pytest.raises(executor.FileReadError) as raised:
        executor.read_with_retries("gs://b/a/x.jpg", "a/x.jpg", read, tries=4, first_wait=0.5,
                                   sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0] and read.calls == 4
    assert str(raised.value) == "'a/x.jpg' (UnavailableError: 503 Service Unavailable; 4 tries)"


def test_a_file_still_unreadable_after_the_retries_stops_the_run_and_is_not_quarantined(tmp_path):
    path = str(tmp_path / "x.jpg")
    images.write(path, images.rgb_jpeg(seed=1))
    error = tf.errors.UnavailableError(None, None, "503 Service Unavailable")
    read = Flaky(*[error] * 3)
    [result] = _check(_item(path), read, tries=3)
    assert result.tag == "unreadable" and read.calls == 3
    report = {"unreadable": [{"file": "a/x.jpg", "error": result.value["detail"]}],
              "total_files": 10, "bad": 0, "bad_fraction": 0.0, "max_bad_fraction": 0.01}
    with pytest.raises(executor.FileReadError) as raised:
        executor.check_report(report, "/r/quarantine_report.json")
    message = str(raised.value)
    assert message.startswith("1 file(s) could not be read: 'a/x.jpg' (UnavailableError: 503 "
                              "Service Unavailable; 3 tries). The run stops")
    assert "nothing is quarantined or lost" in message and "/r/quarantine_report.json" in message


def test_an_error_that_is_not_io_stops_at_once_naming_the_file():
    read = Flaky(RuntimeError("codec crashed"))
    with pytest.raises(executor.FileReadError, match="'a/x.jpg' .RuntimeError: codec crashed"):
        executor.read_with_retries("/d/a/x.jpg", "a/x.jpg", read, tries=4, first_wait=0,
                                   sleep=lambda s: None)
    assert read.calls == 1


def test_content_faults_are_still_quarantined(tmp_path):
    bad = str(tmp_path / "notes.jpg")
    images.write(bad, b"not a picture\n" * 5)
    [result] = _check(_item(bad), executor.read_file)
    assert isinstance(result, beam.pvalue.TaggedOutput) and result.value["reason"] == "not_an_image"
    [result] = _check(_item(str(tmp_path / "gone.jpg")), executor.read_file)
    assert result.value["reason"] == keys.MISSING_FILE


def _denied_prefix(tmp_path):
    """A command prefix under which a file with mode 000 really cannot be read. The tests run
    as root, which file permissions do not stop (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
    setpriv drops those two capabilities from the bounding and inheritable sets, so the
    command runs as root without them and the kernel applies the mode bits."""
    readable, probe = tmp_path / "readable", tmp_path / "probe"
    readable.write_bytes(b"x")
    probe.write_bytes(b"x")
    probe.chmod(0)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root without setpriv: cannot deny a read")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    works = subprocess.run(prefix + ["cat", str(readable)], capture_output=True)
    denied = subprocess.run(prefix + ["cat", str(probe)], capture_output=True)
    if works.returncode != 0 or b"Permission denied" not in denied.stderr:
        pytest.skip("cannot deny a read here (setpriv may not drop capabilities): "
                    f"{(works.stderr or denied.stderr).decode(errors='replace')[:200]}")
    return prefix


@pytest.mark.pipeline  # a real run of `bit-tfx hyperrule`, about 30 s
def test_a_file_the_run_may_not_read_stops_it_naming_the_file(tmp_path):
    """A real permission denial (not a double): `bit-tfx hyperrule` without the capabilities
    that let root read anything. Not quarantined under the bad-file limit: the run stops."""
    prefix = _denied_prefix(tmp_path)
    data = str(tmp_path / "data")
    images.class_folders(data, ["a", "b"], 10)
    locked = os.path.join(data, "b", "img_0003.jpg")
    os.chmod(locked, 0)
    env = dict(os.environ)  # the default waits: 0.5 + 1 + 2 s
    done = subprocess.run(prefix + [sys.executable, "-m", "bit_tfx.cli.main", "hyperrule",
                                    "--data", data, "--output", str(tmp_path / "out"),
                                    "--max-bad-fraction", "0.5"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("bit-tfx: hyperrule failed: "), done.stderr[-3000:]
    assert "FileReadError: 1 file(s) could not be read: 'b/img_0003.jpg' (PermissionDeniedError: " \
        in last and f"Permission denied; {keys.READ_TRIES} tries). The run stops" in last
    assert "Traceback" not in done.stderr  # one line, not a Beam worker's traceback


def _run_executor(tmp_path, data, max_bad_fraction):
    """ImageExampleGen's executor on a real Beam pipeline (no orchestrator): its report."""
    return runs.ingest(tmp_path, data, max_bad_fraction=max_bad_fraction)[0]


def test_names_that_are_not_utf8_are_quarantined_and_a_class_without_eval_is_named(tmp_path, caplog):
    data = str(tmp_path / "data")
    images.class_folders(data, ["a", "b"], 10)  # by their hashes, 2 and 1 of them evaluate
    # One image of "solo", named so that its hash puts it in train: nothing left to evaluate.
    solo = next(f"s{i}.jpg" for i in range(100)
                if executor.hash_split(f"solo/s{i}.jpg", BUCKETS) == 0)
    images.write(os.path.join(data, "solo", solo), images.rgb_jpeg(seed=5))
    with open(os.path.join(os.fsencode(data), b"a", b"bad\xffname.png"), "wb") as f:
        f.write(images.rgb_png(seed=3))  # a fine image: the name alone is the fault
    os.makedirs(os.path.join(os.fsencode(data), b"b", b"n\xe9sted"))
    report = _run_executor(tmp_path, data, max_bad_fraction=0.2)
    assert [(b["file"], b["reason"]) for b in report["bad_files"]] == [
        ("a/bad\\xffname.png", keys.NON_UTF8_NAME)]
    assert "not UTF-8" in report["bad_files"][0]["detail"]
    assert report["bad_by_reason"] == {keys.NON_UTF8_NAME: 1} and report["bad"] == 1
    assert [(s["file"], s["reason"]) for s in report["skipped"]] == [
        ("b/n\\xe9sted", sources.NESTED_FOLDER)]
    assert report["valid_per_split_and_class"]["eval"] == {"a": 2, "b": 1}
    assert report["classes_without_eval_images"] == ["solo"]
    assert "have no valid eval image" in caplog.text and "'solo'" in caplog.text


def test_the_driver_resolves_the_newest_span_over_names_that_are_not_utf8(tmp_path):
    from tfx.components.example_gen import utils
    from tfx.utils import io_utils
    from bit_tfx.components.image_example_gen import span
    images.class_folders(str(tmp_path / "span-1"), ["a", "b"], 2)
    images.class_folders(str(tmp_path / "span-2"), ["a", "b"], 3)
    pattern = str(tmp_path / "span-2" / "*" / "*")
    with open(os.path.join(os.fsencode(tmp_path), b"span-2", b"a", b"caf\xe9.jpg"), "wb") as f:
        f.write(images.rgb_jpeg(seed=9))
    with pytest.raises(UnicodeDecodeError):  # what TFX's own driver does with it
        io_utils.generate_fingerprint("images", pattern)
    gen = component.ImageExampleGen(sources.resolve(str(tmp_path / "span-{SPAN}")))
    resolved = span.resolve_where_no_driver(runs.exec_properties(gen))
    assert resolved[utils.SPAN_PROPERTY_NAME] == 2
    assert "num_files:7," in resolved[utils.FINGERPRINT_PROPERTY_NAME]  # 6 images + café
    assert '"span-2/*/*"' in resolved["input_config"]

"""ImageExampleGen executor: labelled image files -> tf.Example splits, bad files quarantined.

The Beam graph keeps memory flat: only the list of class folders (or manifest lines)
is shuffled; image bytes flow read -> check -> write inside fused stages, never
through a GroupByKey. (TFX's stock WriteSplit reshuffles the serialized examples,
which on the in-memory DirectRunner holds the whole dataset; we write directly.)
"""
import bisect
import collections
import hashlib
import json
import os
import posixpath
import stat
import time

import apache_beam as beam
import tensorflow as tf
from absl import logging
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as specs
from tfx.utils import proto_utils

from ...core import keys
from . import data_checks, sources, span
from ...core import image_check

LAYOUT_KEY = "layout"
MAX_BAD_FRACTION_KEY = "max_bad_fraction"
MAX_IMAGE_PIXELS_KEY = "max_image_pixels"
EVAL_DUPLICATES_KEY = "eval_duplicates"
_BAD_FILE = "_bad.jsonl"
_COUNTS_FILE = "_counts.jsonl"
_DUPLICATES_FILE = "_duplicates.jsonl"
PROGRESS_EVERY = 1000  # files, per worker
# The Examples artifact's counts (custom properties), also the names of the live Beam counters.
VALID_IMAGES = "valid_images"
QUARANTINED_FILES = "quarantined_files"


class IngestionError(RuntimeError):
    """The run's data is not fit to train on; the message names the report and the fix."""


class FileReadError(IngestionError):
    """A file that could not be read (still, after the retries of an I/O error). Its content
    was never judged, so it is not quarantined: _ReadAndCheck sends it to the "unreadable"
    output, and check_report stops the run naming every such file (after Beam, so the
    message is one line, not a worker's traceback)."""


# Faults of the storage, not of a file's content (a permission, a flaky network, a timeout):
# retried with exponential backoff, and never quarantined. A file's content is judged by
# image_check (BadImage: quarantined); a missing file is quarantined as missing_file.
RETRIED_READ_ERRORS = (OSError, tf.errors.PermissionDeniedError, tf.errors.UnavailableError,
                       tf.errors.DeadlineExceededError, tf.errors.AbortedError)
MISSING_ERRORS = (tf.errors.NotFoundError, FileNotFoundError)


def read_file(path):
    """The file's bytes, through tf.io.gfile (local, gs://)."""
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def _error_text(error):
    message = getattr(error, "message", None) or str(error) or "no message"
    return f"{type(error).__name__}: {message}"[:300]


def read_with_retries(path, shown, read=read_file, tries=keys.READ_TRIES,
                      first_wait=keys.READ_FIRST_WAIT_S, sleep=time.sleep):
    """read(path), tried `tries` times on an I/O error (waits first_wait, 2x, 4x, ... between
    tries); raises FileReadError naming `shown` (the file as the report names it) and the last
    error when every try failed, and at once for an error that is not an I/O error. A missing
    file (MISSING_ERRORS) is raised as it is: the caller quarantines it."""
    wait = first_wait
    for attempt in range(1, tries + 1):
        try:
            return read(path)
        except MISSING_ERRORS:
            raise
        except RETRIED_READ_ERRORS as e:
            if attempt == tries:
                raise FileReadError(f"{shown!r} ({_error_text(e)}; {tries} tries)") from None
            logging.warning("Reading %s failed (%s); try %d of %d in %.1f s", path,
                            _error_text(e), attempt + 1, tries, wait)
            sleep(wait)
            wait *= 2
        except Exception as e:  # pylint: disable=broad-except  (not a fault of the file's content)
            raise FileReadError(f"{shown!r} ({_error_text(e)}; not an I/O error, not "
                                "retried)") from None
    raise AssertionError("unreachable")


def hash_split(relpath, buckets):
    """Index of the output split for `relpath`: deterministic across runs and machines."""
    bucket = int(hashlib.sha256(relpath.encode("utf-8")).hexdigest(), 16) % buckets[-1]
    return bisect.bisect(buckets, bucket)


def content_digest(data):
    """What makes two files the same image: the SHA-256 of their bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


def make_example(data, fmt, height, width, label, relpath):
    def b(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v]))

    def i(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))

    return tf.train.Example(features=tf.train.Features(feature={
        keys.IMAGE_ENCODED: b(data),
        keys.IMAGE_FORMAT: b(fmt.encode()),
        keys.IMAGE_HEIGHT: i(height),
        keys.IMAGE_WIDTH: i(width),
        keys.LABEL_TEXT: b(label.encode("utf-8")),
        keys.FILENAME: b(relpath.encode("utf-8")),
    }))


def _list_class_folder(folder):
    """Files of one class folder as work items; everything else there is reported as skipped
    (hidden and OS metadata files, FIFOs and other non-regular files, nested folders)."""
    entries = sources.list_entries(folder.path)
    for name in entries.files:
        if not sources.is_utf8(name):  # no path to open, nor to store: a bad file (_check)
            yield {"path": None, "file": sources.shown_name(sources.join(folder.relpath, name)),
                   "label": folder.label, "split": folder.split, "reason": keys.NON_UTF8_NAME}
            continue
        yield {"path": sources.join(folder.path, name), "file": sources.join(folder.relpath, name),
               "label": folder.label, "split": folder.split}
    skipped = entries.skipped + [(d, sources.NESTED_FOLDER) for d in entries.dirs]
    for name, reason in skipped:
        detail = ("not read: " + sources.NESTED_FIX) if reason == sources.NESTED_FOLDER else None
        yield beam.pvalue.TaggedOutput("skipped", sources.skipped_record(
            sources.join(folder.relpath, name), reason, folder.label, detail))


def _manifest_item(line, csv_path, columns):
    # Every line was validated (with its number) by sources.plan_manifest before Beam.
    path, label, split = sources.parse_manifest_line(line, "?", csv_path, columns)
    full, shown = sources.manifest_file(csv_path, path)
    return {"path": full, "file": shown, "label": label, "split": split}


def _one_per_file(items):
    """The rows repeated in a manifest (sources.plan_manifest listed them): one item per file."""
    return min(items, key=lambda item: item["file"])


def _is_regular_local_file(path):
    """False for a local FIFO, socket or device (reading one can block for ever)."""
    if sources.is_remote(path):
        return True
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # missing or unreadable: the read reports it


# A file that became an example: its split's index, label, the serialized tf.Example, and what
# the duplicate checks group it by (its bytes' SHA-256, its path, its perceptual hash).
Checked = collections.namedtuple("Checked", "split_index label serialized sha256 file looks")


class _ReadAndCheck(beam.DoFn):
    """Reads one file and decides: an example for a split, or a quarantined file.

    Never raises for a bad file: one unreadable image must not kill an hour-long run.
    """

    def __init__(self, split_names, buckets, max_pixels, read=read_file, tries=keys.READ_TRIES,
                 first_wait=keys.READ_FIRST_WAIT_S):
        self._split_names = split_names
        self._buckets = buckets
        self._max_pixels = max_pixels
        self._read = read
        self._tries = tries
        self._first_wait = first_wait

    def setup(self):
        # Progress a person can read: a log line every PROGRESS_EVERY files from each worker,
        # and Beam counters (on Dataflow they show live in the job's UI).
        self._checked = self._bad = 0
        self._started = time.monotonic()
        self._valid_counter = beam.metrics.Metrics.counter(keys.NODE_IMAGE_EXAMPLE_GEN, VALID_IMAGES)
        self._bad_counter = beam.metrics.Metrics.counter(keys.NODE_IMAGE_EXAMPLE_GEN, QUARANTINED_FILES)

    def process(self, item):
        result = self._check(item)
        bad = isinstance(result, beam.pvalue.TaggedOutput) and result.tag == "bad"
        (self._bad_counter if bad else self._valid_counter).inc()
        self._checked += 1
        self._bad += bad
        if self._checked % PROGRESS_EVERY == 0:
            rate = self._checked / max(time.monotonic() - self._started, 1e-9)
            logging.info("Ingestion: %d files checked by this worker (%d bad), %.0f files/s",
                         self._checked, self._bad, rate)
        yield result

    def _check(self, item):
        if item.get("reason") == keys.NON_UTF8_NAME:
            return beam.pvalue.TaggedOutput("bad", dict(
                item, detail="the file name is not UTF-8 text (shown with \\x escapes), which "
                             "the examples and TensorFlow's file system cannot hold; rename it "
                             "(e.g. `convmv -f latin1 -t utf-8`)"))
        if not _is_regular_local_file(item["path"]):
            return beam.pvalue.TaggedOutput("bad", dict(
                item, reason=sources.NOT_REGULAR_FILE,
                detail="not a regular file (a FIFO, socket or device): not read"))
        try:
            data = read_with_retries(item["path"], item["file"], self._read, self._tries,
                                     self._first_wait)
            fmt, height, width, looks = image_check.inspect_and_hash(data, self._max_pixels)
        except image_check.BadImage as e:
            return beam.pvalue.TaggedOutput("bad", dict(item, reason=e.reason, detail=e.detail))
        except MISSING_ERRORS:
            return beam.pvalue.TaggedOutput("bad", dict(item, reason=keys.MISSING_FILE,
                                                        detail="the file does not exist"))
        except FileReadError as e:
            # Not judged, so not quarantined: check_report stops the run naming it (a flaky
            # network must not silently remove training data under the bad-file limit).
            return beam.pvalue.TaggedOutput("unreadable", dict(item, detail=str(e)))
        if item["split"] is not None:
            index = self._split_names.index(item["split"])
        else:
            index = hash_split(item["file"], self._buckets)
        example = make_example(data, fmt, height, width, item["label"], item["file"])
        return Checked(index, item["label"], example.SerializeToString(), content_digest(data),
                       item["file"], looks)


def _split_names_and_buckets(output_config):
    names = [s.name for s in output_config.split_config.splits]
    if sorted(names) != sorted(keys.SPLIT_NAMES):
        raise sources.SourceError(f"output_config must define exactly the splits {keys.SPLIT_NAMES} "
                                  f"(hash buckets give the ratio), got {names}")
    buckets, total = [], 0
    for s in output_config.split_config.splits:
        total += s.hash_buckets
        buckets.append(total)
    return names, buckets


def _write_json_lines(pcoll, path, label):
    return (pcoll
            | f"{label}ToJson" >> beam.Map(lambda r: json.dumps(r, ensure_ascii=False, sort_keys=True))
            | f"{label}Write" >> beam.io.WriteToText(path, shard_name_template=""))


def _read_json_lines(path):
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path, "r") as f:
        return [json.loads(line) for line in f if line.strip()]


def _alike(keyed):
    """A group of two or more files under one content key, as the report's parts record it."""
    key, files = keyed[0], list(keyed[1])
    return [{"key": key, "files": files}] if len(files) > 1 else []


def content_key(looks, digest):
    """What groups images for the duplicate checks: their perceptual hash, or for a flat image
    (whose hash says nothing: image_check.FLAT_HASH) its bytes' digest."""
    return looks if looks != image_check.FLAT_HASH else "sha256:" + digest


def duplicate_groups(records, eval_policy=keys.EVAL_DUPLICATES_DROP):
    """The duplicates part of the report, from the Beam side output's groups of files that
    look alike ({key, files: [{file, split, label, sha256}]}, two or more each). Identical
    files (one sha256): groups spanning train and eval (with "drop", their eval copies are left
    out of the eval split: `eval_dropped`), and groups within one split (a warning: an image
    trained on twice; two labels on one image). Files with the same perceptual hash and other
    bytes (a resized or re-encoded copy): `near_duplicates`, listed and warned, not dropped."""
    across, within, near, indistinct, dropped = [], [], [], [], []
    for group in records:
        by_bytes = collections.defaultdict(list)
        for f in group["files"]:
            by_bytes[f["sha256"]].append(f)
        for digest, files in by_bytes.items():
            if len(files) > 1:
                across_or_within = across if len({f["split"] for f in files}) > 1 else within
                across_or_within.append(_group_record(files, sha256=digest))
        if 1 < len(by_bytes) <= keys.NEAR_DUPLICATE_MAX_GROUP:
            near.append(_group_record(group["files"], perceptual_hash=group["key"]))
        elif len(by_bytes) > keys.NEAR_DUPLICATE_MAX_GROUP:
            indistinct.append({"perceptual_hash": group["key"], "images": len(group["files"])})
    for record in across:
        record["eval_dropped"] = ([f["file"] for f in record["files"] if f["split"] != keys.TRAIN_SPLIT]
                                  if eval_policy == keys.EVAL_DUPLICATES_DROP else [])
        dropped += [f for f in record["files"] if f["file"] in record["eval_dropped"]]

    def ordered(groups):
        return sorted(groups, key=lambda g: g["files"][0]["file"])
    return {"policy": eval_policy, "across_splits": ordered(across), "within_split": ordered(within),
            "near_duplicates": ordered(near),
            # Hashes shared by more than NEAR_DUPLICATE_MAX_GROUP different images: not a
            # duplicate finding, only that the hash cannot tell them apart.
            "indistinct_perceptual_hashes": sorted(indistinct, key=lambda g: -g["images"]),
            "eval_dropped": len(dropped),
            "eval_dropped_per_class": dict(collections.Counter(f["label"] for f in dropped))}


def _group_record(files, **key):
    files = sorted(({k: f[k] for k in ("file", "split", "label")} for f in files),
                   key=lambda f: (f["split"], f["file"]))
    return dict(key, files=files, splits=sorted({f["split"] for f in files}),
                labels=sorted({f["label"] for f in files}))


def imbalanced_classes(valid, ratio=keys.IMBALANCE_RATIO):
    """Train classes with fewer than `ratio` x the largest class's images, smallest first."""
    train = valid.get(keys.TRAIN_SPLIT, {})
    largest = max(train.values(), default=0)
    return sorted((c for c, n in train.items() if n < largest * ratio), key=lambda c: (train[c], c))


def build_report(source, plan, split_names, max_bad_fraction, quarantine_dir,
                 eval_policy=keys.EVAL_DUPLICATES_DROP):
    """Merges the Beam side outputs into one report dict (and deletes the parts)."""
    bad_path, counts_path, dups_path = (posixpath.join(quarantine_dir, n)
                                        for n in (_BAD_FILE, _COUNTS_FILE, _DUPLICATES_FILE))
    records = _read_json_lines(bad_path)
    counts = _read_json_lines(counts_path)
    duplicates = duplicate_groups(_read_json_lines(dups_path), eval_policy)
    for p in (bad_path, counts_path, dups_path):
        if tf.io.gfile.exists(p):
            tf.io.gfile.remove(p)
    bad = sorted((r for r in records if r["kind"] == "bad"), key=lambda r: r["file"])
    skipped = sorted(plan.skipped + [r for r in records if r["kind"] == "skipped"],
                     key=lambda r: r["file"])
    valid = {name: {} for name in split_names}
    for c in counts:
        valid[c["split"]][c["label"]] = c["count"]
    n_valid = sum(sum(v.values()) for v in valid.values())
    total = n_valid + len(bad)
    # The eval split as written: without the eval copies of images that are also in train.
    for label, n in duplicates["eval_dropped_per_class"].items():
        valid[keys.EVAL_SPLIT][label] -= n
        if not valid[keys.EVAL_SPLIT][label]:
            del valid[keys.EVAL_SPLIT][label]
    return {
        "source": {"input_base": source.input_base, "pattern": source.pattern,
                   "layout": source.layout},
        "total_files": total,
        "valid": n_valid,
        "bad": len(bad),
        "bad_fraction": (len(bad) / total) if total else 0.0,
        "max_bad_fraction": max_bad_fraction,
        "bad_by_reason": dict(collections.Counter(r["reason"] for r in bad)),
        # Examples written per split and class (eval without the dropped duplicates).
        "valid_per_split_and_class": {s: dict(sorted(v.items())) for s, v in valid.items()},
        "classes": plan.labels,
        # Train classes with fewer than a tenth of the largest class's images (log_report warns).
        "imbalanced_classes": imbalanced_classes(valid),
        "duplicates": duplicates,
        # Nothing of these is evaluated (log_report warns; not refused: the others are).
        "classes_without_eval_images": [c for c in plan.labels
                                        if not valid.get(keys.EVAL_SPLIT, {}).get(c)],
        "bad_files": [{k: r.get(k) for k in ("file", "label", "split", "reason", "detail")}
                      for r in bad],
        # Files whose reading failed (I/O errors, after the retries): not judged, not counted;
        # check_report stops the run naming them.
        "unreadable": sorted(({"file": r["file"], "error": r["detail"]} for r in records
                              if r["kind"] == "unreadable"), key=lambda r: r["file"]),
        # Not ingested and not bad (never counted towards max_bad_fraction): see sources.
        "skipped_by_reason": dict(collections.Counter(r["reason"] for r in skipped)),
        "skipped": [{k: r.get(k) for k in ("file", "label", "reason", "detail")} for r in skipped],
    }


def log_report(report, report_path):
    """One line with the counts (skipped ones by reason), and the nested folders by name."""
    skipped = report["skipped_by_reason"]
    by_reason = f" ({', '.join(f'{r}: {n}' for r, n in sorted(skipped.items()))})" if skipped else ""
    log = logging.warning if report["bad"] or report["skipped"] else logging.info
    log("Ingested %d images; %d file(s) quarantined as bad, %d skipped%s; report: %s",
        report["valid"], report["bad"], len(report["skipped"]), by_reason, report_path)
    no_eval = report.get("classes_without_eval_images") or []
    if no_eval:
        logging.warning(
            "%d class(es) have no valid eval image, so nothing of them is evaluated (no per-class "
            "metrics, and the accuracy gate never sees them): %s; give them more images "
            "(without split folders, each image goes to train or eval by the hash of its name, "
            "in the --split-ratio), eval images in a split folder, or a CSV split column",
            len(no_eval), ", ".join(repr(c) for c in no_eval))
    _log_duplicates(report.get("duplicates"), report_path)
    imbalanced = report.get("imbalanced_classes") or []
    if imbalanced:
        train = report["valid_per_split_and_class"].get(keys.TRAIN_SPLIT, {})
        largest = max(train, key=lambda c: (train[c], c))
        logging.warning(
            "Imbalanced classes: %s have fewer than a tenth of the training images of the "
            "largest class (%r: %d); the model will rarely predict them. Add images, or train with "
            "--class-weighted (the loss weighs each class by its inverse frequency)",
            ", ".join(f"{c!r} ({train[c]})" for c in imbalanced), largest, train[largest])
    nested = [r["file"] for r in report["skipped"] if r["reason"] == sources.NESTED_FOLDER]
    if nested:
        shown = ", ".join(repr(f) for f in nested[:10]) + (" ..." if len(nested) > 10 else "")
        logging.warning("%d folder(s) inside class folders were not read: %s; %s", len(nested),
                        shown, sources.NESTED_FIX)


def _shown_group(group):
    return " = ".join(f"{f['file']} ({f['split']})" for f in group["files"][:3]) + (
        " ..." if len(group["files"]) > 3 else "")


def _log_duplicates(duplicates, report_path):
    if not duplicates:
        return
    across, within = duplicates["across_splits"], duplicates["within_split"]
    if across:
        kept = ("their eval copies (%d) are left out of the evaluation (--eval-duplicates keep "
                "evaluates them)" % duplicates["eval_dropped"]
                if duplicates["policy"] == keys.EVAL_DUPLICATES_DROP else
                "kept in the evaluation (--eval-duplicates keep): it measures memory on them")
        logging.warning("%d image(s) are in both train and eval (identical bytes), e.g. %s; %s. "
                        "Listed in %s", len(across), _shown_group(across[0]), kept, report_path)
    near = duplicates.get("near_duplicates") or []
    if near:
        near_across = sum(len(g["splits"]) > 1 for g in near)
        logging.warning("%d group(s) of images that look alike but differ in their bytes (a resized "
                        "or re-encoded copy?), %d of them across train and eval, e.g. %s: kept; "
                        "check them. Listed in %s", len(near), near_across, _shown_group(near[0]),
                        report_path)
    if within:
        relabelled = [g for g in within if len(g["labels"]) > 1]
        logging.warning("%d group(s) of identical images within one split, e.g. %s: each is "
                        "trained (or evaluated) more than once%s. Listed in %s", len(within),
                        _shown_group(within[0]),
                        f"; {len(relabelled)} of them carry different labels, so one is wrong"
                        if relabelled else "", report_path)


def drop_from_split(split_uri, files):
    """Rewrites a split's gzip TFRecords without the examples of `files` (their FILENAME)."""
    files = {f.encode("utf-8") for f in files}
    for path in tf.io.gfile.glob(posixpath.join(split_uri, "*.gz")):
        kept = path + ".kept"
        with tf.io.TFRecordWriter(kept, options="GZIP") as writer:
            for record in tf.data.TFRecordDataset(path, compression_type="GZIP").as_numpy_iterator():
                example = tf.train.Example.FromString(record)
                if example.features.feature[keys.FILENAME].bytes_list.value[0] not in files:
                    writer.write(record)
        tf.io.gfile.rename(kept, path, overwrite=True)


def check_report(report, report_path):
    """Fails the run when the data is not fit to train on, naming the report."""
    unreadable = report.get("unreadable") or []
    if unreadable:
        shown = "; ".join(r["error"] for r in unreadable[:5])
        more = f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        raise FileReadError(
            f"{len(unreadable)} file(s) could not be read: {shown}{more}. The run stops rather "
            "than train without them (an I/O error is no fault of the image: nothing is "
            "quarantined or lost); make them readable (permissions, network) and run the same "
            f"command again. The list is in {report_path}")
    if report["total_files"] == 0:
        raise IngestionError(f"empty input: no image files found; see {report_path}")
    if report["bad_fraction"] > report["max_bad_fraction"]:
        raise IngestionError(
            f"{report['bad']} of {report['total_files']} files ({report['bad_fraction']:.1%}) are not "
            f"usable images, over the limit of {report['max_bad_fraction']:.1%}: "
            f"{report['bad_by_reason']}. Every file and its reason is listed in {report_path}. "
            "Fix or remove them, or raise --max-bad-fraction (max_bad_fraction in a deployment "
            "config).")
    valid = report["valid_per_split_and_class"]
    train = valid.get(keys.TRAIN_SPLIT, {})
    no_valid = [c for c in report["classes"] if not train.get(c)]
    if no_valid:
        raise IngestionError(f"class(es) {no_valid} have no valid training image; see {report_path}")
    if not sum(valid.get(keys.EVAL_SPLIT, {}).values()):
        raise IngestionError("the eval split is empty: add images, give an eval split folder or CSV "
                             f"split column, or change the split ratio; see {report_path}")


class RecordsExecutor(import_executor.Executor):
    """TFX's ImportExampleGen executor, resolving {SPAN} itself where no driver ran (span.py)."""

    def Do(self, input_dict, output_dict, exec_properties):
        exec_properties = span.resolve_where_no_driver(exec_properties)
        span.record(artifact_utils.get_single_instance(output_dict[specs.EXAMPLES_KEY]), exec_properties)
        return super().Do(input_dict, output_dict, exec_properties)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Ingests labelled images as tf.Examples; see the module docstring."""

    def Do(self, input_dict, output_dict, exec_properties):
        self._log_startup(input_dict, output_dict, exec_properties)
        exec_properties = span.resolve_where_no_driver(exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[specs.OUTPUT_CONFIG_KEY], output_config)
        if len(input_config.splits) != 1:
            raise sources.SourceError("ImageExampleGen takes one input pattern; splits come from "
                                      "split folders, the CSV split column or output_config")
        split_names, buckets = _split_names_and_buckets(output_config)
        source = sources.Source(exec_properties[specs.INPUT_BASE_KEY], input_config.splits[0].pattern,
                                exec_properties[LAYOUT_KEY])
        max_bad_fraction = float(exec_properties[MAX_BAD_FRACTION_KEY])
        eval_policy = exec_properties.get(EVAL_DUPLICATES_KEY) or keys.EVAL_DUPLICATES_DROP
        max_pixels = int(exec_properties[MAX_IMAGE_PIXELS_KEY])

        plan = sources.plan(source)  # configuration errors surface here, before Beam
        logging.info("Ingesting %s (%s): %d classes", source.input_base, source.layout,
                     len(plan.labels))

        examples = artifact_utils.get_single_instance(output_dict[specs.EXAMPLES_KEY])
        span.record(examples, exec_properties)
        examples.split_names = artifact_utils.encode_split_names(split_names)
        quarantine_dir = posixpath.join(examples.uri, keys.QUARANTINE_DIR)
        tf.io.gfile.makedirs(quarantine_dir)
        with self._make_beam_pipeline() as p:
            if plan.layout == sources.CSV:
                csv_path, has_header, columns = plan.manifest
                items = (p
                         | "ReadManifest" >> beam.io.ReadFromText(csv_path, skip_header_lines=int(has_header))
                         | "DropBlank" >> beam.Filter(lambda line: line.strip())
                         | "ParseRow" >> beam.Map(lambda line: _manifest_item(line, csv_path, columns)))
                if any(r["reason"] == sources.DUPLICATE_ROW for r in plan.skipped):
                    items = (items
                             | "ByFile" >> beam.Map(lambda item: (item["path"], item))
                             | "OnePerFile" >> beam.CombinePerKey(_one_per_file)
                             | "Items" >> beam.Values())
                skipped = None
            else:
                listed = (p
                          | "ClassFolders" >> beam.Create(plan.class_folders)
                          | "ListFiles" >> beam.FlatMap(_list_class_folder).with_outputs("skipped", main="files"))
                items, skipped = listed.files, listed.skipped
            checked = (items
                       | "SpreadWork" >> beam.Reshuffle()  # paths only, so workers share the reading
                       | "ReadAndCheck" >> beam.ParDo(_ReadAndCheck(split_names, buckets, max_pixels))
                       .with_outputs("bad", "unreadable", main="good"))
            parts = checked.good | "BySplit" >> beam.Partition(lambda e, n: e.split_index, len(split_names))
            for index, name in enumerate(split_names):
                split_uri = artifact_utils.get_split_uri([examples], name)
                _ = (parts[index]
                     | f"Serialized[{name}]" >> beam.Map(lambda e: e.serialized)
                     | f"Write[{name}]" >> self._write_split(split_uri))
            counts = (checked.good
                      | "SplitLabel" >> beam.Map(lambda e: (split_names[e.split_index], e.label))
                      | "CountValid" >> beam.combiners.Count.PerElement()
                      | "CountRecord" >> beam.Map(
                          lambda kv: {"split": kv[0][0], "label": kv[0][1], "count": kv[1]}))
            _write_json_lines(counts, posixpath.join(quarantine_dir, _COUNTS_FILE), "Counts")
            # Identical and near-identical content, in one grouping by what the image looks like
            # (its perceptual hash; a flat image by its bytes): only (hash, split, file, label)
            # is grouped, never the bytes.
            groups = (checked.good
                      | "ByContent" >> beam.Map(lambda e: (content_key(e.looks, e.sha256), {
                          "split": split_names[e.split_index], "file": e.file, "label": e.label,
                          "sha256": e.sha256}))
                      | "GroupContent" >> beam.GroupByKey()
                      | "Duplicates" >> beam.FlatMap(_alike))
            _write_json_lines(groups, posixpath.join(quarantine_dir, _DUPLICATES_FILE), "Duplicates")
            tagged = [checked.bad | "TagBad" >> beam.Map(lambda r: dict(r, kind="bad")),
                      checked.unreadable | "TagUnreadable" >> beam.Map(
                          lambda r: dict(r, kind="unreadable"))]
            if skipped is not None:
                tagged.append(skipped | "TagSkipped" >> beam.Map(lambda r: dict(r, kind="skipped")))
            _write_json_lines(tagged | "AllReported" >> beam.Flatten(),
                              posixpath.join(quarantine_dir, _BAD_FILE), "Report")

        report = build_report(source, plan, split_names, max_bad_fraction, quarantine_dir, eval_policy)
        dropped = [f for g in report["duplicates"]["across_splits"] for f in g["eval_dropped"]]
        if dropped:
            drop_from_split(artifact_utils.get_split_uri([examples], keys.EVAL_SPLIT), dropped)
        report_path = posixpath.join(quarantine_dir, keys.QUARANTINE_REPORT)
        with tf.io.gfile.GFile(report_path, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        examples.set_int_custom_property(VALID_IMAGES, report["valid"])
        examples.set_int_custom_property(QUARANTINED_FILES, report["bad"])
        examples.set_string_custom_property(data_checks.REPORT_PROPERTY, report_path)
        try:
            check_report(report, report_path)
        except IngestionError:
            # TFX deletes a failed execution's output artifacts; its stateful working
            # directory survives the failure, so the report the lines name is kept there.
            kept = self._keep_report(report)
            log_report(report, kept or report_path)
            if kept is None:
                raise
            check_report(report, kept)
        log_report(report, report_path)

    def _write_split(self, split_uri):
        """Writes serialized examples as they come: no shuffle, so memory stays flat."""
        return beam.io.WriteToTFRecord(posixpath.join(split_uri, "data_tfrecord"),
                                       file_name_suffix=".gz")

    def _keep_report(self, report):
        working_dir = self._context.stateful_working_dir if self._context else None
        if not working_dir:
            return None
        path = posixpath.join(working_dir, keys.QUARANTINE_REPORT)
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        return path


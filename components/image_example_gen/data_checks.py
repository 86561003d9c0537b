"""A run's data checks in brief, from ImageExampleGen's quarantine report (executor.build_report):
what the run's JSON and the HTML report show of it (bad and skipped files, identical images
across and within splits, imbalanced classes). The report itself lists every file."""
import json

REPORT_PROPERTY = "quarantine_report"  # the Examples artifact's custom property: the report's path


def read(path):
    """The quarantine report at `path` (a dict), or None when there is none to read."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if not path or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "r") as f:
        return json.load(f)


def summary(report, path):
    """The counts a reader acts on, and where the lists are."""
    duplicates = report.get("duplicates") or {}
    train = report.get("valid_per_split_and_class", {}).get("train", {})
    return {
        "quarantine_report": path,
        "bad_files": report.get("bad", 0),
        "skipped_files": len(report.get("skipped") or []),
        "duplicates_across_splits": len(duplicates.get("across_splits") or []),
        "eval_duplicates_dropped": duplicates.get("eval_dropped", 0),
        "duplicates_within_split": len(duplicates.get("within_split") or []),
        "near_duplicates": len(duplicates.get("near_duplicates") or []),
        "imbalanced_classes": {c: train.get(c, 0) for c in report.get("imbalanced_classes") or []},
    }


def of_artifact_property(path):
    """summary() of the report at `path`, or None (TFRecord input has no report)."""
    report = read(path)
    return summary(report, path) if report is not None else None

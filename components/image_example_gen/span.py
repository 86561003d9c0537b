"""{SPAN} resolution by the ExampleGen executor itself, where no driver ran.

TFX's file-based ExampleGen driver resolves {SPAN} (and {VERSION}) in the input pattern to
the newest span, computes the input fingerprint (ours: files_fingerprint) and records span/version/fingerprint on the
Examples artifact. LocalDagRunner runs it (it is our ExampleGens' DRIVER_CLASS) before its
cache check, so an unchanged span is a cache hit. KubeflowV2DagRunner compiles it only for
TFX's FileBasedExampleGen, as a lifecycle.preCacheCheck hook that the open-source KFP v2
backend never runs; our ExampleGens are not FileBasedExampleGen subclasses, so they compile to
plain container steps on every target, and where no driver ran their executors call
`resolve_where_no_driver` first: the driver's own code (FileBasedDriver.resolve_exec_properties)
run in the executor, the same result on the artifact. Without a driver nothing tells the
orchestrator's cache about a new span, so kubeflow/compile.py compiles the ExampleGen step
uncached (docs/deploy.md).
"""
import fnmatch
import glob
import hashlib
import os
import posixpath

import tensorflow as tf
from absl import logging
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import driver, input_processor, utils
from tfx.proto import example_gen_pb2

from . import sources


class Driver(driver.FileBasedDriver):
    """TFX's file-based ExampleGen driver with our input processor: the fingerprint that
    decides a cache hit covers every file's relative path (files_fingerprint), and a local
    file name that is not UTF-8 does not fail it (TensorFlow's glob decodes every name it
    matches as UTF-8 and fails on such a name with a bare UnicodeDecodeError, before ingestion
    could quarantine the file: executor, keys.NON_UTF8_NAME)."""

    def get_input_processor(self, splits, range_config=None, input_base_uri=None):
        assert input_base_uri
        return _InputProcessor(input_base_uri, splits, range_config)


class _InputProcessor(input_processor.FileBasedInputProcessor):
    """Span and version as TFX resolves them (on the folder names that hold {SPAN}, so a file
    name that is not UTF-8 cannot fail it), and our input fingerprint (files_fingerprint)."""

    def resolve_span_and_version(self):
        fingerprints, span, version = [], None, None
        for split in self._splits:
            segments = split.pattern.split("/")
            last_spec = max((i for i, seg in enumerate(segments) if "{" in seg), default=-1)
            head, rest = "/".join(segments[:last_spec + 1]), "/".join(segments[last_spec + 1:])
            pattern, split_span, split_version = split.pattern, 0, None
            if head:  # {SPAN} (or a date / {VERSION}) resolved by TFX on the names it is in
                probe = example_gen_pb2.Input.Split(name=split.name, pattern=head)
                try:
                    _, split_span, split_version = utils.calculate_splits_fingerprint_span_and_version(
                        self._input_base_uri, [probe], self._range_config)
                except UnicodeDecodeError:
                    if "://" in self._input_base_uri:  # object stores name objects in UTF-8
                        raise
                    raise ValueError(f"a name matching {head!r} under {self._input_base_uri} "
                                     "is not UTF-8: rename it") from None
                pattern = posixpath.join(probe.pattern, rest) if rest else probe.pattern
            if span is not None and (split_span, split_version) != (span, version):
                raise ValueError("Latest span and version should be the same for each split")
            span, version = split_span, split_version
            fingerprints.append(files_fingerprint(split.name, self._input_base_uri, pattern))
        self._fingerprint = "\n".join(fingerprints)
        return span or 0, version


def _local_glob(pattern):
    """Local paths (bytes) matching `pattern`, whose `*` also matches hidden names, as
    TensorFlow's glob does (Python's glob leaves them out)."""
    pattern = os.fsencode(pattern)
    paths = [b"/" if pattern.startswith(b"/") else b"."]
    for part in (p for p in pattern.split(b"/") if p):
        found = []
        for base in paths:
            if not glob.has_magic(part):
                if os.path.lexists(os.path.join(base, part)):
                    found.append(os.path.join(base, part))
                continue
            try:
                names = os.listdir(base)
            except OSError:
                continue
            found += [os.path.join(base, n) for n in names if fnmatch.fnmatchcase(n, part)]
        paths = found
    return sorted(paths)


def _stat(path):
    """(size, modification time in ns) of a local (bytes) or remote (str) path; None if missing."""
    try:
        if isinstance(path, bytes):
            st = os.stat(path)
            return st.st_size, st.st_mtime_ns
        st = tf.io.gfile.stat(path)
        return st.length, st.mtime_nsec
    except (OSError, tf.errors.NotFoundError):
        return None


def _manifest_files(csv_path):
    """The full paths a manifest's rows name (str), or [] when it cannot be parsed here (the
    run's planning refuses such a manifest, naming the line)."""
    try:
        return [sources.manifest_file(csv_path, file)[0]
                for _, file, _, _ in sources.manifest_rows(csv_path)]
    except sources.SourceError:
        return []


def files_fingerprint(split_name, input_base, pattern):
    """What defines a split's data, cheaply: every matched file's path relative to the input
    base (so its label and split), size and modification time to the nanosecond; for a CSV
    manifest also its content (a SHA-256) and each listed image's path, size and modification
    time. One stat per file, no file read (a content hash would read the whole dataset, from
    the bucket on gs://, on every run, nothing-new ones included; docs/operations.md). TFX's
    own (tfx.utils.io_utils.generate_fingerprint) has only the count, bytes and mtimes to the
    second: a file moved from red/ to blue/ looked the same."""
    full = posixpath.join(input_base, pattern)
    files = tf.io.gfile.glob(full) if "://" in full else _local_glob(full)
    base = input_base.rstrip("/") + "/"
    digest, total = hashlib.sha256(), 0
    for path in files:
        stat = _stat(path)
        name = os.fsdecode(path) if isinstance(path, bytes) else path
        rel = name[len(base):] if name.startswith(base) else name
        size, mtime = stat or (-1, -1)
        total += max(size, 0)
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
        if name.lower().endswith(".csv") and stat is not None:
            with tf.io.gfile.GFile(name, "rb") as f:
                digest.update(b"manifest " + hashlib.sha256(f.read()).hexdigest().encode() + b"\n")
            for listed in _manifest_files(name):
                size, mtime = _stat(listed if "://" in listed else os.fsencode(listed)) or (-1, -1)
                digest.update(f"row {listed}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return (f"split:{split_name},num_files:{len(files)},total_bytes:{total},"
            f"files_sha256:{digest.hexdigest()[:32]}")


def resolves_in_executor(component):
    """True for a component with the file-based driver that compiles without its hook (ours)."""
    driver_class = getattr(component, "driver_class", None)
    return (isinstance(driver_class, type) and issubclass(driver_class, driver.FileBasedDriver)
            and not isinstance(component, example_gen_component.FileBasedExampleGen))


def driver_ran(exec_properties):
    return exec_properties.get(utils.SPAN_PROPERTY_NAME) is not None


def resolve_where_no_driver(exec_properties):
    """exec_properties as the driver leaves them: patterns resolved to the newest span, and
    span, version and input_fingerprint set (a new dict; unchanged if the driver ran)."""
    if driver_ran(exec_properties):
        return exec_properties
    resolved = Driver(None).resolve_exec_properties(dict(exec_properties), None, None)
    logging.info("No ExampleGen driver ran: span %s (version %s) resolved by the executor",
                 resolved[utils.SPAN_PROPERTY_NAME], resolved[utils.VERSION_PROPERTY_NAME])
    return resolved


def record(examples, exec_properties):
    """Span, version and input fingerprint on the Examples artifact, as the driver records them."""
    driver.update_output_artifact(exec_properties, examples.mlmd_artifact)

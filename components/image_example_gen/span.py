"""{SPAN} resolution by the ExampleGen executor itself, where no driver ran.

TFX's file-based ExampleGen driver resolves {SPAN} (and {VERSION}) in the input pattern to
the newest span, computes the input fingerprint and records span/version/fingerprint on the
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
import os
import posixpath

from absl import logging
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen import driver, input_processor, utils
from tfx.proto import example_gen_pb2


class Driver(driver.FileBasedDriver):
    """TFX's file-based ExampleGen driver, whose input fingerprint copes with local file names
    that are not UTF-8: TensorFlow's glob decodes every name it matches as UTF-8 and fails on
    such a name with a bare UnicodeDecodeError naming nothing, before ingestion could
    quarantine the file (executor: keys.NON_UTF8_NAME)."""

    def get_input_processor(self, splits, range_config=None, input_base_uri=None):
        assert input_base_uri
        return _InputProcessor(input_base_uri, splits, range_config)


class _InputProcessor(input_processor.FileBasedInputProcessor):
    def resolve_span_and_version(self):
        try:
            return super().resolve_span_and_version()
        except UnicodeDecodeError:
            if "://" in self._input_base_uri:  # object stores name objects in UTF-8
                raise
        logging.warning("A file name under %s is not UTF-8: the input fingerprint is computed "
                        "without TensorFlow's glob; ingestion quarantines the file",
                        self._input_base_uri)
        fingerprints, span, version = [], 0, None
        for split in self._splits:
            segments = split.pattern.split("/")
            last_spec = max((i for i, seg in enumerate(segments) if "{" in seg), default=-1)
            head, rest = "/".join(segments[:last_spec + 1]), "/".join(segments[last_spec + 1:])
            pattern = split.pattern
            if head:  # {SPAN} (or a date / {VERSION}) resolved by TFX on the folder names alone
                probe = example_gen_pb2.Input.Split(name=split.name, pattern=head)
                _, span, version = utils.calculate_splits_fingerprint_span_and_version(
                    self._input_base_uri, [probe], self._range_config)
                pattern = posixpath.join(probe.pattern, rest) if rest else probe.pattern
            fingerprints.append(_local_fingerprint(
                split.name, os.path.join(self._input_base_uri, pattern)))
        self._fingerprint = "\n".join(fingerprints)
        return span, version


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


def _local_fingerprint(split_name, pattern):
    """tfx.utils.io_utils.generate_fingerprint's value (file count, bytes, mtimes), from
    os.stat over _local_glob."""
    files = _local_glob(pattern)
    total_bytes = xor_checksum = sum_checksum = 0
    for path in files:
        stat = os.stat(path)
        total_bytes += stat.st_size
        mtime = stat.st_mtime_ns // 10 ** 9
        xor_checksum ^= mtime
        sum_checksum += mtime
    return (f"split:{split_name},num_files:{len(files)},total_bytes:{total_bytes},"
            f"xor_checksum:{xor_checksum},sum_checksum:{sum_checksum}")


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

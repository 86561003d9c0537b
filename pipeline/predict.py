"""`bit-tfx predict`: classify image files with a pushed model or an ImageNet-1k BiT.

Every image goes through the serving signature that users deploy,
serving_default(image_bytes) -> classes, scores (components/bit_model/serving.py), so what
this prints is what TF Serving would answer:
  * a pushed model: SERVING_DIR (newest version, or --version N) or SERVING_DIR/<version>,
    loaded as a SavedModel, its own signature called;
  * an ImageNet-1k classifier (components/bit_model/imagenet.py): the same signature
    built around a TF Hub ilsvrc2012_classification module or an -ILSVRC2012 .npz.

Folders are searched recursively, following symbolic links to folders as ingestion does
(hidden and OS metadata files and folders skipped, sorted), and sent in batches of
--batch-size encoded files. A FIFO, socket or device (given or found) is not read: reading one
can block for ever; it is reported as not classified. The signature fails a whole batch (it
has no per-row errors: docs/operations.md): a batch it refuses (InvalidArgument: bytes that do
not decode, or an image above the pixel limit read from its header) is retried file by file,
so one bad file is reported alone.
The command line (cli/predict.py) prints the records and picks the exit code.
"""
import logging
import os
import stat
import sys

from bit_tfx.components import keys
from bit_tfx.components.bit_model import imagenet
from bit_tfx.components.errors import ConfigError

MODEL_FORMS = f"""--model takes:
  SERVING_DIR                 a pushed model: the newest version, or --version N
  SERVING_DIR/<version>       one pushed version
{imagenet.FORMS}"""

RESOLUTION_HELP = (
    f"ImageNet models only: the square size images are resized to (default "
    f"{imagenet.DEFAULT_RESOLUTION}: the BiT-HyperRule test size for ImageNet-size images, "
    f"which the -ILSVRC2012 models were fine-tuned at: resize 512, random crop 480, evaluate "
    f"at 480). Smaller is faster and less accurate: e.g. 224 for speed on CPU (4.6x fewer "
    f"FLOPs; the weights were fine-tuned at 480). "
    f"A pushed model resizes as it was trained (its Transform graph).")


class PredictError(ConfigError):
    """A --model, option or input path predict cannot use; names it and the fix."""


def classify_files(args):
    """The records of `bit-tfx predict` (one per file, in order) and how many failed."""
    source = imagenet.parse(args.model)
    _check_options(args, source)
    files, skipped = collect_files(args.inputs)
    for record in skipped:
        logging.warning("predict: %s: %s", record["file"], record["error"])
    classify, description = _load_classifier(args, source)
    logging.info("predict: %d file(s) with %s", len(files), description)
    records = run(classify, files, args.batch_size, args.top_k) + skipped
    failed = sum("error" in r for r in records)
    logging.info("predict: %d classified, %d unreadable", len(records) - failed, failed)
    shown = next((len(r["predictions"]) for r in records if "predictions" in r), args.top_k)
    if shown < args.top_k:
        logging.warning("--top-k %d: the model has %d classes; showing %d", args.top_k, shown,
                        shown)
    return records, failed


def _check_options(args, source):
    if source is not None and args.version is not None:
        raise PredictError(f"--version {args.version} applies to a pushed model's SERVING_DIR, "
                           f"not to the ImageNet classifier {args.model!r}")
    if source is None and args.resolution is not None:
        raise PredictError("--resolution applies to ImageNet classifiers only; a pushed model "
                           "resizes images as it was trained (its Transform graph)")
    if args.resolution is not None:
        imagenet.check_resolution(args.resolution)


NOT_REGULAR = "not a regular file (a FIFO, socket or device): not read"


def collect_files(inputs):
    """(files to classify, in order: files as given, folders walked; records of the inputs
    that are not regular files, which are not read)."""
    files, skipped, missing = [], [], []
    for path in inputs:
        if os.path.isdir(path):
            found, odd = _walk(path)
            files.extend(found)
            skipped.extend(odd)
        elif os.path.isfile(path):
            files.append(path)
        elif os.path.exists(path):
            skipped.append(path)
        else:
            missing.append(path)
    if missing:
        raise PredictError(f"no such file or folder: {', '.join(missing)}")
    skipped = [{"file": p, "error": NOT_REGULAR} for p in skipped]
    if not files:
        odd = f"; {', '.join(r['file'] for r in skipped)}: {NOT_REGULAR}" if skipped else ""
        raise PredictError(f"no files to classify in {', '.join(inputs)} (hidden and OS metadata "
                           f"files are skipped){odd}")
    return files, skipped


def _walk(folder):
    """(regular files, other non-folder entries) under `folder`, sorted; symbolic links to
    folders are followed, each real folder once (a link back up is no endless loop)."""
    found, odd, seen = [], [], set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not keys.is_hidden_or_os_metadata(d)]
        for name in names:
            if keys.is_hidden_or_os_metadata(name):
                continue
            path = os.path.join(root, name)
            (found if _is_regular_or_unreadable(path) else odd).append(path)
    return sorted(found), sorted(odd)


def _is_regular_or_unreadable(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # a dangling link: reading it reports "cannot read"


def _load_classifier(args, source):
    """(classify(image_bytes) -> {"classes", "scores"}, a description for the log)."""
    if source is not None:
        resolution = args.resolution or imagenet.DEFAULT_RESOLUTION
        module = imagenet.build_serving(source, resolution)
        # The closures below keep the module (the loaded model) alive: a bound tf.function
        # and a loaded signature hold it only weakly.
        return (lambda image_bytes: module.serve_bytes(image_bytes),
                f"ImageNet-1k classifier {args.model} at {resolution}x{resolution}")
    version_dir = resolve_version(args.model, args.version)
    loaded = load_saved_model(version_dir)
    signature = loaded.signatures.get("serving_default")
    inputs = signature.structured_input_signature[1] if signature is not None else {}
    if "image_bytes" not in inputs:
        raise PredictError(
            f"{version_dir} is a SavedModel but not a bit-tfx pushed model: its serving_default "
            f"takes {sorted(inputs) or 'nothing'}, not image_bytes. For an ImageNet classifier "
            f"in TF Hub layout use --model hub:{args.model}")
    return (lambda image_bytes: loaded.signatures["serving_default"](image_bytes=image_bytes),
            f"pushed model {version_dir}")


def load_saved_model(version_dir):
    """tf.saved_model.load, with a damaged or incomplete SavedModel (saved_model.pb that does
    not parse: OSError; one without a MetaGraph, e.g. empty: ValueError; missing variables:
    an OpError) refused by name."""
    import tensorflow as tf
    try:
        return tf.saved_model.load(version_dir)
    except (OSError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PredictError(f"{version_dir}: not a readable SavedModel ({first}): its saved_model.pb "
                           "is damaged or incomplete; push the model again, or pick another version "
                           "with --version") from None


def resolve_version(model, version):
    """The version folder: `model` itself when it holds saved_model.pb, else the newest (or
    the --version) numeric folder with a saved_model.pb in it (Pusher writes that file
    last, so a half-written version is never picked)."""
    import tensorflow as tf
    if tf.io.gfile.exists(os.path.join(model, "saved_model.pb")):
        if version is not None:
            raise PredictError(f"--version {version}: {model} is itself a version folder; give "
                               "its SERVING_DIR or leave --version out")
        return model
    if not tf.io.gfile.isdir(model):
        raise PredictError(f"--model {model!r} is neither a directory (a pushed model) nor a "
                           f"model spec\n{MODEL_FORMS}")
    from bit_tfx.components.serving import versions as served  # pylint: disable=import-outside-toplevel
    versions, _ = served.pushed_versions(model)
    if not versions:
        raise PredictError(f"--model {model}: no pushed version in it (numeric folders holding "
                           f"saved_model.pb)\n{MODEL_FORMS}")
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        raise PredictError(f"--version {version} is not in {model}; versions there: "
                           f"{', '.join(map(str, sorted(versions)))}")
    return versions[version]


def run(classify, files, batch_size, top_k):
    """One record per file, in order: {"file", "predictions"} or {"file", "error"}."""
    from tqdm import tqdm
    records = []
    with tqdm(total=len(files), unit="image", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(files), batch_size):
            batch = files[start:start + batch_size]
            records.extend(_classify_batch(classify, batch, top_k))
            bar.update(len(batch))
    return records


def _classify_batch(classify, paths, top_k):
    readable, by_path = [], {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                readable.append((path, f.read()))
        except OSError as e:
            by_path[path] = {"file": path, "error": f"cannot read: {e.strerror or e}"}
    for record in _classify_readable(classify, readable, top_k):
        by_path[record["file"]] = record
    return [by_path[p] for p in paths]


def _classify_readable(classify, items, top_k):
    import tensorflow as tf
    if not items:
        return []
    try:
        out = classify(tf.constant([data for _, data in items]))
    except tf.errors.InvalidArgumentError as e:
        if len(items) == 1:
            return [{"file": items[0][0], "error": error_reason(e)}]
        return [r for item in items for r in _classify_readable(classify, [item], top_k)]
    classes, scores = out["classes"].numpy()[:, :top_k], out["scores"].numpy()[:, :top_k]
    return [{"file": path,
             "predictions": [{"class": c.decode("utf-8"), "probability": float(s)}
                             for c, s in zip(row_classes, row_scores)]}
            for (path, _), row_classes, row_scores in zip(items, classes, scores)]


def error_reason(error):
    """The op's own message ("Invalid PNG data, size 101"), without TF's graph context."""
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    for before, line in zip(lines, lines[1:]):
        if line.startswith("[["):
            return before
    return lines[-1] if lines else type(error).__name__

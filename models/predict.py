"""`bit-tfx predict`: classify image files with a pushed model or an ImageNet-1k BiT.

Every image goes through the serving signature that users deploy,
serving_default(image_bytes) -> classes, scores (models/bit/signatures.py), so what
this prints is what TF Serving would answer:
  * a pushed model: SERVING_DIR (newest version, or --version N) or SERVING_DIR/<version>,
    loaded as a SavedModel, its own signature called;
  * an ImageNet-1k classifier (models/bit/imagenet.py): the same signature
    built around a TF Hub ilsvrc2012_classification module or an -ILSVRC2012 .npz.

Folders are searched recursively, following symbolic links to folders as ingestion does
(hidden and OS metadata files and folders skipped, sorted), and sent in batches of
--files-per-call encoded files. A FIFO, socket or device (given or found) is not read: reading one
can block for ever; it is reported as not classified. The signature fails a whole batch (it
has no per-row errors: docs/operations.md): a batch it refuses (InvalidArgument: bytes that do
not decode, or an image above the pixel limit read from its header) is retried file by file,
so one bad file is reported alone. Each file is first judged by ingestion's header reader
(core/image_check.py), and a file TensorFlow cannot decode is named
in ingestion's words: the same reason for the same file in `bit-tfx run` and here.
With --embeddings PATH (a pushed model only) it writes the serving_embeddings signature's
vectors (raw or, with --l2-normalize, L2-normalised) to PATH (.npy or .jsonl) instead.
The command line (cli/predict.py) prints the records and picks the exit code.
"""
import logging
import os
import stat
import sys

from ..core import keys
from .bit import imagenet
from ..core.errors import ConfigError
from ..core import image_check

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
    logging.info("predict: %d file(s)%s with %s", len(files) + len(skipped), _not_read(skipped), description)
    records = run(classify, files, args.files_per_call, args.top_k) + skipped
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


def _not_read(skipped):
    """How many of the inputs counted are reported without being read (FIFOs, devices)."""
    return f" ({len(skipped)} not a regular file: reported, not read)" if skipped else ""


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
    signature = loaded.signatures.get(keys.SIGNATURE_CLASSIFY)
    inputs = signature.structured_input_signature[1] if signature is not None else {}
    if keys.INPUT_IMAGE_BYTES not in inputs:
        raise PredictError(
            f"{version_dir} is a SavedModel but not a bit-tfx pushed model: its {keys.SIGNATURE_CLASSIFY} "
            f"takes {sorted(inputs) or 'nothing'}, not {keys.INPUT_IMAGE_BYTES}. For an ImageNet classifier "
            f"in TF Hub layout use --model hub:{args.model}")
    # closes over `loaded`, not the signature, for the reason above
    return (lambda image_bytes: loaded.signatures[keys.SIGNATURE_CLASSIFY](
        **{keys.INPUT_IMAGE_BYTES: image_bytes}),
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
    from ..core import versions as served  # pylint: disable=import-outside-toplevel
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
    def records(items, out):
        classes, scores = out["classes"].numpy()[:, :top_k], out["scores"].numpy()[:, :top_k]
        return [{"file": path,
                 "predictions": [{"class": c.decode("utf-8"), "probability": float(s)}
                                 for c, s in zip(row_classes, row_scores)]}
                for (path, _), row_classes, row_scores in zip(items, classes, scores)]
    return _run_batches(classify, files, batch_size, records)


def _run_batches(call, files, batch_size, to_records):
    """call(image_bytes) over files in batches; to_records(items, outputs) -> one record per
    item; an unreadable file or a refused image is an {"file", "error"} record."""
    from tqdm import tqdm
    records = []
    with tqdm(total=len(files), unit="image", file=sys.stderr, disable=None) as bar:
        for start in range(0, len(files), batch_size):
            batch = files[start:start + batch_size]
            records.extend(_call_batch(call, batch, to_records))
            bar.update(len(batch))
    return records


def _call_batch(call, paths, to_records):
    readable, by_path = [], {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            by_path[path] = {"file": path, "error": f"cannot read: {e.strerror or e}"}
            continue
        try:
            # Ingestion's header reader: the same verdict, in the same words, for the same file
            # (no pixel limit here: the model's own applies, in the signature).
            image_check.read_header(data, max_pixels=sys.maxsize)
        except image_check.BadImage as e:
            by_path[path] = {"file": path, "error": str(e)}
            continue
        readable.append((path, data))
    for record in _call_readable(call, readable, to_records):
        by_path[record["file"]] = record
    return [by_path[p] for p in paths]


def _call_readable(call, items, to_records):
    import tensorflow as tf
    if not items:
        return []
    try:
        out = call(tf.constant([data for _, data in items]))
    except tf.errors.InvalidArgumentError as e:
        if len(items) == 1:
            return [{"file": items[0][0], "error": refusal_reason(e, items[0][1])}]
        return [r for item in items for r in _call_readable(call, [item], to_records)]
    return to_records(items, out)


EMBEDDING_FORMATS = (".npy", ".jsonl")


def embed_files(args):
    """`bit-tfx predict --embeddings PATH`: the pushed model's serving_embeddings for every
    file, written to PATH (.npy: float32 [rows, D] in file order, the files of the rows in
    PATH with .files.txt; .jsonl: {"file", "embedding"} or {"file", "error"} per line).
    Returns (summary, number of files that failed); failed files are in the summary, never
    silently left out."""
    import json

    import numpy as np
    from ..core import keys
    path = args.embeddings
    if imagenet.parse(args.model) is not None:
        raise PredictError(f"--embeddings needs a pushed model (its {keys.SIGNATURE_EMBEDDINGS} "
                           f"signature), not the ImageNet classifier {args.model!r}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in EMBEDDING_FORMATS:
        raise PredictError(f"--embeddings {path}: name it .npy (an array, with the file list "
                           f"beside it) or .jsonl (JSON lines)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise PredictError(f"--embeddings {path}: the folder {folder} does not exist")
    files, skipped = collect_files(args.inputs)
    for record in skipped:
        logging.warning("predict: %s: %s", record["file"], record["error"])
    version_dir = resolve_version(args.model, args.version)
    loaded = load_saved_model(version_dir)
    if keys.SIGNATURE_EMBEDDINGS not in loaded.signatures:
        raise PredictError(f"{version_dir} has no {keys.SIGNATURE_EMBEDDINGS} signature (it was "
                           f"pushed before bit-tfx exported embeddings); signatures there: "
                           f"{', '.join(sorted(loaded.signatures))}")
    output = keys.OUTPUT_EMBEDDING_L2 if args.l2_normalize else keys.OUTPUT_EMBEDDING
    logging.info("predict: embeddings (%s) of %d file(s)%s with %s", output, len(files) + len(skipped),
                 _not_read(skipped), version_dir)

    def call(image_bytes):
        return loaded.signatures[keys.SIGNATURE_EMBEDDINGS](image_bytes=image_bytes)

    def records(items, out):
        return [{"file": p, "embedding": row} for (p, _), row in zip(items, out[output].numpy())]

    results = _run_batches(call, files, args.files_per_call, records) + skipped
    good = [r for r in results if "embedding" in r]
    errors = [r for r in results if "error" in r]
    summary = {"embeddings": path, "model": version_dir, "output": output, "rows": len(good),
               "dim": int(good[0]["embedding"].shape[0]) if good else None, "errors": errors}
    if suffix == ".npy":
        dim = summary["dim"] or 0
        np.save(path, np.stack([r["embedding"] for r in good]).astype(np.float32) if good
                else np.zeros((0, dim), np.float32))
        summary["files"] = os.path.splitext(path)[0] + ".files.txt"
        with open(summary["files"], "w", encoding="utf-8") as f:
            f.write("".join(r["file"] + "\n" for r in good))
    else:
        with open(path, "w", encoding="utf-8") as f:
            for r in results:
                r = {"file": r["file"], "embedding": r["embedding"].tolist()} \
                    if "embedding" in r else r
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    logging.info("predict: %d embedded, %d unreadable -> %s", len(good), len(errors), path)
    return summary, len(errors)


def refusal_reason(error, data):
    """Why the signature refused one image: where TensorFlow's decoder refuses it, the words of
    ingestion's check (image_check: "undecodable: TensorFlow cannot decode it (...)"), which
    quarantines such a file; the signature's own message otherwise (the pixel limit)."""
    reason = error_reason(error)
    if "max_image_pixels" not in reason:  # never decode an image the limit refused
        try:
            image_check.check_decodes(data)
        except image_check.BadImage as bad:
            return str(bad)
    return reason


def error_reason(error):
    """The op's own message ("Invalid PNG data, size 101"), without TF's graph context."""
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    for before, line in zip(lines, lines[1:]):
        if line.startswith("[["):
            return before
    return lines[-1] if lines else type(error).__name__

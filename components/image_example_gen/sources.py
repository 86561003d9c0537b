"""Where labelled images come from: layouts, input patterns, and the checks made
before any Beam work starts.

Layouts (`--data` as the user gives it):
  class_folders  root/<label>/<image>                     split by hashing the path
  split_folders  root/{train,eval|val|validation|test}/<label>/<image>
  csv            a manifest `path,label[,split]` (header optional), paths relative
                 to the CSV's folder or absolute (local or gs://)
  tfrecord       tf.Example files already in our feature format (ImportExampleGen)

A `{SPAN}` in a folder or file name (root/span-{SPAN}/...) makes every run take
the newest span, through TFX's file-based ExampleGen driver.

All file-system access goes through tf.io.gfile, so gs:// works as local paths do.
"""
import collections
import csv
import io
import posixpath

import tensorflow as tf

from bit_tfx.components import keys
from bit_tfx.components.errors import ConfigError

CLASS_FOLDERS = "class_folders"
SPLIT_FOLDERS = "split_folders"
CSV = "csv"
TFRECORD = "tfrecord"
LAYOUTS = (CLASS_FOLDERS, SPLIT_FOLDERS, CSV, TFRECORD)
SPAN_SPEC = "{SPAN}"

# How many wildcard path levels a layout's input pattern ends with.
_FOLDER_DEPTH = {CLASS_FOLDERS: 2, SPLIT_FOLDERS: 3}


class SourceError(ConfigError):
    """Input that cannot be ingested; raised before any Beam work, names the path and the fix."""


Source = collections.namedtuple("Source", "input_base pattern layout")
# One unit of ingestion work: a class folder to list, or a manifest line to parse.
ClassFolder = collections.namedtuple("ClassFolder", "path relpath label split")
Plan = collections.namedtuple("Plan", "layout class_folders manifest labels")


def join(*parts):
    return posixpath.join(*[p for p in parts if p])


def is_remote(path):
    return "://" in path


def _is_dir(parent, name):
    # Object stores mark "directories" with a trailing slash; avoid a stat per file there.
    if name.endswith("/"):
        return True
    path = join(parent, name)
    return tf.io.gfile.isdir(path)


def list_entries(folder):
    """(files, subfolders, hidden) names directly inside `folder`, sorted."""
    files, dirs, hidden = [], [], []
    for name in sorted(tf.io.gfile.listdir(folder)):
        bare = name.rstrip("/")
        if bare.startswith("."):
            hidden.append(bare)
        elif _is_dir(folder, name):
            dirs.append(bare)
        else:
            files.append(bare)
    return files, dirs, hidden


def split_of(name):
    return keys.SPLIT_ALIASES.get(name.lower())


def _span_parts(data):
    """Splits `data` at the path segment holding {SPAN}: (base, span_segment_and_rest)."""
    segments = data.rstrip("/").split("/")
    for i, seg in enumerate(segments):
        if SPAN_SPEC in seg:
            return "/".join(segments[:i]), "/".join(segments[i:])
    return None, None


def _newest_span_path(base, rest):
    """The path of the newest existing span, for detecting its layout."""
    import re
    head = rest.split("/")[0]
    regex = re.compile("^" + re.escape(head).replace(re.escape(SPAN_SPEC), r"(\d+)") + "$")
    spans = []
    for name in tf.io.gfile.listdir(base):
        m = regex.match(name.rstrip("/"))
        if m:
            spans.append((int(m.group(1)), name.rstrip("/")))
    if not spans:
        raise SourceError(f"no span matches {join(base, head)!r}: expected names like "
                          f"{head.replace(SPAN_SPEC, '1')!r} under {base!r}")
    return join(base, max(spans)[1], *rest.split("/")[1:])


def detect_layout(folder):
    """split_folders when the sub-folders are train plus an eval alias, else class_folders."""
    _, dirs, _ = list_entries(folder)
    splits = {d: split_of(d) for d in dirs}
    if dirs and all(splits.values()) and keys.TRAIN_SPLIT in splits.values():
        return SPLIT_FOLDERS
    return CLASS_FOLDERS


def resolve(data, layout="auto"):
    """Turns the user's `--data` into a Source(input_base, pattern, layout) for ExampleGen."""
    data = data.rstrip("/") if data not in ("/",) else data
    if layout != "auto" and layout not in LAYOUTS:
        raise SourceError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    probe = newest_span(data)
    lower = data.lower()
    if layout == "auto":
        if lower.endswith(".csv"):
            layout = CSV
        elif any(t in lower for t in (".tfrecord", ".tfrec", ".gz")) and not tf.io.gfile.isdir(probe):
            layout = TFRECORD
        elif tf.io.gfile.isdir(probe):
            layout = detect_layout(probe)
        else:
            raise SourceError(f"--data {data!r} is neither a folder, a .csv manifest nor TFRecord "
                              "files; see README 'Bringing your images' for the layouts")
    if layout in (CSV, TFRECORD):
        if not tf.io.gfile.glob(probe):
            raise SourceError(f"--data {data!r}: no such file")
    elif not tf.io.gfile.isdir(probe):
        raise SourceError(f"--data {data!r}: no such folder")
    return source_from_names(data, layout)


def source_from_names(data, layout):
    """The Source for `data` from its names alone, without touching any file system: for
    compiling a pipeline whose data this machine cannot read (gs:// at compile time). The
    layout must be given, or follow from the name (a .csv manifest, TFRecord files)."""
    data = data.rstrip("/") if data not in ("/",) else data
    if layout == "auto":
        lower = data.lower()
        if lower.endswith(".csv"):
            layout = CSV
        elif any(t in lower for t in (".tfrecord", ".tfrec", ".gz")):
            layout = TFRECORD
        else:
            raise SourceError(f"layout: --data {data!r} cannot be looked at from here, so its layout "
                              f"cannot be detected; give it (one of {LAYOUTS})")
    if layout not in LAYOUTS:
        raise SourceError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    if layout in (CSV, TFRECORD):
        base, name = posixpath.split(data)
        return Source(base, name, layout)
    span_base, span_rest = _span_parts(data)
    wild = "/".join(["*"] * _FOLDER_DEPTH[layout])
    if span_base is not None:
        return Source(span_base, join(span_rest, wild), layout)
    return Source(data, wild, layout)


def newest_span(path):
    """`path` with a {SPAN} segment replaced by the newest existing span (as the
    ExampleGen driver will choose); other paths unchanged. Lets the checks made before
    the pipeline starts look at the data the run will ingest."""
    base, rest = _span_parts(path)
    return path if base is None else _newest_span_path(base, rest)


def root_of(source):
    """The folder the layout starts from ({SPAN} resolved to the newest span)."""
    depth = _FOLDER_DEPTH[source.layout]
    prefix = "/".join(source.pattern.split("/")[:-depth])
    root = newest_span(join(source.input_base, prefix))
    return root, root[len(source.input_base):].lstrip("/")


def _class_folders(folder, rel, split):
    files_at_root, dirs, _ = list_entries(folder)
    result = []
    for label in dirs:
        result.append(ClassFolder(join(folder, label), join(rel, label), label, split))
    return result, files_at_root


def _check_class_folders(folders, where):
    """Each class folder must hold at least one file."""
    empty = [f.path for f in folders if not list_entries(f.path)[0]]
    if empty:
        raise SourceError(f"class folder(s) with no files in {where}: {', '.join(empty)}; "
                          "add images or remove the folder(s)")


def plan_folders(source):
    """Checks a folder layout and lists its class folders (not their files)."""
    root, rel = root_of(source)
    if not tf.io.gfile.isdir(root):
        raise SourceError(f"input folder {root!r} does not exist")
    if source.layout == CLASS_FOLDERS:
        folders, stray = _class_folders(root, rel, None)
        if stray:
            raise SourceError(f"{len(stray)} file(s) directly in {root!r} (e.g. {stray[0]!r}) have no "
                              "class folder; move them into <root>/<label>/")
        if not folders:
            raise SourceError(f"empty input: {root!r} has no class folders (<root>/<label>/<image>)")
        labels = sorted({f.label for f in folders})
        if len(labels) < 2:
            raise SourceError(f"{root!r} has a single class ({labels[0]!r}); classification "
                              "needs at least two class folders")
        _check_class_folders(folders, root)
        return Plan(source.layout, folders, None, labels)

    _, dirs, _ = list_entries(root)
    by_split = collections.defaultdict(list)
    for d in dirs:
        split = split_of(d)
        if split is None:
            raise SourceError(f"{join(root, d)!r} is not a split folder; with split folders the "
                              f"top level may only hold {sorted(keys.SPLIT_ALIASES)}")
        by_split[split].append(d)
    for split in keys.SPLIT_NAMES:
        if len(by_split[split]) != 1:
            found = by_split[split] or "none"
            raise SourceError(f"{root!r} needs exactly one {split} split folder "
                              f"({[a for a, s in keys.SPLIT_ALIASES.items() if s == split]}), found {found}")
    folders, per_split = [], {}
    for split in keys.SPLIT_NAMES:
        name = by_split[split][0]
        found, stray = _class_folders(join(root, name), join(rel, name), split)
        if stray:
            raise SourceError(f"{len(stray)} file(s) directly in {join(root, name)!r} have no class "
                              "folder; move them into <split>/<label>/")
        folders += found
        per_split[split] = {f.label for f in found}
    train_labels = per_split[keys.TRAIN_SPLIT]
    if len(train_labels) < 2:
        raise SourceError(f"the train split of {root!r} has {len(train_labels)} class folder(s); "
                          "classification needs at least two")
    unknown = sorted(per_split[keys.EVAL_SPLIT] - train_labels)
    if unknown:
        raise SourceError(f"eval classes {unknown} of {root!r} have no train folder; the model "
                          "cannot learn them")
    _check_class_folders(folders, root)
    return Plan(source.layout, folders, None, sorted(train_labels))


def parse_manifest_line(line, line_no, csv_path, columns):
    """One manifest row -> (path, label, split or None); raises SourceError naming the line."""
    row = next(csv.reader(io.StringIO(line)), [])
    if len(row) != columns or not row[0].strip() or not row[1].strip():
        raise SourceError(f"{csv_path} line {line_no}: expected {columns} columns "
                          f"(path,label{',split' if columns == 3 else ''}) with a path and a label, "
                          f"got {row!r}")
    split = None
    if columns == 3:
        split = split_of(row[2].strip())
        if split is None:
            raise SourceError(f"{csv_path} line {line_no}: split {row[2]!r} is not one of "
                              f"{sorted(keys.SPLIT_ALIASES)}")
    return row[0].strip(), row[1], split


def manifest_header(csv_path):
    """(has_header, columns) from the manifest's first line."""
    with tf.io.gfile.GFile(csv_path, "r") as f:
        first = f.readline()
    if not first.strip():
        raise SourceError(f"empty input: manifest {csv_path} is empty")
    row = [c.strip().lower() for c in next(csv.reader(io.StringIO(first)))]
    if row in (["path", "label"], ["path", "label", "split"]):
        return True, len(row)
    if len(row) not in (2, 3):
        raise SourceError(f"{csv_path} line 1: a manifest has the columns path,label[,split], "
                          f"got {len(row)} columns")
    return False, len(row)


def plan_manifest(source):
    """Streams the manifest once (holding only label counts) and checks it."""
    path = newest_span(join(source.input_base, source.pattern))
    if not tf.io.gfile.exists(path):
        raise SourceError(f"manifest {path!r} does not exist")
    has_header, columns = manifest_header(path)
    counts = collections.Counter()
    with tf.io.gfile.GFile(path, "r") as f:
        for line_no, line in enumerate(f, start=1):
            if (has_header and line_no == 1) or not line.strip():
                continue
            _, label, split = parse_manifest_line(line, line_no, path, columns)
            counts[(split or keys.TRAIN_SPLIT, label)] += 1
    if not counts:
        raise SourceError(f"empty input: manifest {path} lists no images")
    train_labels = sorted({label for split, label in counts if split == keys.TRAIN_SPLIT})
    if len(train_labels) < 2:
        raise SourceError(f"manifest {path} has {len(train_labels)} training class(es) "
                          f"{train_labels}; classification needs at least two")
    if columns == 3 and not any(split == keys.EVAL_SPLIT for split, _ in counts):
        raise SourceError(f"manifest {path} has a split column but no eval rows")
    unknown = sorted({label for split, label in counts if split == keys.EVAL_SPLIT} - set(train_labels))
    if unknown:
        raise SourceError(f"manifest {path}: eval labels {unknown} never appear in train rows")
    return Plan(CSV, None, (path, has_header, columns), train_labels)


def plan(source):
    if source.layout == CSV:
        return plan_manifest(source)
    if source.layout in _FOLDER_DEPTH:
        return plan_folders(source)
    raise SourceError(f"layout {source.layout!r} is not ingested by ImageExampleGen")

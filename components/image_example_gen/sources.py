"""Where labelled images come from: layouts, input patterns, and the checks made
before any Beam work starts.

Layouts (`--data` as the user gives it):
  class_folders  root/<label>/<image>                     split by hashing the path
  split_folders  root/{train,eval|val|valid|validation|test}/<label>/<image>
  csv            a manifest `path,label[,split]` (header optional), paths relative
                 to the CSV's folder (never leaving it: `../` is refused) or absolute
                 (local or gs://)
  tfrecord       tf.Example files already in our feature format (ImportExampleGen)

A `{SPAN}` in a folder or file name (root/span-{SPAN}/...) makes every run take
the newest span, through TFX's file-based ExampleGen driver.

All file-system access goes through tf.io.gfile, so gs:// works as local paths do (local
folders are listed with os.scandir as well, to tell regular files from FIFOs and dangling links).

What is not ingested is skipped and listed in the quarantine report (never counted as bad):
hidden and OS metadata files anywhere, files that are in no class folder (a LICENSE.txt at the
root or directly in a split folder), folders nested inside a class folder (not read: the input
fingerprint that makes unchanged data a cache hit covers <root>/<label>/<file> only), FIFOs and
other non-regular files, and repeated manifest rows. Labels are stripped of surrounding white
space, in folder names and manifests alike; an empty label or one with a line break is refused
(tf.Transform's vocabulary cannot hold it), and so is a dangling symbolic link anywhere under
the data (its target is nothing to read or fingerprint).
"""
import collections
import csv
import io
import os
import posixpath

import tensorflow as tf

from ...core import keys
from ...core.errors import ConfigError

LAYOUTS = keys.LAYOUTS
CLASS_FOLDERS, SPLIT_FOLDERS, CSV, TFRECORD = LAYOUTS
SPAN_SPEC = keys.SPAN_SPEC

# How many wildcard path levels a layout's input pattern ends with.
_FOLDER_DEPTH = {CLASS_FOLDERS: 2, SPLIT_FOLDERS: 3}

# Why an entry is skipped (the quarantine report's "skipped" reasons; never bad files).
HIDDEN_FILE = "hidden_file"                  # hidden or OS metadata file or folder, anywhere
NOT_IN_CLASS_FOLDER = "not_in_class_folder"  # a file at the root or directly in a split folder
NESTED_FOLDER = "nested_folder"              # a folder inside a class folder: not read
NOT_REGULAR_FILE = "not_regular_file"        # a FIFO, socket or device: reading could block
DANGLING_LINK = "dangling_symlink"           # appeared after planning (planning refuses them)
DUPLICATE_ROW = "duplicate_row"              # a manifest row repeating an earlier one
NESTED_FIX = ("images must sit directly in <label>/: move them up into the class folder, or "
              "list them in a CSV manifest (path,label)")


class SourceError(ConfigError):
    """Input that cannot be ingested; raised before any Beam work, names the path and the fix."""


Source = collections.namedtuple("Source", "input_base pattern layout")
# One unit of ingestion work: a class folder to list, or a manifest line to parse.
ClassFolder = collections.namedtuple("ClassFolder", "path relpath label split")
# skipped: the quarantine report's records ({file, label, reason, detail}) of what planning
# saw and will not ingest (files outside class folders, hidden files, repeated manifest rows).
Plan = collections.namedtuple("Plan", "layout class_folders manifest labels skipped")
# What a folder holds: names of regular files and of folders, and (name, reason) of the rest.
Entries = collections.namedtuple("Entries", "files dirs skipped")


def join(*parts):
    return posixpath.join(*[p for p in parts if p])


def is_remote(path):
    return "://" in path


def is_utf8(name):
    """False for a name holding bytes that are not UTF-8 (Python hands a Linux file name's
    undecodable bytes over as lone surrogates, which no UTF-8 writer accepts)."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def shown_name(name):
    """A file name as text that UTF-8 can always store: bytes that are not UTF-8 become
    \\xNN escapes (b'bad\\xffname.png' is shown as 'bad\\\\xffname.png')."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def skipped_record(file, reason, label=None, detail=None):
    return {"file": shown_name(file), "label": label, "reason": reason, "detail": detail}


def _is_dir(parent, name):
    # Object stores mark "directories" with a trailing slash; avoid a stat per file there.
    if name.endswith("/"):
        return True
    path = join(parent, name)
    return tf.io.gfile.isdir(path)


def _kind(entry):
    """A local os.DirEntry: "file", "dir" (both following symbolic links), or a skip reason."""
    if entry.is_dir():
        return "dir"
    if entry.is_file():
        return "file"
    if entry.is_symlink() and not os.path.exists(entry.path):
        return DANGLING_LINK
    return NOT_REGULAR_FILE


def list_entries(folder):
    """Entries(files, dirs, skipped) directly inside `folder`, sorted by name. Hidden and OS
    metadata names are skipped; locally, so are FIFOs, sockets, devices and dangling links."""
    files, dirs, skipped = [], [], []
    if is_remote(folder):
        named = [(n.rstrip("/"), n) for n in tf.io.gfile.listdir(folder)]
        kinds = {bare: ("dir" if _is_dir(folder, raw) else "file") for bare, raw in named
                 if not keys.is_hidden_or_os_metadata(bare)}
        names = [bare for bare, _ in named]
    else:
        try:
            with os.scandir(folder) as it:
                local = {e.name: e for e in it}
        except OSError as e:
            raise SourceError(f"cannot list {folder!r}: {e.strerror or e}") from e
        kinds = {n: _kind(e) for n, e in local.items() if not keys.is_hidden_or_os_metadata(n)}
        names = list(local)
    for name in sorted(names):
        kind = kinds.get(name, HIDDEN_FILE)
        if kind == "file":
            files.append(name)
        elif kind == "dir":
            dirs.append(name)
        else:
            skipped.append((name, kind))
    return Entries(files, dirs, skipped)


def dangling_links(root):
    """Every dangling symbolic link under a local `root` (symlinked folders followed once)."""
    if is_remote(root):
        return []
    found, seen, stack = [], set(), [root]
    while stack:
        folder = stack.pop()
        real = os.path.realpath(folder)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            raise SourceError(f"cannot list {folder!r}: {e.strerror or e}") from e
        for entry in entries:
            if entry.is_dir():
                stack.append(entry.path)
            elif entry.is_symlink() and not os.path.exists(entry.path):
                found.append(entry.path)
    return sorted(found)


def _refuse_dangling_links(root):
    found = dangling_links(root)
    if found:
        shown = ", ".join(f"{p!r} -> {os.readlink(p)!r}" for p in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise SourceError(f"{len(found)} dangling symbolic link(s) under {root!r} (their targets "
                          f"do not exist): {shown}{more}; remove them or restore their targets")


def check_label(label, where):
    """A label tf.Transform's vocabulary can hold: non-empty, no line break. `label` is already
    stripped; `where` names the folder or manifest line."""
    if not is_utf8(label):
        raise SourceError(f"{where}: the name is not UTF-8 text, and labels are "
                          "stored as UTF-8; rename it (e.g. `convmv -f latin1 -t utf-8`)")
    if not label:
        raise SourceError(f"{where}: the label is empty (or only white space); give every class "
                          "a name")
    if "\n" in label or "\r" in label:
        raise SourceError(f"{where}: the label {label!r} holds a line break, which tf.Transform's "
                          "label vocabulary cannot store (its images would train as no class); "
                          "rename it without \\n or \\r")
    return label


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
    dirs = list_entries(folder).dirs
    splits = {d: split_of(d) for d in dirs}
    if dirs and all(splits.values()) and keys.TRAIN_SPLIT in splits.values():
        return SPLIT_FOLDERS
    return CLASS_FOLDERS


def resolve(data, layout="auto"):
    """Turns the user's `--data` into a Source(input_base, pattern, layout) for ExampleGen."""
    data = data.rstrip("/") if data not in ("/",) else data
    if not is_utf8(data):
        raise SourceError(f"--data {shown_name(data)!r}: the path is not UTF-8 text, which "
                          "TensorFlow's file system cannot open; rename it (e.g. `convmv -f "
                          "latin1 -t utf-8`)")
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
        if tf.io.gfile.isdir(probe):
            what = "a .csv manifest file" if layout == CSV else "TFRecord files (a file or a glob)"
            raise SourceError(
                f"layout {layout!r} does not fit --data {data!r}: that is a folder, and the "
                f"{layout} layout reads {what}; for a folder of images give --layout auto (or "
                f"{CLASS_FOLDERS}, {SPLIT_FOLDERS}), else point --data at the "
                f"{'manifest' if layout == CSV else 'files, e.g. ' + repr(join(data, '*.tfrecord'))}",
                field="layout")
        if not tf.io.gfile.glob(probe):
            raise SourceError(f"--data {data!r}: no such file")
    elif not tf.io.gfile.isdir(probe):
        if tf.io.gfile.exists(probe):
            raise SourceError(
                f"layout {layout!r} does not fit --data {data!r}: that is a file, and the {layout} "
                f"layout reads a folder of images; for a file give --layout auto (or {CSV}, "
                f"{TFRECORD}), else point --data at the image folder", field="layout")
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


def stray_output(entries):
    """What an earlier run whose --output was inside the data left in a folder's Entries
    (metadata.sqlite, pipeline_root/); configs.RunConfig refuses such an --output now."""
    return ([n for n in entries.files if n == keys.METADATA_FILE]
            + [n + "/" for n in entries.dirs if n == keys.PIPELINE_ROOT_DIR])


def _refuse_stray_output(folder, entries):
    stray = stray_output(entries)
    if stray:
        raise SourceError(
            f"{folder!r} holds {' and '.join(stray)}: the output of an earlier run written into "
            f"the data (an --output equal to or inside --data, refused now), not images; delete "
            f"{'them' if len(stray) > 1 else 'it'} (or move {'them' if len(stray) > 1 else 'it'} "
            "out of the data folder) and give --output outside --data")


def _class_folders(folder, rel, split):
    """The class folders directly in `folder`, and the skipped records of everything else."""
    entries = list_entries(folder)
    _refuse_stray_output(folder, entries)
    result = []
    for name in entries.dirs:
        label = check_label(name.strip(), f"class folder {shown_name(join(folder, name))!r}")
        result.append(ClassFolder(join(folder, name), join(rel, name), label, split))
    skipped = [skipped_record(join(rel, name), NOT_IN_CLASS_FOLDER) for name in entries.files]
    skipped += [skipped_record(join(rel, name), reason) for name, reason in entries.skipped]
    return result, skipped


def _check_class_folders(folders, where):
    """Each class folder must hold at least one file (sub-folders are not read)."""
    empty, nested = [], []
    for f in folders:
        entries = list_entries(f.path)
        if stray_output(entries):
            raise SourceError(
                f"class folder {f.path!r} is the output folder of an earlier run (it holds "
                f"{' and '.join(stray_output(entries))}), not a class: an --output inside --data, "
                "refused now; delete that folder (or move it out of the data folder) and give "
                "--output outside --data")
        if not entries.files:
            (nested if entries.dirs else empty).append((f.path, entries.dirs))
    problems = []
    if empty:
        problems.append(f"class folder(s) with no files in {where}: "
                        f"{', '.join(p for p, _ in empty)}; add images or remove the folder(s)")
    if nested:
        shown = "; ".join(f"{p!r} holds only sub-folder(s) {dirs}" for p, dirs in nested)
        problems.append(f"{shown}: sub-folders of a class folder are not read; {NESTED_FIX} (if "
                        f"{'they are split folders' if len(nested) > 1 else 'it is a split folder'}"
                        f", <split>/<label>/<image>, name {'them' if len(nested) > 1 else 'it'} "
                        f"{keys.TRAIN_SPLIT} and {keys.EVAL_SPLIT}, or another of "
                        f"{', '.join(sorted(keys.SPLIT_ALIASES))})")
    if problems:
        raise SourceError(". ".join(problems))


def _only_folders(path):
    entries = list_entries(path)
    return bool(entries.dirs) and not entries.files


def _refuse_unknown_split_folders(root, folders):
    """Split folders (root/train/<label>/...) beside one whose name is no split name we know
    (root/dev/<label>/...) would be read as classes holding sub-folders: name the unknown one."""
    if not any(split_of(posixpath.basename(f.path)) for f in folders):
        return
    split_like = [posixpath.basename(f.path) for f in folders if _only_folders(f.path)]
    known = [n for n in split_like if split_of(n)]
    unknown = [n for n in split_like if not split_of(n)]
    if known and unknown:
        raise SourceError(
            f"{root!r} holds the split folder(s) {known} and the folder(s) {unknown}, which hold "
            f"class folders too, but {unknown[0]!r} is not a split name bit-tfx knows "
            f"({', '.join(sorted(keys.SPLIT_ALIASES))}; case does not matter): rename it to "
            f"one of them (e.g. '{keys.EVAL_SPLIT}' for the evaluation split)")


def plan_folders(source):
    """Checks a folder layout and lists its class folders (not their files)."""
    root, rel = root_of(source)
    if not tf.io.gfile.isdir(root):
        raise SourceError(f"input folder {root!r} does not exist")
    _refuse_dangling_links(root)
    if source.layout == CLASS_FOLDERS:
        folders, skipped = _class_folders(root, rel, None)
        if not folders:
            raise SourceError(f"empty input: {root!r} has no class folders (<root>/<label>/<image>)")
        labels = sorted({f.label for f in folders})
        if len(labels) < 2:
            raise SourceError(f"{root!r} has a single class ({labels[0]!r}); classification "
                              "needs at least two class folders")
        _refuse_unknown_split_folders(root, folders)
        _check_class_folders(folders, root)
        return Plan(source.layout, folders, None, labels, skipped)

    entries = list_entries(root)
    _refuse_stray_output(root, entries)
    skipped = [skipped_record(join(rel, name), NOT_IN_CLASS_FOLDER) for name in entries.files]
    skipped += [skipped_record(join(rel, name), reason) for name, reason in entries.skipped]
    by_split = collections.defaultdict(list)
    for d in entries.dirs:
        split = split_of(d)
        if split is None:
            raise SourceError(f"{join(root, d)!r} is not a split folder; with split folders the "
                              f"top level may only hold {sorted(keys.SPLIT_ALIASES)}")
        by_split[split].append(d)
    for split in keys.SPLIT_NAMES:
        if len(by_split[split]) != 1:
            found = by_split[split] or "none"
            several = (f"; keep one of them as the {split} split and move the other(s) out of "
                       f"{root!r} (a held-out test set is not evaluated by the pipeline)"
                       if len(by_split[split]) > 1 else "")
            raise SourceError(f"{root!r} needs exactly one {split} split folder "
                              f"({[a for a, s in keys.SPLIT_ALIASES.items() if s == split]}), "
                              f"found {found}{several}")
    folders, per_split = [], {}
    for split in keys.SPLIT_NAMES:
        name = by_split[split][0]
        found, stray = _class_folders(join(root, name), join(rel, name), split)
        folders += found
        skipped += stray
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
    return Plan(source.layout, folders, None, sorted(train_labels), skipped)


def parse_manifest_line(line, line_no, csv_path, columns):
    """One manifest row -> (path, label, split or None), every cell stripped of surrounding
    white space; raises SourceError naming the line."""
    where = f"{csv_path} line {line_no}"
    try:
        rows = list(csv.reader(io.StringIO(line.lstrip("\ufeff")), strict=True))
    except csv.Error as e:
        raise SourceError(f"{where}: not a CSV row ({e}); a manifest row is one line, and a "
                          "field may not hold a line break") from None
    row = [c.strip() for c in rows[0]] if len(rows) == 1 else rows
    if len(rows) != 1 or len(row) != columns or not row[0] or not row[1]:
        raise SourceError(f"{where}: expected {columns} columns "
                          f"(path,label{',split' if columns == 3 else ''}) with a path and a label, "
                          f"got {row!r}")
    split = None
    if columns == 3:
        split = split_of(row[2])
        if split is None:
            raise SourceError(f"{where}: split {row[2]!r} is not one of "
                              f"{sorted(keys.SPLIT_ALIASES)}")
    return row[0], check_label(row[1], where), split


def manifest_file(csv_path, path):
    """(full path, path as recorded) of a manifest row's file: relative paths are relative to
    the manifest's folder; local paths are normalised ("./a.jpg" and "a.jpg" are one file)."""
    if is_remote(path):
        return path, path
    shown = posixpath.normpath(path)
    full = shown if shown.startswith("/") else join(posixpath.dirname(csv_path), shown)
    return (full if is_remote(full) else posixpath.normpath(full)), shown


def manifest_lines(csv_path):
    """(line number, text) of every manifest line, decoded as UTF-8 (a byte order mark is
    dropped); a line that is not UTF-8 is refused, naming it."""
    for line_no, raw in enumerate(_raw_lines(csv_path), start=1):
        try:
            yield line_no, raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(
                f"{csv_path} line {line_no}: not UTF-8 text (byte 0x{raw[e.start]:02x} at "
                f"column {e.start + 1}); save the manifest as UTF-8, e.g. "
                "`iconv -f latin1 -t utf-8`") from None


def _raw_lines(path, chunk=1 << 20):
    """The file's lines as bytes, split at newlines only, streamed. (GFile's own readline
    drops every carriage return, so a label "cl<CR>ass" would read as "class" here, while
    Beam's ReadFromText, which ingests the rows, keeps it.)"""
    rest = b""
    with tf.io.gfile.GFile(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                yield line + b"\n"
    if rest:
        yield rest


def manifest_header(csv_path):
    """(has_header, columns) from the manifest's first line."""
    first = next(iter(manifest_lines(csv_path)), (1, ""))[1]
    if not first.strip():
        raise SourceError(f"empty input: manifest {csv_path} is empty")
    row = [c.strip().lower() for c in next(csv.reader(io.StringIO(first)))]
    if row in (["path", "label"], ["path", "label", "split"]):
        return True, len(row)
    if len(row) not in (2, 3):
        raise SourceError(f"{csv_path} line 1: a manifest has the columns path,label[,split], "
                          f"got {len(row)} columns")
    return False, len(row)


def manifest_rows(csv_path, header=None):
    """(line number, path as written, label, split) of every row of a manifest: the header
    and blank lines left out; a row that is not one is refused naming its line. `header`:
    manifest_header's answer, when the caller has read it already."""
    has_header, columns = header or manifest_header(csv_path)
    for line_no, line in manifest_lines(csv_path):
        if (has_header and line_no == 1) or not line.strip():
            continue
        yield (line_no, *parse_manifest_line(line, line_no, csv_path, columns))


def plan_manifest(source):
    """Streams the manifest once and checks it: every row, one label and one split per file
    (a file in two splits, or with two labels, is refused), repeated rows skipped and listed."""
    path = newest_span(join(source.input_base, source.pattern))
    if not tf.io.gfile.exists(path):
        raise SourceError(f"manifest {path!r} does not exist")
    has_header, columns = manifest_header(path)
    counts = collections.Counter()
    seen, skipped = {}, []  # full path -> (line, label, split)
    for line_no, file, label, split in manifest_rows(path, (has_header, columns)):
        full, shown = manifest_file(path, file)
        if shown == ".." or shown.startswith("../"):
            raise SourceError(
                f"{path} line {line_no}: {file!r} leaves the manifest's folder "
                f"({posixpath.dirname(path) or '.'}): relative paths are read inside it, so that "
                "a manifest cannot reach files its data does not hold by accident; give the "
                "absolute path (or gs://...) if the image really lives elsewhere")
        if full in seen:
            first, first_label, first_split = seen[full]
            if first_split != split:
                raise SourceError(
                    f"{path} line {line_no}: {file!r} is in both the {split} split and the "
                    f"{first_split} split (line {first}): the same image in train and eval leaks "
                    "into the evaluation; keep one of the rows")
            if first_label != label:
                raise SourceError(
                    f"{path} line {line_no}: {file!r} has the label {label!r}, but line {first} "
                    f"gives it {first_label!r}: one file has one label; remove the wrong row")
            skipped.append(skipped_record(file, DUPLICATE_ROW, label,
                                          f"line {line_no} repeats line {first}; ingested once"))
            continue
        seen[full] = (line_no, label, split)
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
    return Plan(CSV, None, (path, has_header, columns), train_labels, skipped)


def plan(source):
    if source.layout == CSV:
        return plan_manifest(source)
    if source.layout in _FOLDER_DEPTH:
        return plan_folders(source)
    raise SourceError(f"layout {source.layout!r} is not ingested by ImageExampleGen")

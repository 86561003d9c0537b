"""The docs name what exists: every file or folder of this repository that README.md or docs/*.md
names in backticks (`models/export/saved_model.py`, `cli/`, `run.py`), and every module of ours
they name by import path (bit_tfx.models.training.run.run_fn), is there. A file that moved
leaves its old path in the prose; this finds it."""
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
# A path in backticks: letters, digits, _ . - and slashes only (no <placeholder>, * or {SPAN}).
_PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*/?)`")
_MODULE = re.compile(r"\bbit_tfx(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _files():
    """The repository's files (tracked, or new and not ignored) that are in the working tree."""
    if not os.path.exists(os.path.join(ROOT, ".git")):  # a worktree has a .git file
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    return [p for p in listed if p and os.path.isfile(os.path.join(ROOT, p))]


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _lines():
    for doc in DOCS:
        with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                yield f"{doc}:{number}", line


def test_the_paths_the_docs_name_exist():
    files = _files()
    tops = {p.split("/")[0] for p in files}
    tails = {"/".join(p.split("/")[i:]) for p in files for i in range(p.count("/") + 1)}
    stale, checked = [], 0
    for where, line in _lines():
        for path in _PATH.findall(line):
            parts = path.rstrip("/").split("/")
            if len(parts) > 1 and parts[0] in tops:    # models/export/saved_model.py, cli/
                checked += 1
                if not os.path.exists(os.path.join(ROOT, *parts)):
                    stale.append(f"{where}: {path}")
            elif len(parts) == 1 and path.endswith(".py"):  # rule.py, in a table of its folder
                checked += 1
                if path not in tails:
                    stale.append(f"{where}: {path} (no such file anywhere)")
    assert checked > 100 and not stale, "named in the docs, not in the repository:\n" + "\n".join(stale)


def test_the_modules_the_docs_name_exist():
    """bit_tfx.<folder>.<module>[.<name>]: the module is a file of ours, and the name is in it."""
    stale, checked = [], 0
    for where, line in _lines():
        for name in _MODULE.findall(line):
            checked += 1
            parts = name.split(".")[1:]
            for i in range(len(parts), 0, -1):
                base = os.path.join(ROOT, *parts[:i])
                source = base + ".py" if os.path.isfile(base + ".py") else os.path.join(base, "__init__.py")
                if os.path.isfile(source) or (i == 1 and os.path.isdir(base)):
                    break
            else:
                stale.append(f"{where}: {name} (no such module)")
                continue
            rest = parts[i:]
            if len(rest) > 1 or (rest and not re.search(rf"\b{rest[0]}\b", _read(source))):
                stale.append(f"{where}: {name} ({'.'.join(rest)} is not in {os.path.relpath(source, ROOT)})")
    assert checked > 5 and not stale, "named in the docs, not in the code:\n" + "\n".join(stale)


# Constants of other projects that the docs name in backticks.
OTHER_PROJECTS = {"ENUM_TYPE_UNEXPECTED_STRING_VALUES"}  # a TFDV anomaly type


def test_the_constants_the_docs_name_exist():
    """A CONSTANT_NAME in backticks (`FRACTAL_SMALL`, `NODE_TRAINER`) is defined or used in our
    Python files: a renamed constant leaves its old name in the prose."""
    code = "\n".join(_read(p) for p in _files() if p.endswith(".py"))
    stale, checked = [], 0
    for where, line in _lines():
        for name in re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", line):
            checked += 1
            if name not in OTHER_PROJECTS and not re.search(rf"\b{name}\b", code):
                stale.append(f"{where}: {name}")
    assert checked > 10 and not stale, "named in the docs, in no Python file:\n" + "\n".join(stale)

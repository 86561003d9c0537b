"""What ships is what runs: the wheel (what the image installs, scripts/build_image.sh) holds
every file git tracks under the package folders, and, installed on its own in an environment
that cannot see the checkout, it passes the image contract, imports every module and runs the
pipeline (slow).

An editable install (`make venv`) imports from the checkout itself, so a folder the wheel leaves
out (models/export/ had no __init__.py, and find_packages skipped it) passes every other test."""
import configparser
import json
import os
import subprocess
import time
import zipfile

import pytest

import imports
import wheels

ROOT = imports.ROOT


def _tracked():
    """The files git tracks under the package folders that are in the working tree."""
    if not os.path.exists(os.path.join(ROOT, ".git")):  # a worktree has a .git file
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--", *imports.PACKAGES], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return {p for p in listed if p and os.path.isfile(os.path.join(ROOT, p))}


def test_every_folder_of_python_code_is_a_package():
    """An `__init__.py` in each folder that holds Python code: without one, importing works from a
    checkout (namespace packages), and tools that look for packages skip the folder."""
    missing = []
    for package in imports.PACKAGES:
        for folder, dirs, names in os.walk(os.path.join(ROOT, package)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if any(n.endswith(".py") for n in names) and "__init__.py" not in names:
                missing.append(os.path.relpath(folder, ROOT))
    assert not missing, f"folders of Python code without __init__.py: {missing}"


def test_the_wheel_holds_every_tracked_file_and_the_console_script(tmp_path):
    wheel = wheels.build(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = configparser.ConfigParser()
        scripts.read_string(archive.read(entry_points).decode())
    tracked = _tracked()
    assert any(p.endswith(".py") for p in tracked) and any(not p.endswith(".py") for p in tracked)
    missing = sorted(p for p in tracked if f"bit_tfx/{p}" not in names)
    assert not missing, f"tracked under {imports.PACKAGES} but not in the wheel: {missing}"
    # Nothing but the package and its metadata, and nothing that is not in the working tree
    # (a file left in an old build folder).
    assert {n.split("/")[0] for n in names} == {"bit_tfx", os.path.dirname(entry_points)}, names
    stale = sorted(n for n in names if n.startswith("bit_tfx/")
                   and not os.path.isfile(os.path.join(ROOT, n[len("bit_tfx/"):])))
    assert not stale, f"in the wheel but not in the checkout: {stale}"
    assert dict(scripts["console_scripts"]) == {"bit-tfx": "bit_tfx.cli.main:main"}


# Every module of the installed package, found by its files (a folder without __init__.py is a
# namespace package, which pkgutil.walk_packages does not list), imported; where each came from.
_IMPORT_ALL = """
import importlib, json, os, sys, traceback
import bit_tfx
[top] = bit_tfx.__path__
names = []
for folder, dirs, files in os.walk(top):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    for f in files:
        if f.endswith(".py"):
            parts = os.path.relpath(os.path.join(folder, f), top)[:-3].split(os.sep)
            names.append(".".join(["bit_tfx"] + (parts[:-1] if parts[-1] == "__init__" else parts)))
files, failures = {}, {}
for name in sorted(names):
    try:
        files[name] = importlib.import_module(name).__file__
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
from bit_tfx.models import backbones  # the shipped weights, installed as data, match SHA256SUMS
print(json.dumps({"path": list(bit_tfx.__path__), "files": files, "failures": failures,
                  "sys_path": sys.path, "backbone": [backbones.FRACTAL_SMALL.weights, backbones.check()]}))
"""


@pytest.mark.slow  # CI (.ci/run): a fresh environment (requirements.lock from uv's cache) and a tiny run
def test_the_installed_wheel_alone_passes_the_contract_imports_everything_and_runs(wheel_venv, tmp_path):
    started = time.monotonic()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = wheels.environment(wheel_venv.bin)
    assert "PYTHONPATH" not in env and not str(outside).startswith(ROOT)

    def run(command, timeout=600):
        return subprocess.run(command, capture_output=True, text=True, cwd=str(outside), env=env,
                              timeout=timeout)

    # 1. The image contract, as the image build checks it.
    contract = run([wheel_venv.python, "-m", "bit_tfx.kubeflow.image_contract"])
    contract_s = time.monotonic() - started
    assert contract.returncode == 0, contract.stdout[-3000:] + contract.stderr[-3000:]
    answer = json.loads(contract.stdout)
    assert answer["checked"] and answer["failures"] == {}, answer

    # 2. Every module imports, from the venv's site-packages, and they are the checkout's modules.
    done = run([wheel_venv.python, "-c", _IMPORT_ALL])
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    site = os.path.realpath(os.path.join(wheel_venv.site, "bit_tfx"))
    assert [os.path.realpath(p) for p in found["path"]] == [site], found["path"]
    assert not any(p == ROOT or p.startswith(ROOT + os.sep) for p in found["sys_path"]), found["sys_path"]
    assert found["failures"] == {}, "\n".join(f"{k}:\n{v}" for k, v in found["failures"].items())
    assert sorted(found["files"]) == sorted(imports.modules()), \
        set(imports.modules()) ^ set(found["files"])
    elsewhere = {m: f for m, f in found["files"].items() if not os.path.realpath(f).startswith(site + os.sep)}
    assert not elsewhere, elsewhere
    assert os.path.realpath(found["backbone"][0]).startswith(site + os.sep), found["backbone"]
    seconds = {"contract": contract_s, "imports": time.monotonic() - started - contract_s}

    # 3. A tiny `bit-tfx run` (the smoke run of the default suite's pipeline tests) trains and pushes.
    import runs
    runs.colour_images(str(outside / "images"), 30, seed=1)
    smoke = runs.SMOKE
    pipeline = run([os.path.join(wheel_venv.bin, "bit-tfx"), "run", "--data", "images", "--output", "out",
                    "--model", smoke["model_spec"], "--batch-size", str(smoke["batch_size"]),
                    "--batch-policy", smoke["batch_policy"],
                    "--checkpoint-every", str(smoke["checkpoint_every"]),
                    "--schedule-override", json.dumps(smoke["schedule_override"]),
                    "--min-accuracy", str(smoke["min_accuracy"]),
                    # the defaults, in the space form (`--beam-arg --x`, not `--beam-arg=--x`)
                    "--beam-arg", "--direct_running_mode=in_memory", "--beam-arg", "--direct_num_workers=1"])
    assert pipeline.returncode == 0, pipeline.stderr[-5000:]
    verdict = json.loads(pipeline.stdout)
    assert verdict["blessed"] is True and verdict["pushed_to"], verdict
    version = outside / "out" / "serving" / str(verdict["version"])
    assert os.path.realpath(verdict["pushed_to"]) == os.path.realpath(version), verdict
    assert (version / "saved_model.pb").is_file(), sorted(os.listdir(version.parent))
    seconds["run"] = time.monotonic() - started - sum(seconds.values())
    print(f"\nwheel_venv built in {wheel_venv.seconds:.0f} s (once per session); this test: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))

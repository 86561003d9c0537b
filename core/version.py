"""The version of bit-tfx that is running: setup.py's `version`, read back from the installed
distribution's metadata (the wheel in the image, the editable install of `make venv`), so it is
declared once. `bit-tfx --version`, the run's JSON and the model card state it."""
from importlib import metadata

DISTRIBUTION = "bit-tfx"
NOT_INSTALLED = "unknown (bit-tfx is not installed: make venv, or pip install the wheel)"


def version():
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return NOT_INSTALLED

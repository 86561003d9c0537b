import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the test helpers (tests/images.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Before any test imports TensorFlow: the package sets the Keras 2 (tf_keras) switch.
import bit_tfx.components  # noqa: E402,F401
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pushed_run(tmp_path_factory):
    """One real pipeline run (red vs blue images, tiny random model) that trained, was
    blessed and pushed a version; shared by the tests that use a finished run (predict,
    report, model card) so the suite pays for it once. Returns (config, summary, data dir).
    Tests must not write into it."""
    import runs
    from bit_tfx.pipeline import results
    root = tmp_path_factory.mktemp("pushed_run")
    data = root / "images"
    runs.colour_images(str(data), 30, seed=1)
    (data / "LICENSE.txt").write_text("As public archives ship: beside the class folders.\n")
    config = runs.run(data, root / "out", **runs.SMOKE)
    summary = results.summarize(config)
    assert summary.blessed and summary.pushed_to, summary
    return config, summary, data


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory):
    """A virtual environment outside the checkout holding what ships: requirements.lock as
    `make venv` installs it, then the wheel of this checkout (not editable, --no-deps,
    byte-compiled), as the Dockerfile installs them. A wheels.WheelVenv (python, bin, wheel,
    site, seconds); shared by the slow tests that run the installed package (test_wheel.py,
    test_rehearse.py), built once per session. Run its commands with wheels.environment(bin)
    and a cwd outside the checkout, so that only the installed package can be imported."""
    import wheels
    return wheels.make_venv(tmp_path_factory.mktemp("wheel_venv"))

"""The installed import names: everything of ours is under `bit_tfx`, so the distribution
can sit beside others that own generic names (PyPI's Kubeflow SDK installs `kubeflow`)."""
import json
import os
import re
import subprocess
import sys

import pytest

# The Kubeflow SDK (kubeflow/sdk on GitHub): its import name is `kubeflow`, a regular package.
KUBEFLOW_SDK = "kubeflow==0.5.0"


def _python(code, cwd, env=None):
    """Runs code in a fresh interpreter outside the checkout (the repository root is not on
    sys.path there, so only what is installed can be imported)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, **(env or {})))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_distribution_installs_one_top_level_name(tmp_path):
    from importlib import metadata
    top_level = metadata.distribution("bit-tfx").read_text("top_level.txt").split()
    assert top_level == ["bit_tfx"]
    found = _python("import importlib.util as u, json; print(json.dumps({n: u.find_spec(n) is not None "
                    "for n in ('pipeline', 'components', 'kubeflow', 'cli', 'bit_tfx.kubeflow')}))",
                    cwd=str(tmp_path))
    assert found == {"pipeline": False, "components": False, "kubeflow": False, "cli": False,
                     "bit_tfx.kubeflow": True}


def _both_import_and_compile(tmp_path, site, version):
    """With the distribution in `site` first on the path: its `kubeflow` and ours both import,
    and our KFP compile still works."""
    spec = tmp_path / "bit-tfx.yaml"
    code = (
        "import json, kubeflow, kubeflow.common.constants\n"
        "import bit_tfx.kubeflow\n"
        "from bit_tfx.cli import main\n"
        f"code = main.main(['compile', '--target', 'kfp', '--spec', {str(spec)!r}, '--data',\n"
        "    'gs://bit-bucket/images', '--layout', 'class_folders', '--num-classes', '2', '--pipeline-root',\n"
        "    'gs://bit-bucket/root', '--image', 'europe-docker.pkg.dev/p/r/bit-tfx:1', '--serving-dir', 'gs://bit-bucket/serving'])\n"
        "print(json.dumps({'sdk': kubeflow.__file__, 'sdk_version': kubeflow.__version__,\n"
        "                  'ours': bit_tfx.kubeflow.__file__, 'code': code}))\n")
    found = _python(code, cwd=str(tmp_path), env={"PYTHONPATH": str(site)})
    assert found["sdk"].startswith(str(site)) and found["sdk_version"] == version
    assert not found["ours"].startswith(str(site))
    assert found["code"] == 0 and "pipelineInfo" in spec.read_text()


def _pip(*args):
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--no-deps",
                           "--disable-pip-version-check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_distribution_owning_top_level_kubeflow_installs_beside_it(tmp_path):
    """Offline: a wheel in the Kubeflow SDK's shape (distribution `kubeflow`, a regular top-level
    package `kubeflow` with `kubeflow/common/constants.py`), built and installed by pip here."""
    source = tmp_path / "sdk"
    (source / "kubeflow" / "common").mkdir(parents=True)
    (source / "kubeflow" / "__init__.py").write_text('__version__ = "0.0.1"\n')
    (source / "kubeflow" / "common" / "__init__.py").write_text("")
    (source / "kubeflow" / "common" / "constants.py").write_text('SDK = "kubeflow"\n')
    (source / "setup.py").write_text("import setuptools\nsetuptools.setup(name='kubeflow', version='0.0.1', "
                                     "packages=['kubeflow', 'kubeflow.common'])\n")
    _pip("wheel", "--no-build-isolation", "--no-index", "--wheel-dir", str(tmp_path / "wheels"), str(source))
    [wheel] = (tmp_path / "wheels").glob("kubeflow-0.0.1-*.whl")
    _pip("install", "--no-index", "--target", str(tmp_path / "site"), str(wheel))
    _both_import_and_compile(tmp_path, tmp_path / "site", "0.0.1")


@pytest.mark.slow  # CI (.ci/run): the real SDK from the package index
def test_the_kubeflow_sdk_installs_beside_it_and_both_import(tmp_path):
    _pip("install", "--target", str(tmp_path / "site"), KUBEFLOW_SDK)
    _both_import_and_compile(tmp_path, tmp_path / "site", KUBEFLOW_SDK.split("==")[1])


# Imported but not declared, on purpose: tfx pins tensorflow-hub<0.16, whose 0.15.0 does not import
# on TensorFlow 2.16; the lock overrides it (setup.py and README, "Installing without make").
UNDECLARED_ON_PURPOSE = {"tensorflow_hub"}


def test_every_library_the_code_imports_is_declared():
    """`pip install .` brings what the code imports: each third-party top-level module imported
    anywhere in our packages (inside functions too) belongs to a distribution that setup.py's
    install_requires names."""
    from importlib import metadata

    import imports
    imported = {}
    for module, path in imports.modules().items():
        for _, base, _, relative in imports.statements(module, path):
            if not relative:
                imported.setdefault(base.split(".")[0], os.path.relpath(path, imports.ROOT))
    third_party = {m: p for m, p in imported.items()
                   if m not in sys.stdlib_module_names and m != "bit_tfx" and m not in UNDECLARED_ON_PURPOSE}
    owners = {}  # top-level module -> distributions that install it, from their RECORD files
    for dist in metadata.distributions():
        name = _canonical(dist.metadata["Name"])
        for file in dist.files or ():
            if file.parts and file.parts[0] != ".." and not file.parts[0].endswith((".dist-info", ".data")):
                top = file.parts[0][:-3] if file.parts[0].endswith(".py") else file.parts[0]
                owners.setdefault(top, set()).add(name)
    declared = {_canonical(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in metadata.requires("bit-tfx")}
    missing = sorted(f"{m} (imported in {p}; installed by {sorted(owners.get(m, ())) or 'nothing'})"
                     for m, p in third_party.items() if not owners.get(m, set()) & declared)
    assert len(third_party) > 15 and not missing, "imported but not in install_requires:\n" + "\n".join(missing)


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()

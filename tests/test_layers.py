"""The layers of the code, read from its imports with `ast` (every import, at the top of a
module or inside a function): no import cycle between our modules, and no arrow back up.

    bit_tfx.cli          the command-line faces              (may import everything below)
    bit_tfx.kubeflow     Vertex AI / KFP v2 compilation      (pipeline and below)
    bit_tfx.pipeline     configuration, DAG, runs, report    (models and below)
    bit_tfx.models       BiT library, training, export, ...  (core only: no component)
    bit_tfx.datasets     the generated datasets              (below)
    bit_tfx.components   the TFX components                  (core)
    bit_tfx.core         keys, errors, rules, the Decision   (nothing of ours; no TFX)

The model code runs inside TFX components by import path (run_fn, preprocessing_fn), so no
component imports it, and, as in TFX's templates, it imports nothing of the components: both
read the keys, the errors and the HyperRule's Decision in the core below them. Inside models,
the BiT model library (models/bit) imports only itself, keys, errors and the pure HyperRule
arithmetic.

Every import of ours inside the package is relative: `from . import keys` inside a layer,
`from ..core import keys` from another (the layer's name is in the import, so a file's
imports say on sight which layers it leans on). The package installs as `bit_tfx.<folder>` and
no `bit_tfx/` folder exists in a checkout, so an absolute `bit_tfx.components` resolves only
in an installed environment; a relative import resolves by the file's place on disk, so
editors, type checkers and import-graph tools follow every import on a plain checkout.
(Entry files outside the package, local_runner.py, tests/ and bench/, import `bit_tfx.*`.)
"""
import os
import subprocess
import sys

import pytest

from imports import PACKAGES, ROOT, modules as _modules, statements

BIT_MODEL_MAY_IMPORT = ("bit_tfx.models.bit", "bit_tfx.core.keys",
                        "bit_tfx.core.errors", "bit_tfx.core.rule")
# What the core may never import, anywhere in a file: it sits below the TFX components.
CORE_NEVER_IMPORTS = ("tfx", "tfx_bsl", "tensorflow_transform", "tensorflow_model_analysis",
                      "tensorflow_data_validation", "apache_beam", "ml_metadata")


def _imports(module, path, known):
    """The modules of ours that `module` imports anywhere in its file."""
    targets = set()
    for _, base, names, _ in statements(module, path):
        # `from bit_tfx.x import y`: y is a module of ours or a name in bit_tfx.x
        candidates = [f"{base}.{n}" if f"{base}.{n}" in known else base for n in names] or [base]
        for name in candidates:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module and name != "bit_tfx":
                targets.add(name)
    return targets


def _graph():
    known = _modules()
    return {m: _imports(m, p, known) for m, p in known.items()}


def _layer(module):
    return PACKAGES.index(module.split(".")[1])


def test_there_are_modules_to_check():
    graph = _graph()
    assert len(graph) > 40 and any(graph.values())


def test_no_module_imports_a_layer_above_its_own():
    graph = _graph()
    up = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets if _layer(t) < _layer(m))
    assert not up, "imports that run back up a layer:\n" + "\n".join(up)


def test_the_model_library_imports_only_itself_and_pure_rules():
    graph = _graph()
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("bit_tfx.models.bit")
                 for t in targets if not t.startswith(BIT_MODEL_MAY_IMPORT))
    assert not bad, "\n".join(bad)


def test_the_model_code_imports_nothing_of_the_components():
    graph = _graph()
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("bit_tfx.models")
                 for t in targets if t.startswith("bit_tfx.components"))
    assert not bad, "\n".join(bad)


def test_the_core_imports_no_tfx_and_loads_without_tensorflow():
    modules = {m: p for m, p in _modules().items() if m.startswith("bit_tfx.core")}
    assert "bit_tfx.core.decision" in modules
    bad = sorted(f"{m}:{line} imports {base}" for m, p in modules.items()
                 for line, base, _, _ in statements(m, p) if base.split(".")[0] in CORE_NEVER_IMPORTS)
    assert not bad, "\n".join(bad)
    code = ("import sys; import " + ", ".join(sorted(modules)) + "; "
            "bad = [m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_import_cycle():
    graph = _graph()
    # Tarjan's strongly connected components; a component of more than one module is a cycle.
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _import_forms(module, path):
    """(line, written, target layer) of every import of ours in the file: written is "relative" or
    "absolute"."""
    for line, base, _, relative in statements(module, path):
        if relative or base == "bit_tfx" or base.startswith("bit_tfx."):
            yield line, "relative" if relative else "absolute", base.split(".")[1] if "." in base else "bit_tfx"


def _misspelt_imports(modules):
    bad = []
    for module, path in sorted(modules.items()):
        for line, written, target in _import_forms(module, path):
            if written == "absolute":
                bad.append(f"{os.path.relpath(path, ROOT)}:{line}: {written} import of {target}")
    return bad


def test_every_import_of_ours_inside_the_package_is_relative():
    bad = _misspelt_imports(_modules())
    assert not bad, "\n".join(bad)


def test_the_import_form_check_can_fail(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from ...components import keys\nfrom bit_tfx.pipeline import configs\n"
                    "from .. import configs as fine\nimport bit_tfx.components\n")
    bad = _misspelt_imports({"bit_tfx.pipeline.report.mod": str(path)})
    assert [b.split(": ", 1)[1] for b in bad] == ["absolute import of pipeline",
                                                  "absolute import of components"]


@pytest.mark.parametrize("bad, message", [
    ({"bit_tfx.components.a": {"bit_tfx.pipeline.b"}, "bit_tfx.pipeline.b": set()}, "back up"),
])
def test_the_layer_check_can_fail(bad, message):
    """The checks above are not vacuous: an arrow back up is seen as one."""
    up = [f"{m} -> {t}" for m, targets in bad.items() for t in targets if _layer(t) < _layer(m)]
    assert up == ["bit_tfx.components.a -> bit_tfx.pipeline.b"], message


def test_a_plain_checkout_resolves_every_import_of_ours_by_path():
    """What an editor or an import-graph tool sees without installing: the root __init__.py
    makes the checkout the bit_tfx package, and every relative import names a module or a
    package folder that is there on disk."""
    assert os.path.isfile(os.path.join(ROOT, "__init__.py"))
    missing = []
    for module, path in sorted(_modules().items()):
        for line, base, names, relative in statements(module, path):
            if not relative:
                continue
            place = os.path.join(ROOT, *base.split(".")[1:])
            candidates = [place + ".py", os.path.join(place, "__init__.py")]
            candidates += [os.path.join(place, n + ".py") for n in names] + \
                [os.path.join(place, n, "__init__.py") for n in names]
            if not any(os.path.isfile(c) for c in candidates):
                missing.append(f"{os.path.relpath(path, ROOT)}:{line}: {base}")
    assert not missing, "\n".join(missing)

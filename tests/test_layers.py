"""The layers of the code, read from its imports with `ast` (every import, at the top of a
module or inside a function): no import cycle between our modules, and no arrow back up.

    bit_tfx.cli          the command-line faces              (may import everything below)
    bit_tfx.kubeflow     Vertex AI / KFP v2 compilation      (pipeline, components)
    bit_tfx.pipeline     configuration, DAG, runs, report    (components)
    bit_tfx.components   TFX components, BiT model library   (nothing above)

Inside components, the BiT model library (bit_model) is the bottom: it imports only itself,
keys, errors and the pure HyperRule arithmetic.

Inside a layer, modules import each other relatively (`from . import keys`); an import of another
layer is absolute (`from bit_tfx.components import keys`). A file's imports then say on sight
which layers it leans on, and tools that map imports to folders draw each layer's inside.
"""
import os

import pytest

from imports import PACKAGES, ROOT, modules as _modules, statements

BIT_MODEL_MAY_IMPORT = ("bit_tfx.components.bit_model", "bit_tfx.components.keys",
                        "bit_tfx.components.errors", "bit_tfx.components.hyperrule.rule")


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
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("bit_tfx.components.bit_model")
                 for t in targets if not t.startswith(BIT_MODEL_MAY_IMPORT))
    assert not bad, "\n".join(bad)


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
        layer = module.split(".")[1]
        for line, written, target in _import_forms(module, path):
            if (written == "relative") != (target == layer):
                bad.append(f"{os.path.relpath(path, ROOT)}:{line}: {written} import of {target}")
    return bad


def test_a_layer_imports_itself_relatively_and_other_layers_absolutely():
    bad = _misspelt_imports(_modules())
    assert not bad, "\n".join(bad)


def test_the_import_form_check_can_fail(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from ...components import keys\nfrom bit_tfx.pipeline import configs\n"
                    "from .. import configs as fine\nfrom bit_tfx.components import errors\n")
    bad = _misspelt_imports({"bit_tfx.pipeline.report.mod": str(path)})
    assert [b.split(": ", 1)[1] for b in bad] == ["relative import of components",
                                                  "absolute import of pipeline"]


@pytest.mark.parametrize("bad, message", [
    ({"bit_tfx.components.a": {"bit_tfx.pipeline.b"}, "bit_tfx.pipeline.b": set()}, "back up"),
])
def test_the_layer_check_can_fail(bad, message):
    """The checks above are not vacuous: an arrow back up is seen as one."""
    up = [f"{m} -> {t}" for m, targets in bad.items() for t in targets if _layer(t) < _layer(m)]
    assert up == ["bit_tfx.components.a -> bit_tfx.pipeline.b"], message

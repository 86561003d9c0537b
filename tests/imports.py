"""Our modules and their import statements, read with `ast` (nothing is imported), for the tests
that check imports: test_layers.py (the layers, the import forms), test_namespace.py (what
install_requires must declare) and test_wheel.py (every module imports from the wheel)."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _setup_folders():
    """setup.py's FOLDERS, read with `ast` (running setup.py would build)."""
    path = os.path.join(ROOT, "setup.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and [getattr(t, "id", None) for t in node.targets] == ["FOLDERS"]]
    return ast.literal_eval(value)


PACKAGES = _setup_folders()  # the top-level folders: the layers, top to bottom


def modules():
    """{module name: file} for every module of ours (the folders install as bit_tfx.<folder>)."""
    found = {}
    for package in PACKAGES:
        for folder, _, names in os.walk(os.path.join(ROOT, package)):
            for name in names:
                if name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].split(os.sep)
                    if rel[-1] == "__init__":
                        rel = rel[:-1]
                    found["bit_tfx." + ".".join(rel)] = os.path.join(folder, name)
    return found


def statements(module, path):
    """(line, module imported, names taken from it, written relatively) for every import in the
    file, those inside functions included. `import a.b` gives ("a.b", [], False);
    `from .x import y` gives the absolute name of .x, resolved against the module's package."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, [], False
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            yield node.lineno, base, [a.name for a in node.names], bool(node.level)

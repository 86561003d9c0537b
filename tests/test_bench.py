"""Every benchmark script imports (a module that moved breaks a benchmark nobody runs in the
tests), and runs only under `if __name__ == "__main__"`, so importing it measures nothing."""
import ast
import glob
import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
SCRIPTS = sorted(glob.glob(os.path.join(BENCH, "*.py")))


def _guarded(tree):
    """Whether the module has a top-level `if __name__ == "__main__":`."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and \
                getattr(node.test.left, "id", None) == "__name__" and \
                [getattr(c, "value", None) for c in node.test.comparators] == ["__main__"]:
            return True
    return False


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 7


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_a_benchmark_imports_without_running(path):
    with open(path, encoding="utf-8") as f:
        assert _guarded(ast.parse(f.read(), path)), f"{path}: no `if __name__ == \"__main__\":`"
    name = "bench_" + os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None)), f"{path}: no main()"

"""The house has no import circles: project modules import downwards only, and serving never imports training."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("recognizer", "bench", "training", "synth")


def project_modules() -> dict[str, Path]:
    """Module name -> file, for the top-level modules and the packages' modules (tests excluded)."""
    modules = {path.stem: path for path in ROOT.glob("*.py")}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, at any depth of its code (lazy imports in functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in known}
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports(path, set(modules)) - {name} for name, path in modules.items()}


def test_there_is_no_import_circle():
    edges = graph()
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", " -> ".join(trail + [name])
        state[name] = "open"
        for target in sorted(edges[name]):
            visit(target, trail + [name])
        state[name] = "done"

    for name in sorted(edges):
        visit(name, [])


def test_the_recognizer_and_the_app_never_import_training_evaluation_or_benchmarks():
    edges = graph()
    serving = [name for name in edges if name.startswith("recognizer")] + ["app"]
    for name in serving:
        assert not edges[name] & {"model", "evaluation", "datasets", "bench", "synthetic"} and \
            not any(t.startswith(("bench", "training", "synth")) for t in edges[name]), (name, edges[name])


def test_bench_imports_no_tests():
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        # Synthetic inputs come from synthetic.py, shared by tests, benchmarks and evaluation.
        assert not any(m.startswith("tests") for m in modules), (path.name, modules)
        assert "sys.path" not in path.read_text(), path.name

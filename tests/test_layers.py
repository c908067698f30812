"""The house has no import circles: project modules import downwards only, and serving never imports training."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("recognizer", "corrections", "bench", "training", "synth")
# What gunicorn runs: these import nothing else of the project.
SERVING = ("app", "client_input", "recognizer", "corrections")


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


def _within(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def test_the_recognizer_corrections_and_the_app_never_import_training_evaluation_or_benchmarks():
    edges = graph()
    serving = [name for name in edges if _within(name, SERVING)]
    assert {"app", "recognizer.read", "corrections.routes"} <= set(serving)
    for name in serving:
        # Nothing of model.py, evaluation.py, datasets.py, bench/, training/ or synth/: only the serving layers.
        assert all(_within(target, SERVING) for target in edges[name]), (name, edges[name])


def test_synthetic_inputs_and_training_stay_below_the_command_line_and_the_measurements():
    # model.py (the command line), evaluation.py and bench/ sit on top; training/ may use synth/, never the reverse.
    edges = graph()
    for name in [n for n in edges if _within(n, ("synth", "training"))]:
        allowed = ("recognizer", "datasets", "synth") + (("training",) if name.startswith("training") else ())
        assert all(_within(target, allowed) for target in edges[name]), (name, edges[name])


def test_bench_imports_no_tests():
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        modules += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        # Synthetic inputs come from synth/, shared by tests, benchmarks, training and evaluation.
        assert not any(m.startswith("tests") for m in modules), (path.name, modules)
        assert "sys.path" not in path.read_text(), path.name

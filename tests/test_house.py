"""The package shows the flow: stages import only earlier stages, no import cycles, small modules."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# the flow, in order; modules at the top of the package (io, trials, hpspace, paper_values) are
# shared facts every stage may use, and cli.py is the table of contents that imports them all
STAGES = ["model", "tasks", "plan", "train", "analysis", "figures", "report"]
MAX_LINES = 350


def modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "rnncap").rglob("*.py"):
        parts = p.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module if node.level == 0 else ".".join(
                pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            if base and base.startswith("rnncap"):
                deps |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
        elif isinstance(node, ast.Import):
            deps |= {a.name for a in node.names if a.name.startswith("rnncap")}
    return {d for d in deps if d in known and d != name}


def stage(name: str) -> int:
    parts = name.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else -1


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {m: imports(m, p, known) for m, p in known.items()}


def test_no_import_cycle(graph):
    state: dict[str, int] = {}

    def visit(u: str, path: list[str]) -> None:
        state[u] = 1
        for v in sorted(graph[u]):
            assert state.get(v) != 1, f"import cycle: {' -> '.join(path[path.index(v):] + [u, v])}"
            if not state.get(v):
                visit(v, path + [u])
        state[u] = 2

    for u in sorted(graph):
        if not state.get(u):
            visit(u, [])


def test_no_stage_imports_a_later_one(graph):
    bad = [f"{u} -> {v}" for u, vs in graph.items() for v in vs
           if u != "rnncap.cli" and stage(v) > max(stage(u), 1 if stage(u) < 0 else stage(u))]
    assert not bad, bad


def test_modules_stay_small():
    big = {m: n for m, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, big

"""The import graph of transforms/: acyclic, with every import of vecpress's own modules at the top of its
module (none hidden inside a function to step round a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "transforms"


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}  # fmt: skip


def _imports(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """The vecpress modules a module's top level imports (``from pkg import mod`` is ``pkg.mod``)."""
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "transforms":
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "transforms"}
    return out


def test_transforms_imports_no_cycle():
    known = _modules()
    graph = {name: _imports(ast.parse(path.read_text()), known) - {name} for name, path in known.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError(f"import cycle: {' -> '.join(path[path.index(name) :] + [name])}")
        if name in done or name not in graph:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_import_of_vecpress_is_hidden_in_a_function():
    hidden = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{name}:{n.lineno} imports {n.module}"
                    for n in ast.walk(node)
                    if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "transforms"
                ]
    assert not hidden, hidden

"""Content keys for stage caching: input file versions, a stage's parameters, the code version."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from transforms import io

# What identifies a version of a file, by filesystem: ETag/generation on object stores, mtime locally.
_VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "mtime", "LastModified", "created")


def file_version(url: str) -> dict[str, Any]:
    """Size plus whatever the filesystem offers to tell one version of a file from another."""
    fs, path = io.filesystem(url)
    info = fs.info(path)
    version = {k: info[k] for k in _VERSION_KEYS if k in info}
    return {"url": url, "size": info.get("size"), **{k: str(v) for k, v in version.items()}}


PACKAGES = ("transforms", "pipelines")


def _local_imports(path: Path) -> set[str]:
    """Modules of this repository's packages that a source file imports, at any depth (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES)
    return found


def _source(root: Path, module: str) -> Path | None:
    path = root.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # a name imported from a module (a function or class), not a module itself


@functools.cache
def code_version(*entry_modules: str) -> str:
    """sha256 over the source of the given modules and every repository module they import, transitively.

    A stage's cache entry is invalidated by a change to the code that produced it, and only by that: editing
    the codec does not make the embeddings stale. With no modules named, all of transforms/ and pipelines/.
    """
    root = Path(__file__).resolve().parents[1]
    if entry_modules:
        seen: dict[str, Path] = {}
        todo = list(entry_modules)
        while todo:
            module = todo.pop()
            path = _source(root, module)
            if module in seen or path is None:
                continue
            seen[module] = path
            todo.extend(_local_imports(path))
        paths = sorted(set(seen.values()))
    else:
        paths = sorted(p for package in PACKAGES for p in (root / package).rglob("*.py"))
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stage_key(stage: str, code: tuple[str, ...], *parts: Any) -> str:
    """A stable key for one stage: its name, the version of its ``code`` (entry modules, see
    ``code_version``) and everything else its output depends on."""
    blob = json.dumps([stage, code_version(*code), parts], sort_keys=True, default=str)
    return f"{stage}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"

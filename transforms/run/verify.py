"""Verify a published run: the pointer, the manifest, and every file it lists (present, size, sha256)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transforms.codec import refine
from transforms.run import publish
from transforms.run.manifest import Manifest
from transforms.storage import integrity
from transforms.storage.layout import RunLayout


@dataclass
class Verification:
    layout: RunLayout
    manifest: Manifest
    checked: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(output: str, run_id: str | None = None) -> Verification:
    """Check the current run of ``output`` (or the published run ``run_id``) completely; a broken pointer or
    manifest raises PublishError, file problems are collected, one line each."""
    layout, manifest = publish.current(output) if run_id is None else publish.published(output, run_id)
    result = Verification(layout, manifest)
    listed = manifest.records()
    for kind, names in manifest.shards.items():
        result.problems += [
            f"{layout.dir(f'{kind}/{n}')}: named as a shard but not listed in the manifest"
            for n in names
            if f"{kind}/{n}" not in listed
        ]
    result.problems += integrity.problems(layout.root, listed)
    chunks = manifest.chunk_files()  # embed chunks and their vector files, shared with other runs
    chunks.update(_fine_code_files(result))
    result.problems += integrity.problems(layout.output, chunks)
    result.checked = len(listed) + len(chunks)
    result.bytes = sum(r["bytes"] for r in [*listed.values(), *chunks.values()])
    return result


def _fine_code_files(result: Verification) -> dict[str, dict[str, Any]]:
    """The code files a two-tier run's refine shards keep their fine codes in (shared with other runs); a
    list of them that cannot be read is a problem of its own."""
    try:
        listed = refine.read_listing(result.layout, result.manifest.records())
    except integrity.IntegrityError:
        return {}  # already said: the list is one of the run's files
    except (OSError, ValueError, KeyError, TypeError) as err:
        result.problems.append(f"{result.layout.code_files}: unreadable ({err})")
        return {}
    return {f["path"]: f for f in listed}

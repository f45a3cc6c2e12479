"""Verify a published run: the pointer, the manifest, and every file it lists (present, size, sha256)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transforms import integrity, publish
from transforms.layout import RunLayout


@dataclass
class Verification:
    layout: RunLayout
    manifest: dict[str, Any]
    checked: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def records(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest's files by path: ``{"index/part-00000-of-00004.faiss": {"bytes", "sha256"}}``."""
    return {f["path"]: {"bytes": f["bytes"], "sha256": f["sha256"]} for f in manifest.get("files", [])}


def shard_records(layout: RunLayout, manifest: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(url, record) of each shard of ``kind`` the manifest names; a shard it names but does not list with a
    digest is an IntegrityError, since it could not be checked."""
    listed = records(manifest)
    out = []
    for name in manifest["shards"][kind]:
        rel = f"{kind}/{name}"
        if rel not in listed:
            raise integrity.IntegrityError(
                f"{layout.dir(rel)}: the manifest of run {layout.run_id} names this shard but records no "
                "size or sha256 for it"
            )
        out.append((layout.dir(rel), listed[rel]))
    return out


def verify(output: str) -> Verification:
    """Check the current run of ``output`` completely; a broken pointer or manifest raises PublishError,
    file problems are collected, one line each."""
    layout, manifest = publish.current(output)
    result = Verification(layout, manifest)
    listed = records(manifest)
    for kind, names in manifest.get("shards", {}).items():
        result.problems += [
            f"{layout.dir(f'{kind}/{n}')}: named as a shard but not listed in the manifest"
            for n in names
            if f"{kind}/{n}" not in listed
        ]
    result.problems += integrity.problems(layout.root, listed)
    chunks = {c["path"]: c for c in manifest.get("chunks", [])}  # embed chunks, shared with other runs
    result.problems += integrity.problems(layout.output, chunks)
    result.checked = len(listed) + len(chunks)
    result.bytes = sum(r["bytes"] for r in [*listed.values(), *chunks.values()])
    return result

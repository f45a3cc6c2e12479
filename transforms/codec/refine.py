"""The stored tier of a two-tier index: finer codes kept on disk beside the index shards, read only to
re-rank the candidates that the in-memory codes found.

A two-tier codec pairs a compact in-memory code (what the index shards hold and search) with a finer scalar
code (SQ8, SQ4, SQ6, fp16, bf16) of every vector. The encode stage keeps the fine codes in its code files
(one per vector file, shared by every run that indexes those vectors) and writes ``refine/`` shards: Arrow
IPC files of (row_id, where its fine code is) in the same order as the shard's codes, whose positions are
the index shard's ids. A search asks the index shard for ``rerank`` times more candidates than wanted, reads
just those candidates' fine codes (memory-mapped on a local disk), decodes them and keeps the best by exact
distance to the query, as faiss's IndexRefine does, but with the fine codes left on disk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from transforms.storage import arrow_files, integrity, io, local_copy, positions
from transforms.storage.errors import VecpressError

REFINE_INDEX = "refine.faiss"
# the scalar codes a stored tier can use: cheap to train (per-dimension ranges), exact to decode
FACTORIES = ("SQ8", "SQ6", "SQ4", "SQfp16", "SQbf16")


class RefineError(VecpressError, ValueError):
    """A stored tier that cannot be used as asked."""


def check_factory(refine: str) -> None:
    if refine not in FACTORIES:
        raise RefineError(f"stored tier {refine!r} is not one of {', '.join(FACTORIES)}")


def train(sample: np.ndarray, refine: str) -> Any:
    """The trained, empty scalar quantizer of the stored tier."""
    import faiss

    check_factory(refine)
    index = faiss.index_factory(sample.shape[1], refine, faiss.METRIC_L2)
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


def schema(code_size: int, fingerprint: str, refine: str) -> pa.Schema:
    """A refine shard: for each vector of the index shard, in its order, its row id and where its fine code
    is: a row (``code_row``) of one of the run's code files (``code_file``, an index into the run's list of
    them, ``RunLayout.code_files``). The fine codes stay in the code files, which a code made once is kept
    in: runs share them instead of each holding a copy."""
    return pa.schema(
        [
            pa.field("row_id", pa.int64(), nullable=False),
            pa.field("code_file", pa.int32(), nullable=False),
            pa.field("code_row", pa.int32(), nullable=False),
        ],
        metadata={
            "vecpress.kind": "refine",
            "vecpress.refine_fingerprint": fingerprint,
            "vecpress.refine_factory": refine,
            "vecpress.refine_code_size": str(code_size),
        },
    )


def write_listing(url: str, files: Sequence[Mapping[str, Any]]) -> None:
    """The run's list of the code files its refine shards read: each by path from the output root, with the
    size and sha256 it was written with (the run's manifest records this list's own)."""
    listed = [{"path": f["path"], "bytes": int(f["bytes"]), "sha256": f["sha256"]} for f in files]
    io.write_json(url, {"code_files": listed})


def read_listing(layout: Any, records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The code files of a run's refine shards (``layout``: its RunLayout), the list checked against its
    record in ``records`` (the run's files by relative path); none when the run has no list (a run that
    wrote its fine codes into its refine shards)."""
    rel = layout.relative(layout.code_files)
    if rel not in records:
        return []
    data = json.loads(integrity.read_verified(layout.code_files, records[rel]))
    return list(data["code_files"])


class CodeFiles:
    """The fine codes of a run's code files (``listed``: its list, each by path from the output ``root``),
    each opened once however many refine shards read it: memory-mapped on a local disk, or from a checked
    local copy of an object store's file; each checked against its record when first opened."""

    def __init__(self, root: str, listed: Sequence[Mapping[str, Any]]):
        self.root, self.listed = root, list(listed)
        self._open: dict[int, arrow_files.Columnar] = {}
        self._copies: list[local_copy.LocalCopy] = []

    def fine(self, i: int, width: int) -> arrow_files.Columnar:
        if i not in self._open:
            if not 0 <= i < len(self.listed):
                raise RefineError(f"code file {i} is not one of the run's {len(self.listed)}")
            url = io.join(self.root, self.listed[i]["path"])
            fs, local = io.filesystem(url)
            if io.is_local(fs):
                integrity.verify_file(url, self.listed[i])
            else:
                self._copies.append(local_copy.LocalCopy(url, self.listed[i]))
                local = self._copies[-1].path
            codes = arrow_files.Columnar(ipc.open_file(pa.memory_map(local)).read_all().column("fine"))
            if codes.shape[1] != width:
                raise RefineError(f"{url}: fine codes of {codes.shape[1]} bytes, not {width}")
            self._open[i] = codes
        return self._open[i]


class Store(positions.Rows):
    """The fine codes of one index shard, by position: a two-tier index shard's ids are positions in its
    refine shard, whose ``row_id`` column gives the global row id and whose other columns say where each
    fine code is (in the run's code files, opened through ``code_files``; a shard written before holds them
    in its ``code`` column). On a local disk every file is memory-mapped and nothing is copied: a search
    reads the pages of the codes it gathers. From an object store each is copied to the local disk first,
    checked, and mapped from there (transforms.storage.local_copy)."""

    def __init__(
        self, url: str, expect: Mapping[str, Any] | None = None, code_files: CodeFiles | None = None
    ):
        super().__init__(url, expect)
        self.code_files, self.inline = code_files, None
        if not self.batches or "code" in self.batches[0].schema.names:  # fine codes inline
            self.inline = [arrow_files.code_view(b.column("code")) for b in self.batches]
            self.width = self.inline[0].shape[1] if self.inline else 0
            return
        if code_files is None:
            raise RefineError(f"{url}: its fine codes are in code files, and none were given to open them")
        meta = self.batches[0].schema.metadata or {}
        self.width = int(meta[b"vecpress.refine_code_size"])
        self.where = [
            (b.column("code_file").to_numpy(), b.column("code_row").to_numpy()) for b in self.batches
        ]
        for files, _ in self.where:  # every file it names opened (and checked) now, not on a search
            for f in np.unique(files):
                code_files.fine(int(f), self.width)

    def gather(self, where: np.ndarray) -> np.ndarray:
        """The fine codes at the given positions, in order."""
        out = np.empty((len(where), self.width), np.uint8)
        for b, which, local in self.split(where):
            if self.inline is not None:
                out[which] = self.inline[b][local]
                continue
            files, rows = self.where[b][0][local], self.where[b][1][local]
            for f in np.unique(files):
                pick = files == f
                out[which[pick]] = self.code_files.fine(int(f), self.width).take(rows[pick])
        return out


BLOCK = 65536  # candidates decoded at once: 100 MB of float32 at 384 dimensions


def rerank(
    cand: np.ndarray,
    queries: np.ndarray,
    codes_of: Callable[[np.ndarray], np.ndarray],
    quantizer: Any,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The best k of each query's candidates (ids, -1 for none) by exact squared L2 to their decoded fine
    codes; ``codes_of`` gives the fine codes of a flat array of candidate ids. Returns (distances, ids)."""
    nq, width = cand.shape
    dist = np.full((nq, k), np.inf, np.float32)
    ids = np.full((nq, k), -1, np.int64)
    step = max(1, BLOCK // max(1, width))
    for lo in range(0, nq, step):
        block, q = cand[lo : lo + step], queries[lo : lo + step]
        valid = block >= 0
        full = np.full(block.shape, np.inf, np.float32)
        if valid.any():
            decoded = quantizer.sa_decode(codes_of(block[valid]))
            full[valid] = ((decoded - q[np.nonzero(valid)[0]]) ** 2).sum(axis=1)
        order = np.argsort(full, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(full, order, 1)
        dist[lo : lo + step, : order.shape[1]] = best
        ids[lo : lo + step, : order.shape[1]] = np.where(
            np.isfinite(best), np.take_along_axis(block, order, 1), -1
        )
    return dist, ids


class Reranked:
    """An index shard searched in two tiers: ``rerank`` x k candidates from the in-memory codes, then the
    best k of them by exact distance to their decoded fine codes."""

    def __init__(self, index: Any, store: Store, quantizer: Any, factor: int):
        self.index, self.store, self.quantizer, self.factor = index, store, quantizer, factor
        self.ntotal = int(getattr(index, "ntotal", store.rows))

    def depth(self, k: int) -> int:
        """How many candidates the in-memory codes give for k results: never more than the shard holds,
        whatever k x rerank asks."""
        return max(1, min(k * self.factor, self.ntotal))

    def candidates(self, queries: np.ndarray, k: int) -> np.ndarray:
        """The first tier: the positions of the ``depth(k)`` nearest by the in-memory codes, nearest first
        (those of a smaller k are the first of them)."""
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), self.depth(k))[1]

    def finish(self, queries: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The second tier: the best k of the first ``depth(k)`` candidates by their fine codes, as
        distances and global row ids (the shard's own ids are positions)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        dist, where = rerank(cand[:, : self.depth(k)], queries, self.store.gather, self.quantizer, k)
        return dist, self.store.row_ids(where)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Distances and global row ids of the best k."""
        return self.finish(queries, self.candidates(queries, k), k)

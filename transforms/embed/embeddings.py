"""A run's embeddings: its chunk files in input order, less the rows it rejected. Every stage that reads
embeddings streams them from here, one record batch at a time.

Duplicate ids are resolved from (row id, chunk, position) alone, never texts: the first row of an id by
(file, row) is kept and every later one is rejected, saying where the first was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.embed import sampling, vectors
from transforms.embed.chunks import store_key
from transforms.embed.reuse import hash_prefix, hash_values
from transforms.storage import arrow_files, integrity, io, run_scope
from transforms.storage.errors import VecpressError
from transforms.storage.layout import CHUNK_LIST, RunLayout

logger = logging.getLogger(__name__)

DUPLICATES_SCHEMA = pa.schema(
    [pa.field("chunk", pa.int32(), nullable=False), pa.field("position", pa.int64(), nullable=False)]
)


class CollisionError(VecpressError, ValueError):
    """Two different document ids hash to the same 63-bit row id."""


@dataclass(frozen=True)
class Embeddings:
    output: str
    chunks: tuple[dict[str, Any], ...]  # {"path" (from the output root), "bytes", "sha256", "rows"}
    dropped: dict[int, np.ndarray] = field(default_factory=dict)  # chunk -> positions rejected as duplicates

    @property
    def embedder_key(self) -> str:
        """The chunk store folder (the embedder key) of these embeddings' chunks; "" when there are none."""
        return store_key(self.chunks)

    def url(self, i: int) -> str:
        return io.locate(self.output, self.chunks[i]["path"])

    @property
    def urls(self) -> list[str]:
        return [self.url(i) for i in range(len(self.chunks))]

    def files(self) -> dict[str, dict[str, Any]]:
        """Every file the embeddings are read from (chunk files and the vector files they name), by path
        as the manifest names them, with the record each was written with."""
        return vectors.chunk_files(self.chunks)

    def check(self) -> None:
        """Every chunk and vector file against the record made when it was written."""
        for path, record in self.files().items():
            integrity.verify_file(io.locate(self.output, path), record)

    def reader(self, i: int) -> vectors.ChunkReader:
        return vectors.ChunkReader.of(self.url(i), self.chunks[i])

    def _kept(self, i: int, start: int, ok: np.ndarray) -> np.ndarray:
        """Which rows of a batch of chunk ``i`` (its first row at ``start``; ``ok``: embedded) the run keeps:
        embedded and not rejected as a duplicate."""
        keep = np.array(ok, dtype=bool)
        dropped = self.dropped.get(i)
        if dropped is not None:
            keep[dropped[(dropped >= start) & (dropped < start + len(keep))] - start] = False
        return keep

    def batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """The kept rows' ``columns``, chunk by chunk, batch by batch."""
        wanted = list(dict.fromkeys([*columns, "reason"]))
        matrices = vectors.Matrices()
        for i in range(len(self.chunks)):
            start = 0
            for batch in self.reader(i).batches(wanted, matrices):
                ok = np.asarray(batch.column("reason").is_null().to_numpy(zero_copy_only=False))
                keep = self._kept(i, start, ok)
                start += batch.num_rows
                if keep.any():
                    yield batch.filter(pa.array(keep)).select(list(columns))

    def vector_batches(self, rows: int = 65536) -> Iterator[pa.RecordBatch]:
        """The kept rows' ``row_id`` and ``embedding`` in batches of about ``rows`` rows, each vector gathered
        from where it is kept (``batches`` with fewer, larger batches and fewer copies: what a pass over every
        vector reads)."""
        matrices = vectors.Matrices()
        ids: list[np.ndarray] = []
        found: list[np.ndarray] = []
        for i in range(len(self.chunks)):
            reader, start = self.reader(i), 0
            for part in reader.located(["row_id"]):
                keep = self._kept(i, start, part.ok)
                start += len(keep)
                if keep.any():
                    ids.append(pc.fill_null(part.batch.column("row_id"), -1).to_numpy()[keep])
                    found.append(matrices.gather(reader.files, part.which[keep], part.rows[keep]))
                if sum(map(len, ids)) >= rows:
                    yield _vector_batch(ids, found)
                    ids, found = [], []
        if ids:
            yield _vector_batch(ids, found)

    def take(self, row_ids: np.ndarray) -> sampling.Sample:
        """The kept rows ``row_ids`` (sorted, each kept once) with their vectors and labels: one pass over the
        chunks' rows, reading only the vectors asked for."""
        found_ids, found_vectors, found_labels = [], [], []
        matrices = vectors.Matrices()
        for i in range(len(self.chunks)):
            reader, start = self.reader(i), 0
            for part in reader.located(["row_id", "label"]):
                ids = pc.fill_null(part.batch.column("row_id"), -1).to_numpy()
                mask = self._kept(i, start, part.ok) & np.isin(ids, row_ids)
                start += len(mask)
                if mask.any():
                    found_ids.append(ids[mask])
                    found_vectors.append(matrices.gather(reader.files, part.which[mask], part.rows[mask]))
                    found_labels += part.batch.column("label").filter(pa.array(mask)).to_pylist()
        if not found_ids:
            raise ValueError("no embeddings to sample from")
        ids = np.concatenate(found_ids)
        order = np.argsort(ids, kind="stable")
        matrix = np.concatenate(found_vectors).astype(np.float32, copy=False)[order]
        return sampling.Sample(ids[order], np.ascontiguousarray(matrix), [found_labels[j] for j in order])

    def sample(self, size: int, seed: int, keep: sampling.RowFilter | None = None) -> sampling.Sample:
        """A seeded bottom-k sample of these embeddings (``sampling.bottom_ids``): the rows picked from their
        ids alone, then only the drawn rows' vectors read."""
        ids = pa.record_batch([pa.array(self.row_ids())], names=["row_id"])
        return self.take(sampling.bottom_ids([ids], size, seed, keep))

    def key(self) -> tuple[Any, ...]:
        """What these embeddings are: their chunk files (by path and sha256) and the rows left out as
        duplicates; what a run's stages share facts about them by (transforms.storage.run_scope)."""
        chunks = tuple((c["path"], c["sha256"]) for c in self.chunks)
        return (self.output, chunks, tuple((i, p.tobytes()) for i, p in sorted(self.dropped.items())))

    def row_ids(self) -> np.ndarray:
        """The kept rows' row ids, sorted (read once per run)."""
        return run_scope.once(("row_ids", self.key()), self._row_ids)

    def _row_ids(self) -> np.ndarray:
        found = [b.column("row_id").to_numpy() for b in self.batches(["row_id"])]
        return _shared(np.sort(np.concatenate([np.zeros(0, np.int64), *found])))

    def to_json(self) -> dict[str, Any]:
        return {"chunks": list(self.chunks)}

    def write(self, layout: RunLayout) -> None:
        io.write_json(layout.dir(CHUNK_LIST), self.to_json())
        chunk = [np.full(len(p), c, np.int32) for c, p in sorted(self.dropped.items())]
        pos = [p for _, p in sorted(self.dropped.items())]
        table = pa.table(
            {
                "chunk": np.concatenate([np.zeros(0, np.int32), *chunk]),
                "position": np.concatenate([np.zeros(0, np.int64), *pos]),
            }
        )
        arrow_files.write_table(layout.duplicates, table, DUPLICATES_SCHEMA)

    @classmethod
    def load(cls, layout: RunLayout) -> Embeddings:
        found = io.read_json(layout.dir(CHUNK_LIST))
        table = arrow_files.read_table(layout.duplicates)
        chunk, pos = table.column("chunk").to_numpy(), table.column("position").to_numpy()
        dropped = {int(c): np.sort(pos[chunk == c]) for c in np.unique(chunk)}
        return cls(layout.output, tuple(found["chunks"]), dropped)


class Duplicates:
    """The rows rejected as repeats of an earlier row's id, and why."""

    def __init__(self, dropped: dict[int, np.ndarray], rejects: list[tuple[str, int, str, str]]):
        self.dropped = dropped
        self.rejects = rejects


def find_duplicates(embeddings: Embeddings) -> Duplicates:
    """Of the rows that share a row id, keep the first by (chunk, position), which is (file, row) order,
    and reject the others; two different ids on one row id are a CollisionError."""
    rid, where, pos = [], [], []
    for i in range(len(embeddings.chunks)):
        start = 0
        for batch in arrow_files.iter_batches(embeddings.url(i), ["row_id", "reason"]):
            ok = np.asarray(batch.column("reason").is_null().to_numpy(zero_copy_only=False))
            # rejected rows have no row id: fill, do not convert through float
            rid.append(pc.fill_null(batch.column("row_id"), -1).to_numpy()[ok])
            where.append(np.full(int(ok.sum()), i, np.int32))
            pos.append(np.flatnonzero(ok) + start)
            start += batch.num_rows
    rid_a = np.concatenate([np.zeros(0, np.int64), *rid])
    where_a = np.concatenate([np.zeros(0, np.int32), *where])
    pos_a = np.concatenate([np.zeros(0, np.int64), *pos])
    order = np.lexsort((pos_a, where_a, rid_a))
    rid_s = rid_a[order]
    repeat = np.zeros(len(rid_s), bool)
    repeat[1:] = rid_s[1:] == rid_s[:-1]
    if not repeat.any():
        return Duplicates({}, [])
    first_of = np.maximum.accumulate(np.where(~repeat, np.arange(len(rid_s)), 0))
    dup_idx, first_idx = order[repeat], order[first_of[repeat]]
    rows = _rows(
        embeddings,
        np.concatenate([where_a[dup_idx], where_a[first_idx]]),
        np.concatenate([pos_a[dup_idx], pos_a[first_idx]]),
    )
    rejects = []
    for d, f in zip(dup_idx.tolist(), first_idx.tolist(), strict=True):
        dup, first = rows[(int(where_a[d]), int(pos_a[d]))], rows[(int(where_a[f]), int(pos_a[f]))]
        if dup[2] != first[2]:
            raise CollisionError(
                f"row id collision: documents {first[2]!r} and {dup[2]!r} hash to {int(rid_a[d])}"
            )
        rejects.append((dup[0], dup[1], dup[2], f"duplicate id (first seen in {first[0]} row {first[1]})"))
    dropped: dict[int, list[int]] = {}
    for d in dup_idx.tolist():
        dropped.setdefault(int(where_a[d]), []).append(int(pos_a[d]))
    return Duplicates({c: np.sort(np.array(p, np.int64)) for c, p in dropped.items()}, rejects)


def _rows(embeddings: Embeddings, chunks: np.ndarray, positions: np.ndarray) -> dict[tuple[int, int], tuple]:
    """(file, row, doc_id) of the given (chunk, position) rows, reading only their chunks."""
    out: dict[tuple[int, int], tuple] = {}
    for c in np.unique(chunks):
        want = set(positions[chunks == c].tolist())
        table = arrow_files.read_table(embeddings.url(int(c)), ["file", "row", "doc_id"])
        for p in want:
            out[(int(c), p)] = (
                table.column("file")[p].as_py(),
                table.column("row")[p].as_py(),
                table.column("doc_id")[p].as_py(),
            )
    return out


def _vector_batch(ids: list[np.ndarray], found: list[np.ndarray]) -> pa.RecordBatch:
    matrix = arrow_files.vector_array(np.concatenate(found).astype(np.float32, copy=False))
    return pa.RecordBatch.from_arrays([pa.array(np.concatenate(ids)), matrix], names=["row_id", "embedding"])


def chunk_rejects(embeddings: Embeddings) -> list[tuple[str, int, str | None, str]]:
    """The rows the chunks themselves rejected (bad input, a text the model could not take), with why."""
    out = []
    for url in embeddings.urls:
        for batch in arrow_files.iter_batches(url, ["file", "row", "doc_id", "reason"]):
            bad = batch.filter(batch.column("reason").is_valid())
            out += list(
                zip(*(bad.column(c).to_pylist() for c in ("file", "row", "doc_id", "reason")), strict=True)
            )
    return out


def ids_and_hashes(emb: Embeddings) -> tuple[np.ndarray, np.ndarray]:
    """The kept rows' row ids (sorted) and the first 8 bytes of their texts' hashes, in the same order."""
    ids, hashes = [], []
    for batch in emb.batches(["row_id", "text_hash"]):
        ids.append(batch.column("row_id").to_numpy())
        hashes.append(hash_prefix(hash_values(batch.column("text_hash"))))
    row_ids = np.concatenate([np.zeros(0, np.int64), *ids])
    order = np.argsort(row_ids)
    return row_ids[order], np.concatenate([np.zeros(0, np.uint64), *hashes])[order]


def unchanged(now: Embeddings, before: Embeddings) -> np.ndarray:
    """Row ids of the documents both runs hold with the same text (sorted; worked out once per run)."""
    return run_scope.once(("unchanged", now.key(), before.key()), lambda: _unchanged(now, before))


def _unchanged(now: Embeddings, before: Embeddings) -> np.ndarray:
    a, b = ids_and_hashes(now), ids_and_hashes(before)
    run_scope.put(("row_ids", now.key()), _shared(a[0]))
    common, i, j = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    return _shared(common[a[1][i] == b[1][j]])


def _shared(values: np.ndarray) -> np.ndarray:
    """An array the run's stages share (transforms.storage.run_scope), read-only: none changes another's."""
    values.flags.writeable = False
    return values

"""Embed one chunk (a row group): its rows in input order as Arrow record batches of the chunk rows schema,
each embedded, reused from an earlier run by its text's hash, or rejected with the reason. Vectors made now
go to the chunk's own vector file; a reused one is referred to where it is kept (transforms.embed.vectors).
Memory holds one batch of rows at a time, never the chunk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from transforms.embed import ids, vectors
from transforms.embed.reuse import HASH, EarlierVectors, text_hash_bytes
from transforms.embedders.failures import encode_or_explain
from transforms.embedders.spec import Embedder
from transforms.read import reading, rows

BATCH_ROWS = 4096


@dataclass
class Tally:
    """What happened to a chunk's rows."""

    read: int = 0
    embedded: int = 0  # by the model, in this run
    reused: int = 0  # from an earlier run, by text
    rejected: int = 0


@dataclass
class Writer:
    """What turns a chunk's documents into its rows: the model, the rows' schema, where the chunk's vectors
    go, the earlier vectors reused by text, how many texts go to the model per call, and the tally."""

    embedder: Embedder
    schema: pa.Schema
    refs: vectors.Refs
    earlier: EarlierVectors | None = None
    model_batch: int = 256
    tally: Tally = field(default_factory=Tally)


def embed_chunk(
    group: reading.RowGroup, columns: reading.Columns, on_bad_file: str, writer: Writer
) -> Iterator[pa.RecordBatch]:
    """The chunk's record batches, BATCH_ROWS documents at a time."""
    for batch in rows.read_rows(group, columns, on_bad_file, BATCH_ROWS):
        yield _batch(batch, writer)


def _batch(batch: rows.Rows, writer: Writer) -> pa.RecordBatch:
    earlier, refs, tally = writer.earlier, writer.refs, writer.tally
    n = len(batch)
    reasons = batch.rejections()
    ok = np.flatnonzero(np.array([r is None for r in reasons], bool))
    # each text's hash from its UTF-8 bytes, a Python object only for the hash
    texts = batch.texts.take(pa.array(ok)).cast(pa.binary()).to_pylist()
    hashes = np.array([text_hash_bytes(t) for t in texts], HASH) if len(ok) else np.zeros(0, HASH)
    where = np.full(n, -1, np.int32)  # vector file (index into the chunk's list); -1: none
    at_row = np.zeros(n, np.int64)
    found = np.full(len(ok), -1, np.int64)
    if earlier is not None and len(ok):  # a vector in a file no longer what was written is embedded again
        found = earlier.usable_rows(earlier.find(hashes))
    reused = found >= 0
    reused_at, earlier_rows = ok[reused], found[reused]  # documents, their earlier rows
    made: dict[int, np.ndarray] = {}
    files = earlier.file[earlier_rows] if len(earlier_rows) else np.zeros(0, np.int32)
    for file in np.unique(files).tolist():
        mine = files == file
        if earlier.referable(file, refs.root):  # referred to where it is kept
            where[reused_at[mine]] = refs.refer(earlier.records[file]["name"], earlier.records[file])
            at_row[reused_at[mine]] = earlier.row[earlier_rows[mine]]
        else:  # kept in another store, or in a file not worth keeping: copied into the chunk's own
            made.update(zip(reused_at[mine].tolist(), earlier.vectors(earlier_rows[mine]), strict=True))
    todo = ok[~reused].tolist()
    for start in range(0, len(todo), writer.model_batch):
        part = todo[start : start + writer.model_batch]
        for i, v in zip(
            part, encode_or_explain(writer.embedder, batch.texts.take(part).to_pylist()), strict=True
        ):
            if isinstance(v, str):
                reasons[i] = v
            else:
                made[i] = v
    if made:
        order = sorted(made)
        file, at = refs.own(np.stack([made[i] for i in order]).astype(np.float32))
        where[order], at_row[order] = file, at
    good = np.array([r is None for r in reasons], bool)
    tally.read += n
    tally.reused += len(reused_at)
    tally.rejected += int((~good).sum())
    tally.embedded += int(good[todo].sum()) if todo else 0
    text_hash = np.zeros(n, HASH)
    text_hash[ok] = hashes
    hash_type = writer.schema.field("text_hash").type
    return pa.RecordBatch.from_arrays(
        [
            batch.ids,
            pa.array(_row_ids(batch.ids, good), pa.int64(), mask=~good),
            batch.labels,
            pa.repeat(pa.scalar(batch.url, pa.string()), n),
            pa.array(np.arange(batch.first, batch.first + n, dtype=np.int64)),
            pa.FixedSizeBinaryArray.from_buffers(
                hash_type, n, [pa.array(good).buffers()[1] if n else None, pa.py_buffer(text_hash.tobytes())]
            ),
            pa.array(reasons, pa.string()),
            pa.array(where, pa.int32(), mask=~good),
            pa.array(at_row, pa.int64(), mask=~good),
        ],
        schema=writer.schema,
    )


def _row_ids(doc_ids: pa.Array, good: np.ndarray) -> np.ndarray:
    """The row id of each document kept (0 for the others)."""
    out = np.zeros(len(doc_ids), np.int64)
    kept = np.flatnonzero(good)
    out[kept] = ids.row_ids(doc_ids.take(pa.array(kept)).to_pylist())
    return out

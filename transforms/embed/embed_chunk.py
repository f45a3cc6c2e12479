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
from transforms.embed.reuse import EarlierVectors, text_hash
from transforms.embedders.failures import encode_or_explain
from transforms.embedders.spec import Embedder
from transforms.read import reading

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
    docs: list[reading.Document] = []
    for doc in reading.read_row_group(group, columns, on_bad_file):
        docs.append(doc)
        if len(docs) == BATCH_ROWS:
            yield _batch(docs, writer)
            docs = []
    if docs:
        yield _batch(docs, writer)


def _batch(docs: list[reading.Document], writer: Writer) -> pa.RecordBatch:
    earlier, refs, tally = writer.earlier, writer.refs, writer.tally
    reasons = [reading.rejection(d) for d in docs]
    ok = [i for i, r in enumerate(reasons) if r is None]
    hashes: list[bytes | None] = [None] * len(docs)
    for i in ok:
        hashes[i] = text_hash(docs[i].text)
    where = np.full(len(docs), -1, np.int32)  # vector file (index into the chunk's list); -1: none
    rows = np.zeros(len(docs), np.int64)
    found = np.full(len(ok), -1, np.int64)
    if earlier is not None and ok:  # a vector in a file that is no longer what was written is embedded again
        found = earlier.usable_rows(earlier.find([hashes[i] for i in ok]))
    reused = found >= 0
    reused_at, earlier_rows = np.array(ok, np.int64)[reused], found[reused]  # documents, their earlier rows
    made: dict[int, np.ndarray] = {}
    files = earlier.file[earlier_rows] if len(earlier_rows) else np.zeros(0, np.int32)
    for file in np.unique(files).tolist():
        mine = files == file
        if earlier.referable(file, refs.root):  # referred to where it is kept
            where[reused_at[mine]] = refs.refer(earlier.records[file]["name"], earlier.records[file])
            rows[reused_at[mine]] = earlier.row[earlier_rows[mine]]
        else:  # kept in another store, or in a file not worth keeping: copied into the chunk's own
            made.update(zip(reused_at[mine].tolist(), earlier.vectors(earlier_rows[mine]), strict=True))
    todo = [i for i, r in zip(ok, reused.tolist(), strict=True) if not r]
    for start in range(0, len(todo), writer.model_batch):
        part = todo[start : start + writer.model_batch]
        texts = [docs[i].text for i in part]
        for i, v in zip(part, encode_or_explain(writer.embedder, texts), strict=True):
            if isinstance(v, str):
                reasons[i] = v
            else:
                made[i] = v
    if made:
        order = sorted(made)
        file, at = refs.own(np.stack([made[i] for i in order]).astype(np.float32))
        where[order], rows[order] = file, at
    tally.read += len(docs)
    tally.reused += len(reused_at)
    tally.rejected += sum(r is not None for r in reasons)
    tally.embedded += sum(reasons[i] is None for i in todo)
    good = np.array([r is None for r in reasons])
    row_ids = [ids.row_id(d.doc_id) if r is None else None for d, r in zip(docs, reasons, strict=True)]
    return pa.RecordBatch.from_arrays(
        [
            pa.array([d.doc_id for d in docs], pa.string()),
            pa.array(row_ids, pa.int64()),
            pa.array([d.label for d in docs], pa.string()),
            pa.array([d.file for d in docs], pa.string()),
            pa.array([d.row for d in docs], pa.int64()),
            pa.array(
                [h if r is None else None for h, r in zip(hashes, reasons, strict=True)],
                writer.schema.field("text_hash").type,
            ),
            pa.array(reasons, pa.string()),
            pa.array(where, pa.int32(), mask=~good),
            pa.array(rows, pa.int64(), mask=~good),
        ],
        schema=writer.schema,
    )

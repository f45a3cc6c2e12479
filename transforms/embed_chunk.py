"""Embed one chunk (a row group): its rows in input order as Arrow record batches of the chunk schema, each
embedded, reused from an earlier run by its text's hash, or rejected with the reason. Memory holds one
batch of rows at a time, never the chunk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from transforms import arrow_files, ids, reading
from transforms.embedder import Embedder, encode_or_explain
from transforms.reuse import Previous, text_hash

BATCH_ROWS = 4096


@dataclass
class Tally:
    """What happened to a chunk's rows."""

    read: int = 0
    embedded: int = 0  # by the model, in this run
    reused: int = 0  # from an earlier run, by text
    rejected: int = 0


def embed_chunk(
    group: reading.RowGroup,
    columns: reading.Columns,
    embedder: Embedder,
    schema: pa.Schema,
    on_bad_file: str = "fail",
    previous: Previous | None = None,
    model_batch: int = 256,
    tally: Tally | None = None,
) -> Iterator[pa.RecordBatch]:
    """The chunk's record batches; ``model_batch`` texts go to the model per call."""
    tally = tally if tally is not None else Tally()
    docs: list[reading.Document] = []
    for doc in reading.read_row_group(group, columns, on_bad_file):
        docs.append(doc)
        if len(docs) == BATCH_ROWS:
            yield _batch(docs, embedder, schema, previous, model_batch, tally)
            docs = []
    if docs:
        yield _batch(docs, embedder, schema, previous, model_batch, tally)


def _batch(
    docs: list[reading.Document],
    embedder: Embedder,
    schema: pa.Schema,
    previous: Previous | None,
    model_batch: int,
    tally: Tally,
) -> pa.RecordBatch:
    dim = schema.field("embedding").type.list_size
    reasons = [reading.rejection(d) for d in docs]
    ok = [i for i, r in enumerate(reasons) if r is None]
    hashes: list[bytes | None] = [None] * len(docs)
    for i in ok:
        hashes[i] = text_hash(docs[i].text)
    vectors = np.zeros((len(docs), dim), np.float32)
    found = previous.find([hashes[i] for i in ok]) if previous is not None and ok else np.full(len(ok), -1)
    reused = [i for i, f in zip(ok, found, strict=True) if f >= 0]
    if reused:
        vectors[reused] = previous.vectors(found[found >= 0], dim)
    todo = [i for i, f in zip(ok, found, strict=True) if f < 0]
    for start in range(0, len(todo), model_batch):
        part = todo[start : start + model_batch]
        for i, v in zip(part, encode_or_explain(embedder, [docs[i].text for i in part]), strict=True):
            if isinstance(v, str):
                reasons[i] = v
            else:
                vectors[i] = v
    tally.read += len(docs)
    tally.reused += len(reused)
    tally.rejected += sum(r is not None for r in reasons)
    tally.embedded += sum(reasons[i] is None for i in todo)
    good = np.array([r is None for r in reasons])
    row_ids = [ids.row_id(d.doc_id) if r is None else None for d, r in zip(docs, reasons, strict=True)]
    embedding = arrow_files.vector_array(vectors)
    mask = pa.array(~good)
    return pa.RecordBatch.from_arrays(
        [
            pa.array([d.doc_id for d in docs], pa.string()),
            pa.array(row_ids, pa.int64()),
            pa.array([d.label for d in docs], pa.string()),
            pa.array([d.file for d in docs], pa.string()),
            pa.array([d.row for d in docs], pa.int64()),
            pa.array(
                [h if r is None else None for h, r in zip(hashes, reasons, strict=True)],
                schema.field("text_hash").type,
            ),
            pa.array(reasons, pa.string()),
            pa.FixedSizeListArray.from_arrays(embedding.values, dim, mask=mask),
        ],
        schema=schema,
    )

"""Encode: embeddings through the codec into faiss standalone codes.

Chunk by chunk first (a code chunk per embed chunk, kept in the chunk store for as long as the codec is the
same, so a re-index encodes only what changed), then each shard's codes (and, for two tiers, its fine codes)
are written by streaming through the code chunks in input order, keeping its rows and leaving out those the
run rejected as duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from transforms import arrow_files, ids, refine, schemas, vectors
from transforms.codec import CodecInfo


def encode_vectors(index: Any, vectors: np.ndarray) -> np.ndarray:
    """(n, d) float32 -> (n, code_size) uint8 via ``sa_encode`` (includes the IVF list number)."""
    return index.sa_encode(np.ascontiguousarray(vectors, dtype=np.float32))


def code_chunk_schema(index: Any, info: CodecInfo) -> pa.Schema:
    return schemas.code_chunk(index.sa_code_size(), info.refine_code_size, info.fingerprint)


def encode_chunk(
    index: Any, info: CodecInfo, chunk: vectors.ChunkReader, schema: pa.Schema, quantizer: Any = None
) -> Iterator[pa.RecordBatch]:
    """The codes of one embed chunk's embedded rows, with their position in it (and their fine codes for
    two tiers), one record batch per batch of the chunk."""
    start = 0
    for batch in chunk.batches(["doc_id", "row_id", "file", "row", "reason", "embedding"]):
        ok = np.asarray(batch.column("reason").is_null().to_numpy(zero_copy_only=False))
        if ok.any():
            kept = batch.filter(pa.array(ok))
            vectors = arrow_files.vectors(kept.column("embedding"))
            if vectors.shape[1] != info.dim:
                raise ValueError(
                    f"{chunk.url}: embeddings have {vectors.shape[1]} dims, the codec {info.dim}"
                )
            columns = [
                pa.array(np.flatnonzero(ok) + start, pa.int64()),
                kept.column("doc_id"),
                kept.column("row_id"),
                kept.column("file"),
                kept.column("row"),
                arrow_files.code_array(encode_vectors(index, vectors)),
            ]
            if quantizer is not None:
                columns.append(arrow_files.code_array(encode_vectors(quantizer, vectors)))
            yield pa.RecordBatch.from_arrays(columns, schema=schema)
        start += batch.num_rows


def write_shard(
    code_chunks: Sequence[str],
    dropped: dict[int, np.ndarray],
    shard: int,
    shards: int,
    info: CodecInfo,
    codes_url: str,
    refine_url: str | None = None,
) -> int:
    """One shard's code file (and refine file for two tiers): its rows of every code chunk, in input order,
    less the rows rejected as duplicates. Returns the rows written."""
    schema = schemas.codes(info.code_size, info.fingerprint, info.factory)
    writer = arrow_files.BatchWriter(codes_url, schema)
    fine = None
    if info.refine:
        fine = arrow_files.BatchWriter(
            refine_url, refine.schema(info.refine_code_size, info.refine_fingerprint, info.refine)
        )
    try:
        for c, url in enumerate(code_chunks):
            gone = dropped.get(c)
            for batch in arrow_files.iter_batches(url):
                row_ids = batch.column("row_id").to_numpy()
                mask = ids.shard_of_array(row_ids, shards) == shard
                if gone is not None and len(gone):
                    mask &= ~np.isin(batch.column("position").to_numpy(), gone)
                if not mask.any():
                    continue
                kept = batch.filter(pa.array(mask))
                writer.write(kept.select(schema.names).cast(schema))
                if fine is not None:
                    fine.write(
                        pa.RecordBatch.from_arrays(
                            [kept.column("row_id"), kept.column("fine")], schema=fine.schema
                        )
                    )
    finally:
        writer.close()
        if fine is not None:
            fine.close()
    return writer.rows

"""Encode: embeddings through the codec into faiss standalone codes.

Vector file by vector file first (a code file per vector file, transforms.embed.vectors, kept in the chunk
store for as long as the codec is the same: a vector made once is encoded once, so a nightly re-index
encodes only the vectors the model made for it), then each shard's codes (and, for two tiers, its fine
codes) are written by streaming through the embed chunks in input order, taking each kept row's codes from
the code file of its vector, and leaving out the rows the run rejected as duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.codec import refine
from transforms.codec.info import CodecInfo
from transforms.embed import ids, vectors
from transforms.storage import arrow_files, schemas

BATCH_ROWS = 4096


def encode_vectors(index: Any, vectors: np.ndarray) -> np.ndarray:
    """(n, d) float32 -> (n, code_size) uint8 via ``sa_encode`` (includes the IVF list number)."""
    return index.sa_encode(np.ascontiguousarray(vectors, dtype=np.float32))


def code_file_schema(index: Any, info: CodecInfo) -> pa.Schema:
    return schemas.code_file(index.sa_code_size(), info.refine_code_size, info.fingerprint)


def encode_file(
    index: Any, info: CodecInfo, vector_url: str, schema: pa.Schema, quantizer: Any = None
) -> Iterator[pa.RecordBatch]:
    """The codes (and fine codes for two tiers) of every row of one vector file, in its order (a rejected
    row of an inline chunk holds zeros: its codes are never taken)."""
    matrix = vectors.Matrices().get(vector_url)
    if matrix.shape[1] != info.dim:
        raise ValueError(f"{vector_url}: embeddings have {matrix.shape[1]} dims, the codec {info.dim}")
    for whole in matrix.parts:
        for start in range(0, len(whole), BATCH_ROWS):
            part = whole[start : start + BATCH_ROWS]
            columns = [arrow_files.code_array(encode_vectors(index, part))]
            if quantizer is not None:
                columns.append(arrow_files.code_array(encode_vectors(quantizer, part)))
            yield pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class ShardSources:
    """What every shard's codes are taken from. ``chunks``: each embed chunk with the code files of its
    vector files (``reader.files``), in the same order; ``dropped``: chunk -> positions rejected as
    duplicates; ``fine_files``: for two tiers, the run's list of every one of those code files (each with
    its ``url``; ``transforms.codec.refine.write_listing`` writes the list), which the refine files refer to
    by position for the fine codes."""

    chunks: Sequence[tuple[vectors.ChunkReader, Sequence[str]]]
    dropped: Mapping[int, np.ndarray]
    shards: int
    fine_files: Sequence[Mapping[str, Any]] = ()


def write_shard(
    sources: ShardSources, shard: int, info: CodecInfo, codes_url: str, refine_url: str | None = None
) -> int:
    """One shard's code file (and refine file for two tiers): its rows of every embed chunk, in input order,
    less the rows rejected as duplicates. The code file is compressed: only the build stage reads it,
    streaming. Returns the rows written."""
    chunks, dropped, shards, fine_files = sources.chunks, sources.dropped, sources.shards, sources.fine_files
    schema = schemas.codes(info.code_size, info.fingerprint, info.factory)
    writer = arrow_files.BatchWriter(codes_url, schema, "zstd")
    fine = None
    if info.refine:
        if not fine_files:
            raise ValueError(f"{refine_url}: a two-tier shard needs the code files its fine codes are in")
        fine = arrow_files.BatchWriter(
            refine_url, refine.schema(info.refine_code_size, info.refine_fingerprint, info.refine)
        )
        number = {f["url"]: i for i, f in enumerate(fine_files)}
    codes = vectors.Matrices("code")
    try:
        for c, (reader, code_urls) in enumerate(chunks):
            gone = dropped.get(c)
            start = 0
            for part in reader.located(["doc_id", "row_id", "file", "row"]):
                row_ids = pc.fill_null(part.batch.column("row_id"), -1).to_numpy()
                mask = part.ok & (ids.shard_of_array(row_ids, shards) == shard)
                if gone is not None and len(gone):
                    mask &= ~np.isin(np.arange(start, start + len(mask)), gone)
                start += len(mask)
                if not mask.any():
                    continue
                kept = part.batch.filter(pa.array(mask))
                which, rows = part.which[mask], part.rows[mask]
                code = arrow_files.code_array(codes.gather(code_urls, which, rows))
                writer.write(pa.RecordBatch.from_arrays([*kept.columns, code], schema=schema))
                if fine is not None:
                    files = np.array([number[u] for u in code_urls], np.int32)[which]
                    where = [kept.column("row_id"), pa.array(files), pa.array(_int32(rows, code_urls))]
                    fine.write(pa.RecordBatch.from_arrays(where, schema=fine.schema))
    finally:
        writer.close()
        if fine is not None:
            fine.close()
    return writer.rows


def _int32(rows: np.ndarray, files: Sequence[str]) -> np.ndarray:
    if len(rows) and rows.max() > np.iinfo(np.int32).max:
        raise ValueError(f"a code file of {', '.join(files)} has more rows than a refine shard can name")
    return rows.astype(np.int32)

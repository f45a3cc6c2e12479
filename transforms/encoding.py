"""Encode: float embeddings through the codec into faiss standalone codes, shard by shard, streaming."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from transforms import arrow_files, integrity, refine, schemas
from transforms.codec import CodecInfo


def encode_vectors(index: Any, vectors: np.ndarray) -> np.ndarray:
    """(n, d) float32 -> (n, code_size) uint8 via ``sa_encode`` (includes the IVF list number)."""
    return index.sa_encode(np.ascontiguousarray(vectors, dtype=np.float32))


def encode_shard(
    index: Any,
    info: CodecInfo,
    embeddings_url: str,
    codes_url: str,
    expect: dict[str, Any] | None = None,
    quantizer: Any = None,
    refine_url: str | None = None,
) -> int:
    """Encode one embedding shard into one code shard, after checking the embeddings against their record
    (``expect``: size and sha256, when given); with a stored tier (``quantizer``), also its fine codes into
    the refine shard ``refine_url``. Returns the number of rows written."""
    integrity.verify_file(embeddings_url, expect)
    schema = schemas.codes(index.sa_code_size(), info.fingerprint, info.factory)
    writer = arrow_files.BatchWriter(codes_url, schema)
    fine = None
    if quantizer is not None:
        fine_schema = refine.schema(info.refine_code_size, info.refine_fingerprint, info.refine)
        fine = arrow_files.BatchWriter(refine_url, fine_schema)
    try:
        for batch in arrow_files.iter_batches(embeddings_url, ["doc_id", "row_id", "embedding"]):
            vectors = arrow_files.vectors(batch.column("embedding"))
            if vectors.shape[1] != info.dim:
                raise ValueError(
                    f"{embeddings_url}: embeddings have {vectors.shape[1]} dims, the codec expects {info.dim}"
                )
            codes = arrow_files.code_array(encode_vectors(index, vectors))
            writer.write(
                pa.RecordBatch.from_arrays(
                    [batch.column("doc_id"), batch.column("row_id"), codes], schema=schema
                )
            )
            if fine is not None:
                fine_codes = arrow_files.code_array(encode_vectors(quantizer, vectors))
                fine.write(
                    pa.RecordBatch.from_arrays([batch.column("row_id"), fine_codes], schema=fine.schema)
                )
    finally:
        writer.close()
        if fine is not None:
            fine.close()
    return writer.rows

"""Build: IVF index shards straight from stored codes (``add_sa_codes``), never from float embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from transforms import arrow_files, io, schemas
from transforms.codec import CodecInfo


class BuildError(ValueError):
    pass


def empty_shard(trained: Any) -> tuple[Any, Any]:
    """A fresh copy of the trained empty codec, and its inner IVF index where codes are added."""
    import faiss

    index = faiss.clone_index(trained)
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError as err:
        raise BuildError("building from codes needs an IVF codec (e.g. 'PCAR128,IVF1024,PQ32')") from err
    return index, ivf


def add_codes(index: Any, ivf: Any, codes: np.ndarray, ids: np.ndarray) -> None:
    """Add standalone codes with their global ids; keeps the wrapper's ntotal in step with the IVF's."""
    ivf.add_sa_codes(np.ascontiguousarray(codes, dtype=np.uint8), np.ascontiguousarray(ids, dtype=np.int64))
    index.ntotal = ivf.ntotal


def build_from_codes(trained: Any, codes: np.ndarray, ids: np.ndarray) -> Any:
    """One searchable index from codes and ids (in memory)."""
    index, ivf = empty_shard(trained)
    add_codes(index, ivf, codes, ids)
    return index


def build_shard(trained: Any, info: CodecInfo, codes_url: str, index_url: str, idmap_url: str) -> int:
    """Build one index shard and its id map from one code shard; returns the number of vectors."""
    import faiss

    meta = arrow_files.read_schema(codes_url).metadata or {}
    found = meta.get(b"vecpress.codec_fingerprint", b"").decode()
    if found != info.fingerprint:
        raise BuildError(f"{codes_url}: codes were made with codec {found or '?'}, not {info.fingerprint}")
    index, ivf = empty_shard(trained)
    idmap = arrow_files.BatchWriter(idmap_url, schemas.IDMAP)
    try:
        for batch in arrow_files.iter_batches(codes_url, ["doc_id", "row_id", "code"]):
            add_codes(
                index, ivf, arrow_files.code_matrix(batch.column("code")), batch.column("row_id").to_numpy()
            )
            idmap.write(
                pa.RecordBatch.from_arrays(
                    [batch.column("row_id"), batch.column("doc_id")], schema=schemas.IDMAP
                )
            )
    finally:
        idmap.close()
    io.write_bytes(index_url, faiss.serialize_index(index).tobytes())
    return int(index.ntotal)

"""Build: index shards straight from stored codes (``add_sa_codes``), never from float embeddings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.codec import codec, codec_files
from transforms.codec.info import CodecInfo
from transforms.storage import arrow_files, integrity, io, schemas
from transforms.storage.errors import VecpressError


class BuildError(VecpressError, ValueError):
    """Codes that cannot become an index shard with this codec."""


class Shard:
    """An index shard being filled from standalone codes, for any codec vecpress builds.

    IVF codecs take the codes and their ids straight into their inverted lists (``add_sa_codes``); flat code
    indexes (PQ, SQ, RQ, LSQ, LSH, ...) take the codes in order, and flat 4-bit fast-scan PQ packs them into
    its SIMD blocks. A flat shard's own ids are then its positions: with ``keep_ids`` an ``IndexIDMap`` keeps
    the ids given to ``add`` beside them (8 bytes a vector, in memory); without, the caller keeps them in
    that order elsewhere (a run's id map, read by ``positions.Located``).
    """

    def __init__(self, trained: Any, keep_ids: bool = True):
        import faiss

        self.kind = codec.searchable_kind(trained)
        if not self.kind:
            raise BuildError(
                "building from codes needs an IVF codec (e.g. 'PCAR128,IVF1024,PQ32') or a flat code index"
            )
        self.index = codec.copy(trained)
        self.ids: list[np.ndarray] = []
        # IndexIDMap must wrap an empty index; codes then go to the flat index inside it
        self.mapped = faiss.IndexIDMap(self.index) if self.kind != "ivf" and keep_ids else None
        self.target = faiss.extract_index_ivf(self.index) if self.kind == "ivf" else codec.unwrap(self.index)

    def add(self, codes: np.ndarray, ids: np.ndarray) -> None:
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "ivf":
            self.target.add_sa_codes(codes, ids)
        else:
            if self.kind == "fastscan":
                # Packed SIMD blocks take no raw codes; each decoded code is a PQ centroid, which encodes
                # back to the same distances.
                self.target.add(self.target.pq.decode(codes))
            else:
                self.target.add_sa_codes(codes)
            self.ids.append(ids)
        self.index.ntotal = self.target.ntotal

    def finish(self) -> Any:
        """The searchable index: its results carry the ids given to ``add``, or for a flat shard built
        without ``keep_ids``, positions in the order they were added."""
        import faiss

        if self.mapped is None:
            return self.index
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        self.mapped.id_map.clear()
        faiss.copy_array_to_vector(ids, self.mapped.id_map)
        self.mapped.ntotal = self.index.ntotal
        return self.mapped


def build_from_codes(trained: Any, codes: np.ndarray, ids: np.ndarray) -> Any:
    """One searchable index from codes and ids (in memory)."""
    shard = Shard(trained)
    shard.add(codes, ids)
    return shard.finish()


def build_shard(
    trained: Any,
    info: CodecInfo,
    codes_url: str,
    index_url: str,
    idmap_url: str,
    expect: dict[str, Any] | None = None,
) -> int:
    """Build one index shard and its id map from one code shard, after checking the codes against their
    record (``expect``: size and sha256, when given); returns the number of vectors. An IVF shard's ids are
    global row ids; a flat shard's are its positions, which its id map (written here in the same order) maps
    to row ids; a two-tier codec's are positions too (its refine shard maps them while it re-ranks)."""
    import faiss

    integrity.verify_file(codes_url, expect)
    meta = arrow_files.read_schema(codes_url).metadata or {}
    found = meta.get(b"vecpress.codec_fingerprint", b"").decode()
    if found != info.fingerprint:
        raise BuildError(f"{codes_url}: codes were made with codec {found or '?'}, not {info.fingerprint}")
    shard = Shard(trained, keep_ids=False)
    files = _input_files(codes_url)
    idmap = arrow_files.BatchWriter(idmap_url, schemas.IDMAP)
    position = 0
    try:
        for batch in arrow_files.iter_batches(codes_url, ["doc_id", "row_id", "file", "row", "code"]):
            ids = batch.column("row_id").to_numpy()
            if info.refine:
                ids = np.arange(position, position + batch.num_rows, dtype=np.int64)
            position += batch.num_rows
            shard.add(arrow_files.code_matrix(batch.column("code")), ids)
            idmap.write(_idmap_batch(batch, files))
    finally:
        idmap.close()
    index = shard.finish()
    io.write_bytes(index_url, faiss.serialize_index(index).tobytes())
    return int(index.ntotal)


def _input_files(codes_url: str) -> pa.Array:
    """Every input file a code shard's rows come from, once: the id map's dictionary (an Arrow IPC file
    holds one dictionary a column, so it is known before the first row is written)."""
    found = [b.column("file").unique() for b in arrow_files.iter_batches(codes_url, ["file"])]
    return pa.chunked_array(found, pa.string()).unique()


def _idmap_batch(batch: pa.RecordBatch, files: pa.Array) -> pa.RecordBatch:
    index = pc.index_in(batch.column("file"), value_set=files).cast(pa.int32())
    file = pa.DictionaryArray.from_arrays(index, files)
    arrays = [batch.column("row_id"), batch.column("doc_id"), file, batch.column("row")]
    return pa.RecordBatch.from_arrays(arrays, schema=schemas.IDMAP)


def copy_unchanged_shards(layout: Any, written: dict[str, Any], previous: Any) -> set[int]:
    """Shards whose code file is byte for byte the last published run's, built with the same codec: their
    index shard and id map are copied from that run instead of built again (the files it copies are checked
    against its manifest)."""
    if previous is None:
        return set()
    prev_layout, manifest, _ = previous
    listed = manifest.records()
    codec_file = layout.codec_path(codec_files.CODEC_INDEX)
    codec_now = written.get(codec_file, {}).get("sha256")
    if not codec_now or listed.get(codec_file, {}).get("sha256") != codec_now:
        return set()
    reused = set()
    for i in range(layout.shards):
        codes = layout.shard_path("codes", i)
        outputs = [layout.shard_path(kind, i) for kind in ("index", "idmap")]
        if codes not in listed or listed[codes]["sha256"] != written.get(codes, {}).get("sha256"):
            continue
        if not all(rel in listed for rel in outputs):
            continue
        try:
            for rel in outputs:
                integrity.verify_file(prev_layout.dir(rel), listed[rel])
        except integrity.IntegrityError:
            continue
        for rel in outputs:
            io.copy_tree(prev_layout.dir(rel), layout.dir(rel))
        reused.add(i)
    return reused

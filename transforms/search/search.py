"""Search over index shards: every shard probes the same lists, results are merged into one top-k."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from transforms.codec import codec, codec_files, refine
from transforms.storage import integrity, positions
from transforms.storage.layout import CODEC


class Hits(NamedTuple):
    distances: np.ndarray  # (nq, k) float32, squared L2, ascending; +inf where fewer than k results
    ids: np.ndarray  # (nq, k) int64 row ids; -1 where fewer than k results


def merge_topk(parts: Sequence[Hits], k: int) -> Hits:
    """Merge per-shard top-k lists into one, by distance then id (deterministic on ties)."""
    dist = np.concatenate([p.distances for p in parts], axis=1)
    ids = np.concatenate([p.ids for p in parts], axis=1)
    dist = np.where(ids < 0, np.inf, dist)
    order = np.lexsort((ids, dist), axis=1)[:, :k]
    return Hits(np.take_along_axis(dist, order, 1), np.take_along_axis(ids, order, 1))


def search_shards(indexes: Sequence[Any], queries: np.ndarray, k: int) -> Hits:
    """Search every shard for the top-k of each query, then merge."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    parts = [Hits(*index.search(queries, k)) for index in indexes]
    return merge_topk(parts, k)


def _pad(hits: Hits, k: int) -> Hits:
    short = k - hits.ids.shape[1]
    if short <= 0:
        return hits
    nq = len(hits.ids)
    return Hits(
        np.hstack([hits.distances, np.full((nq, short), np.inf, np.float32)]),
        np.hstack([hits.ids, np.full((nq, short), -1, np.int64)]),
    )


class UnitDecoded:
    """A flat code index shard searched by each code's reconstruction scaled to unit length.

    Embeddings that are unit-norm lie on the sphere, so the length of a reconstruction is pure error; a
    plain codec search counts that error in every distance, while here it is removed and only the
    direction is compared (exact L2 between the query and the unit reconstruction, i.e. 2 - 2 cos for a
    unit query). The shard file is the same flat code index, with an ``IndexIDMap`` over it or with its
    positions as ids; codes are decoded block by block for each search, so memory stays at the codes plus one
    block.
    """

    BLOCK = 32768

    def __init__(self, index: Any):
        import faiss

        self.index = index  # owns the decoder below
        self.mapped = isinstance(index, faiss.IndexIDMap)
        self.decoder = faiss.downcast_index(index.index) if self.mapped else faiss.downcast_index(index)
        if not codec.unit_decodable(self.decoder):
            raise ValueError(f"{type(self.decoder).__name__} codes cannot be decoded for unit-length search")
        flat = codec.unwrap(self.decoder)
        self.ntotal = int(flat.ntotal)
        self.codes = faiss.vector_to_array(flat.codes).reshape(self.ntotal, flat.code_size)
        # the IndexIDMap's ids; without one, results are positions and nothing a vector is held for them
        self.ids = faiss.vector_to_array(index.id_map).astype(np.int64) if self.mapped else None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32)
        none = np.zeros((len(queries), 0))
        parts = [_pad(Hits(none.astype(np.float32), none.astype(np.int64)), k)]  # k misses if no codes
        for start in range(0, self.ntotal, self.BLOCK):
            rec = self.decoder.sa_decode(self.codes[start : start + self.BLOCK])
            rec /= np.maximum(np.linalg.norm(rec, axis=1, keepdims=True), np.float32(1e-12))
            dist, pos = faiss.knn(queries, rec, min(k, len(rec)))
            at = start + np.maximum(pos, 0)
            ids = np.where(pos >= 0, at if self.ids is None else self.ids[at], -1)
            parts.append(_pad(Hits(dist, ids), k))
        hits = merge_topk(parts, k)
        return hits.distances, hits.ids


def cosine_from_l2(distances: np.ndarray) -> np.ndarray:
    """For unit-norm embeddings, squared L2 distance d maps to cosine similarity 1 - d/2."""
    return 1.0 - distances / 2.0


def load_index(
    url: str, nprobe: int, unit_decode: bool = False, expect: Mapping[str, Any] | None = None
) -> Any:
    """Read one index shard over fsspec (plain ``faiss.read_index`` also reads it from a local path), checked
    against its record (``expect``: size and sha256) before faiss sees a byte; with ``unit_decode`` (the
    codec's setting), wrapped to search by unit-length reconstructions."""
    import faiss

    index = faiss.deserialize_index(np.frombuffer(integrity.read_verified(url, expect), np.uint8))
    codec.set_nprobe(index, nprobe)
    return UnitDecoded(index) if unit_decode else index


def open_shard(
    url: str,
    nprobe: int,
    info: Any,
    expect: Mapping[str, Any] | None = None,
    idmap: positions.Rows | tuple[str, Mapping[str, Any] | None] | None = None,
    stored: tuple[Any, refine.Store] | None = None,
) -> Any:
    """One index shard as the codec says to search it (``info``: its CodecInfo), checked against its record
    first: by unit-length reconstructions, re-ranked from its stored tier (two tiers: ``stored``, the
    codec's fine quantizer and the shard's opened refine shard), or plainly; a flat shard whose ids are
    positions answers with the row ids of its id map (``idmap``: opened, or its URL and record, opened
    only for such a shard)."""
    index = load_index(url, nprobe, info.unit_decode, expect)
    if info.refine is not None:
        if stored is None:
            raise ValueError(f"{url}: a two-tier shard is searched with its refine shard, and none was given")
        quantizer, store = stored
        return refine.Reranked(index, store, quantizer, info.rerank)
    if not _positional(index):
        return index
    if idmap is None:
        raise ValueError(f"{url}: a flat shard's results are positions, and no id map was given to map them")
    if isinstance(idmap, tuple):
        idmap = positions.Rows(idmap[0], idmap[1], columns=("row_id",))
    return positions.Located(index, idmap)


def _positional(index: Any) -> bool:
    """Whether a loaded shard answers with its positions rather than row ids."""
    return not index.mapped if isinstance(index, UnitDecoded) else codec.positional(index)


Records = Mapping[str, Mapping[str, Any]]  # a run's files by relative path: {"bytes", "sha256"}


def shard_files(layout: Any, records: Records, kind: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(url, record) of each shard of ``kind`` of the run at ``layout`` (a RunLayout); a shard without a
    record is an IntegrityError, since it could not be checked."""
    out = []
    for i in range(layout.shards):
        rel = layout.shard_path(kind, i)
        if rel not in records:
            raise integrity.IntegrityError(
                f"{layout.dir(rel)}: run {layout.run_id} has this shard but no size or sha256 recorded for it"
            )
        out.append((layout.dir(rel), records[rel]))
    return out


def open_run(
    layout: Any,
    info: Any,
    records: Records,
    nprobe: int | None = None,
    idmap_rows: Sequence[Any] | None = None,
) -> list[Any]:
    """Every index shard of a run, searchable as its codec says (``info``: its CodecInfo; two tiers with
    their refine shards and the codec's fine quantizer; flat shards with their id maps, or with
    ``idmap_rows``, each shard's id map already opened), each file checked against ``records`` first."""
    quantizer = codec_files.load_refine(layout.codec, info, integrity.under(records, CODEC))
    stored: list[Any] = [None] * layout.shards
    idmaps: list[Any] = [None] * layout.shards
    if info.refine:
        # each code file opened once for all the shards
        code_files = refine.CodeFiles(layout.output, refine.read_listing(layout, records))
        stored = [
            (quantizer, refine.Store(u, r, code_files)) for u, r in shard_files(layout, records, "refine")
        ]
    elif idmap_rows is not None:
        idmaps = list(idmap_rows)
    else:  # opened by open_shard only for a shard whose ids are positions
        idmaps = shard_files(layout, records, "idmap")
    return [
        open_shard(url, nprobe or info.nprobe, info, record, idmaps[i], stored[i])
        for i, (url, record) in enumerate(shard_files(layout, records, "index"))
    ]


class Probed:
    """A shard searched with its own ``nprobe``, passed as faiss search parameters: nothing is copied and
    concurrent searches with other values do not interfere."""

    def __init__(self, index: Any, nprobe: int):
        import faiss

        self.index, self.ntotal = index, index.ntotal
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        if isinstance(index, faiss.IndexPreTransform):
            params = faiss.SearchParametersPreTransform(index_params=params)
        self.params = params

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(queries, k, params=self.params)


def tuned(index: Any, nprobe: int | None = None, rerank: int | None = None) -> Any:
    """The same shard searching ``nprobe`` lists (IVF codecs) and re-ranking ``rerank`` candidates per result
    (two tiers); each setting is left as it is when None or when the shard has no such thing."""
    import faiss

    if isinstance(index, refine.Reranked):
        inner = tuned(index.index, nprobe)
        return refine.Reranked(inner, index.store, index.quantizer, rerank or index.factor)
    if nprobe is None or isinstance(index, UnitDecoded | positions.Located):  # flat: no lists to probe
        return index
    try:
        faiss.extract_index_ivf(index)
    except RuntimeError:
        return index
    return Probed(index, nprobe)

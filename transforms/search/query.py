"""Query a published index: embed the query with the codec's own model (and backend), search every shard,
map ids back to documents, and show their texts from the run's own input."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from transforms.embedders.embedder import load_embedder
from transforms.run import publish
from transforms.search import id_maps, search, texts


@dataclass(frozen=True)
class Hit:
    rank: int
    doc_id: str | None
    score: float  # cosine similarity estimate (1 - d/2) for normalised embeddings
    distance: float
    text: str | None = None
    label: str | None = None
    note: str | None = None  # why no text is shown


class PublishedIndex:
    """All shards of the current run of an output, loaded once and checked against its manifest, searched
    together."""

    def __init__(self, output: str, nprobe: int | None = None, device: str = "auto"):
        self.layout, self.manifest = publish.current(output)
        self.info = info = self.manifest.codec
        self.nprobe = nprobe or info.nprobe
        # every file is checked against the manifest's size and sha256 before it is used
        records = self.manifest.records()
        urls, expect = zip(*search.shard_files(self.layout, records, "idmap"), strict=True)
        self.idmap = id_maps.IdMap(list(urls), list(expect))
        # flat shards map their positions through the same memory-mapped id maps
        self.indexes = search.open_run(self.layout, info, records, self.nprobe, self.idmap.shards)
        self.columns = self.manifest.columns()
        self.inputs = {v["url"]: v for v in self.manifest.inputs}
        self.spec = info.embedder(device)
        self._embedder: Any = None

    @property
    def run_id(self) -> str:
        return self.layout.run_id

    def embedder(self) -> Any:
        if self._embedder is None:
            self._embedder = load_embedder(self.spec)
        return self._embedder

    def embed(self, queries: list[str]) -> np.ndarray:
        """The queries' vectors, each exactly as it is embedded alone where the embedder can promise it
        (``encode_alike``): the same query gets the same hits in any company, here and in serve."""
        embedder = self.embedder()
        return (
            embedder.encode_alike(queries) if hasattr(embedder, "encode_alike") else embedder.encode(queries)
        )

    @property
    def size(self) -> int:
        """Documents in the index: no search returns more hits than this."""
        return int(self.manifest.counts.indexed)

    def search(
        self,
        queries: list[str],
        k: int,
        with_text: bool = True,
        nprobe: int | None = None,
        rerank: int | None = None,
        vectors: np.ndarray | None = None,
    ) -> list[list[Hit]]:
        """The top k of each query (k at most the index's size); with their texts (and labels) read from the
        input unless asked not to. ``nprobe`` (IVF codecs) and ``rerank`` (two tiers) override the run's for
        this search; ``vectors`` are the queries already embedded by this index's embedder."""
        k = max(1, min(k, self.size))
        indexes = self.indexes
        if nprobe is not None or rerank is not None:
            indexes = [search.tuned(i, nprobe, rerank) for i in self.indexes]
        if vectors is None:
            vectors = self.embed(queries)
        hits = search.search_shards(indexes, vectors, k)
        scores = search.cosine_from_l2(hits.distances)
        out = []
        for dist, ids, score in zip(hits.distances, hits.ids, scores, strict=True):
            kept = ids >= 0
            doc_ids = self.idmap.lookup(ids[kept])
            out.append(
                [
                    Hit(r + 1, d, float(s), float(x))
                    for r, (d, s, x) in enumerate(zip(doc_ids, score[kept], dist[kept], strict=True))
                ]
            )
        if with_text:
            out = self._with_texts(out, hits.ids)
        return out

    def _with_texts(self, found: list[list[Hit]], ids: Any) -> list[list[Hit]]:
        places = [self.idmap.places(row[row >= 0]) for row in ids]
        wanted = [p for row in places for p in row if p is not None]
        fetched = texts.fetch(wanted, self.columns, self.inputs)
        out = []
        for hits, row in zip(found, places, strict=True):
            out.append(
                [
                    replace(h, **fetched[p]._asdict()) if p in fetched else h
                    for h, p in zip(hits, row, strict=True)
                ]
            )
        return out

"""Query a published index: embed the query with the codec's own model, search every shard, map ids back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transforms import codec, publish, search, verify
from transforms.embedder import EmbedderSpec, load_embedder


@dataclass(frozen=True)
class Hit:
    rank: int
    doc_id: str | None
    score: float  # cosine similarity estimate (1 - d/2) for normalised embeddings
    distance: float


class PublishedIndex:
    """All shards of the current run of an output, loaded once, searched together."""

    def __init__(self, output: str, nprobe: int | None = None, device: str = "auto"):
        self.layout, self.manifest = publish.current(output)
        info = codec.CodecInfo(**self.manifest["codec"])
        self.nprobe = nprobe or info.nprobe
        # every file is checked against the manifest's size and sha256 before it is used
        records = verify.records(self.manifest)
        quantizer = codec.load_refine(
            self.layout.codec, info, {k.removeprefix("codec/"): v for k, v in records.items()}
        )
        fine = verify.shard_records(self.layout, self.manifest, "refine") if info.refine else None
        self.indexes = [
            search.open_shard(url, self.nprobe, info, record, quantizer, *(fine[i] if fine else (None, None)))
            for i, (url, record) in enumerate(verify.shard_records(self.layout, self.manifest, "index"))
        ]
        urls, records = zip(*verify.shard_records(self.layout, self.manifest, "idmap"), strict=True)
        self.idmap = search.IdMap(list(urls), list(records))
        self.spec = EmbedderSpec(
            model=info.model,
            device=device,
            normalize=info.normalize,
            max_seq_length=info.max_seq_length,
            # the index's backend; fp16 weights exist on CUDA only, so elsewhere the same model in fp32
            backend=info.backend,
            precision=info.precision if info.precision != "fp16" or device.startswith("cuda") else "fp32",
        )
        self._embedder: Any = None

    def search(self, queries: list[str], k: int) -> list[list[Hit]]:
        if self._embedder is None:
            self._embedder = load_embedder(self.spec)
        hits = search.search_shards(self.indexes, self._embedder.encode(queries), k)
        scores = search.cosine_from_l2(hits.distances)
        out = []
        for dist, ids, score in zip(hits.distances, hits.ids, scores, strict=True):
            doc_ids = self.idmap.lookup(ids)
            out.append(
                [
                    Hit(r + 1, d, float(s), float(x))
                    for r, (d, s, x, i) in enumerate(zip(doc_ids, score, dist, ids, strict=True))
                    if i >= 0
                ]
            )
        return out

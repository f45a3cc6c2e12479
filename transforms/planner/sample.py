"""The planner's sample of embeddings: from a vecpress run's embedding shards, or embedded from Parquet."""

from __future__ import annotations

import heapq
import logging
from typing import NamedTuple

import numpy as np

from transforms.embed import ids
from transforms.embed.embeddings import Embeddings
from transforms.embedders.embedder import load_embedder
from transforms.embedders.spec import EmbedderSpec
from transforms.read import reading, rows
from transforms.run import publish

logger = logging.getLogger(__name__)


class PlanSample(NamedTuple):
    vectors: np.ndarray
    labels: list[str | None] | None
    source: str
    corpus_rows: int  # documents the sample was drawn from: what a run would index


def from_run(output: str, size: int, seed: int) -> PlanSample:
    """A seeded bottom-k sample of the embeddings a published vecpress run already wrote."""
    layout, manifest = publish.current(output)
    emb = Embeddings.load(layout)
    emb.check()
    sample = emb.sample(size, seed)
    labels = sample.labels if manifest.columns().label is not None else None
    source = f"embeddings of run {manifest.run_id} in {output} ({manifest.codec.model})"
    return PlanSample(sample.vectors, labels, source, manifest.counts.embedded)


def from_parquet(
    pattern: str, columns: reading.Columns, spec: EmbedderSpec, size: int, seed: int
) -> PlanSample:
    """Embed a seeded sample of ``size`` documents (bottom-k over a hash of the id, so it does not depend on
    file order) drawn from every non-empty, non-duplicate row of the input."""
    files = reading.check_inputs(pattern, columns)
    heap: list[tuple[int, int, str, str | None]] = []  # (-priority, row id, text, label): the size smallest
    seen: set[int] = set()
    for f in files:
        for doc in rows.read_documents(f.url, columns):
            if reading.rejection(doc):
                continue
            row = ids.row_id(doc.doc_id)
            if row in seen:
                continue
            seen.add(row)
            pri = int(ids.mix64(np.array([row], np.int64), seed)[0])
            item = (-pri, row, doc.text, doc.label)
            if len(heap) < size:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    if not heap:
        raise reading.InputError(f"{pattern}: no documents to plan on (every row is empty or rejected)")
    chosen = sorted(heap, key=lambda t: t[1])
    embedder = load_embedder(spec)
    texts = [t[2] for t in chosen]
    batch = 4 * spec.batch_size
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(texts), desc="embedding plan sample", unit="doc", mininterval=2.0) as bar:
        for i in range(0, len(texts), batch):
            parts.append(embedder.encode(texts[i : i + batch]))
            bar.update(len(texts[i : i + batch]))
    labels = [t[3] for t in chosen] if columns.label else None
    source = f"{len(texts)} documents of {pattern} embedded with {spec.model}"
    return PlanSample(np.concatenate(parts).astype(np.float32), labels, source, len(seen))

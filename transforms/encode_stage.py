"""The encode stage around its pipelines: which embed chunks this codec has not encoded yet, and the code
chunks every shard is written from, each checked against the record made when it was committed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from transforms import chunks, formats, integrity, vectors
from transforms.codec import CodecInfo
from transforms.embeddings import Embeddings

logger = logging.getLogger(__name__)


@dataclass
class EncodePlan:
    embedder_key: str
    store: chunks.Store  # the codec's code chunks
    chunks: list[tuple[str, vectors.ChunkReader]]  # (chunk key, embed chunk), in input order
    todo: list[tuple[str, vectors.ChunkReader]]


def code_store(output: str, embedder_key: str, info: CodecInfo) -> chunks.Store:
    """Where this codec's code chunks are kept: by the codec's fingerprint and the version of what encoding
    writes (transforms.formats): a code chunk made another way is not reused."""
    version = formats.ENCODE
    return chunks.Store(
        output, embedder_key, hashlib.sha256(f"{info.fingerprint}-v{version}".encode()).hexdigest()
    )


def plan(emb: Embeddings, info: CodecInfo) -> EncodePlan:
    if not emb.chunks:
        raise ValueError("no embed chunks to encode")
    embedder_key = chunks.split_path(emb.chunks[0]["path"])[0]
    store = code_store(emb.output, embedder_key, info)
    listed = [(chunks.split_path(c["path"])[1], emb.reader(i)) for i, c in enumerate(emb.chunks)]
    todo = [(key, url) for key, url in listed if store.done(key) is None]
    logger.info(
        "encode: %d chunks, %d encoded before (reused), %d to encode",
        len(listed),
        len(listed) - len(todo),
        len(todo),
    )
    return EncodePlan(embedder_key, store, listed, todo)


def code_chunks(work: EncodePlan) -> list[str]:
    """Every code chunk's URL in input order, each checked against its record."""
    urls = []
    for key, _ in work.chunks:
        record = work.store.record(key)
        if record is None:
            raise RuntimeError(f"code chunk {key} was not committed")
        integrity.verify_file(work.store.url(key), record)
        urls.append(work.store.url(key))
    return urls

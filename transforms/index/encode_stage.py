"""The encode stage around its pipelines: which vector files this codec has not encoded yet, and the code
file of every vector file the run's embed chunks read, each checked against the record made when it was
committed."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from transforms.codec.info import CodecInfo
from transforms.embed import chunks, vectors
from transforms.embed.embeddings import Embeddings
from transforms.index import encoding
from transforms.storage import formats, integrity

logger = logging.getLogger(__name__)


@dataclass
class EncodePlan:
    embedder_key: str
    store: chunks.Store  # the codec's code files, one per vector file, keyed by its name
    readers: list[vectors.ChunkReader]  # the embed chunks, in input order
    sources: list[tuple[str, str]]  # (code key, vector file URL) of every vector file they read
    todo: list[tuple[str, str]]


def code_store(output: str, embedder_key: str, info: CodecInfo) -> chunks.Store:
    """Where this codec's code files are kept: by the codec's fingerprint and the version of what encoding
    writes (transforms.storage.formats): a code file made another way is not reused."""
    version = formats.ENCODE
    return chunks.Store(
        output, embedder_key, hashlib.sha256(f"{info.fingerprint}-v{version}".encode()).hexdigest()
    )


def code_key(vector_url: str) -> str:
    """A code file's key: the name of the vector file it encodes (a vector file is never rewritten)."""
    return vector_url.rsplit("/", 1)[-1].removesuffix(".arrow")


def plan(emb: Embeddings, info: CodecInfo) -> EncodePlan:
    if not emb.chunks:
        raise ValueError("no embed chunks to encode")
    embedder_key = emb.embedder_key
    store = code_store(emb.output, embedder_key, info)
    readers = [emb.reader(i) for i in range(len(emb.chunks))]
    files = dict.fromkeys(url for r in readers for url in r.files)
    sources = [(code_key(url), url) for url in files]
    todo = [(key, url) for key, url in sources if store.done(key) is None]
    logger.info(
        "encode: %d vector files, %d encoded before (reused), %d to encode",
        len(sources), len(sources) - len(todo), len(todo),
    )  # fmt: skip
    return EncodePlan(embedder_key, store, readers, sources, todo)


def encode_here(work: EncodePlan, index: Any, info: CodecInfo, quantizer: Any = None) -> None:
    """Encode and commit what ``work`` has still to do in this process, one vector file after another (the
    encode pipeline spreads the same work over its workers)."""
    schema = encoding.code_file_schema(index, info)
    for key, url in work.todo:
        work.store.commit(key, encoding.encode_file(index, info, url, schema, quantizer), schema)


def code_files(work: EncodePlan) -> list[tuple[vectors.ChunkReader, tuple[str, ...]]]:
    """Each embed chunk with the code files of its vector files, in input order, each code file checked
    against its record once."""
    for key, _ in work.sources:  # each vector file once, however many chunks read it
        integrity.verify_file(work.store.url(key), _record(work, key))
    return [(r, tuple(work.store.url(code_key(u)) for u in r.files)) for r in work.readers]


def fine_files(work: EncodePlan) -> list[dict[str, Any]]:
    """Every code file the run's chunks read (``url``; ``path`` from the output root, as a refine shard
    names it; ``bytes`` and ``sha256`` as committed): where a two-tier index's fine codes are kept."""
    out = []
    for key, _ in work.sources:
        record = _record(work, key)
        path = work.store.relative(key)
        out.append(
            {"url": work.store.url(key), "path": path, "bytes": record["bytes"], "sha256": record["sha256"]}
        )
    return out


def _record(work: EncodePlan, key: str) -> dict[str, Any]:
    record = work.store.record(key)
    if record is None:
        raise RuntimeError(f"code file {key} was not committed")
    return record

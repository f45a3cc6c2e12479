"""Explicit Arrow schemas of every file vecpress writes; nothing is inferred from the data."""

from __future__ import annotations

import pyarrow as pa

REJECTS = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("doc_id", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)

# row id -> document id, and where the document is in the input (search shows its text from there); the
# input file's URL is dictionary-encoded (one dictionary a file: the shard's input files), not repeated on
# every row. Id maps written before hold it as a plain string; readers take both.
IDMAP = pa.schema(
    [
        pa.field("row_id", pa.int64(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("file", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
    ]
)


def embeddings(dim: int, model: str) -> pa.Schema:
    """Embedding shard: one row per document, keyed by its document id and global int64 row id."""
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("row_id", pa.int64(), nullable=False),
            pa.field("label", pa.string()),
            pa.field("embedding", pa.list_(pa.float32(), dim), nullable=False),
        ],
        metadata={"vecpress.kind": "embeddings", "vecpress.model": model, "vecpress.dim": str(dim)},
    )


TEXT_HASH = pa.binary(16)


def _chunk_rows() -> list[pa.Field]:
    """The fields every embed chunk has, in order: a row's identity, place, text hash and rejection."""
    return [
        pa.field("doc_id", pa.string()),
        pa.field("row_id", pa.int64()),
        pa.field("label", pa.string()),
        pa.field("file", pa.string(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
        pa.field("text_hash", TEXT_HASH),
        pa.field("reason", pa.string()),
    ]


def _chunk_metadata(dim: int, model: str) -> dict[str, str]:
    return {"vecpress.kind": "chunk", "vecpress.model": model, "vecpress.dim": str(dim)}


def chunk(dim: int, model: str) -> pa.Schema:
    """Embed-stage chunk with its vectors inline (as runs wrote it before ``chunk_rows``; still read, and
    written by tools that fill a chunk store directly): every row of one row group in input order, embedded
    (``reason`` null) or rejected (``reason`` says why, no embedding). ``text_hash`` (blake2b-128 of the
    text) is what a later run reuses an embedding by."""
    fields = [*_chunk_rows(), pa.field("embedding", pa.list_(pa.float32(), dim))]
    return pa.schema(fields, metadata=_chunk_metadata(dim, model))


def chunk_rows(dim: int, model: str) -> pa.Schema:
    """Embed-stage chunk as runs write it: the rows of ``chunk`` without their vectors; an embedded row says
    where its vector is kept (``vector_file``, an index into the chunk record's ``vectors`` list, and
    ``vector_row``; see transforms.embed.vectors). ``chunk`` (vectors inline) is still read."""
    fields = [*_chunk_rows(), pa.field("vector_file", pa.int32()), pa.field("vector_row", pa.int64())]
    return pa.schema(fields, metadata=_chunk_metadata(dim, model))


def code_file(code_size: int, refine_size: int, fingerprint: str) -> pa.Schema:
    """Encode-stage code file: the codes (and, for two tiers, fine codes) of every row of one vector file
    (transforms.embed.vectors), in its order."""
    fields = [pa.field("code", pa.binary(code_size), nullable=False)]
    if refine_size:
        fields.append(pa.field("fine", pa.binary(refine_size), nullable=False))
    return pa.schema(
        fields, metadata={"vecpress.kind": "code_file", "vecpress.codec_fingerprint": fingerprint}
    )


def codes(code_size: int, fingerprint: str, factory: str) -> pa.Schema:
    """Code shard: faiss standalone codes (``sa_encode``) with the codec that made them in the metadata, and
    each document's place in the input."""
    return pa.schema(
        [
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("row_id", pa.int64(), nullable=False),
            pa.field("file", pa.string(), nullable=False),
            pa.field("row", pa.int64(), nullable=False),
            pa.field("code", pa.binary(code_size), nullable=False),
        ],
        metadata={
            "vecpress.kind": "codes",
            "vecpress.codec_fingerprint": fingerprint,
            "vecpress.codec_factory": factory,
        },
    )


def shard_name(index: int, total: int, suffix: str = ".arrow") -> str:
    """Zero-padded, self-describing shard file name: ``part-00003-of-00016.arrow``."""
    return f"part-{index:05d}-of-{total:05d}{suffix}"

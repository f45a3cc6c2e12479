"""The chunk store: the embed stage's unit of work and of commit, shared by every run of an output.

A chunk is one row group of one input file. Its embeddings (and the rows it rejected, with why) are written
to ``<output>/chunks/<embedder key>/<chunk key>.arrow`` under a temporary name and moved into place when
complete, with a sidecar ``.json`` holding the file's size and sha256. A chunk counts as done only when both
exist and agree, so a run killed at any moment leaves whole chunks or none, and the next run (or a nightly
re-index whose file did not change) reuses every done chunk instead of embedding it again.

The chunk key is a content key: the input file's version (size and ETag/mtime), the row group, the columns,
and what decides a text's vector (``embedding_identity``: the model's weights, backend, precision, token
limit, normalisation and the embed format version). Nothing else is in it: not the device, the batch size or
the source code, so an upgrade that computes the same vectors embeds nothing again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from transforms.embed import vectors
from transforms.embedders import backends, exports, packaged
from transforms.embedders.spec import EmbedderSpec
from transforms.read import reading
from transforms.storage import arrow_files, formats, integrity, io

logger = logging.getLogger(__name__)

STORE = "chunks"
CHUNK_NAME = b"vecpress.chunk"  # schema metadata: "<store folder>/<chunk key>", checked on reuse
RECORD = {"bytes": int, "sha256": str, "rows": int}  # what a sidecar must hold, at least


def _digest(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def embedding_identity(spec: EmbedderSpec) -> dict[str, Any]:
    """What decides the vector a text gets: the model's files (weights, tokenizer, pooling: their digest),
    the backend with its export version, the precision, the token limit, normalisation, and the embed format
    version (transforms.storage.formats). Not the model's name (the same files under another name embed
    alike), the device or the batch size."""
    static = spec.model.startswith(backends.STATIC_PREFIX)
    base = spec.model.removeprefix(backends.STATIC_PREFIX)
    return {
        "weights": packaged.digest(base),
        "static": exports.STATIC_DIMS if static else None,
        "backend": spec.backend,
        "export": exports.export_version(spec.backend, spec.precision) if not static else None,
        "precision": spec.precision,
        "max_seq_length": spec.max_seq_length,
        "normalize": spec.normalize,
        "format": formats.EMBED,
    }


def embedder_key(spec: EmbedderSpec, columns: reading.Columns, on_bad_file: str) -> str:
    """What every chunk of a run shares: the embedding's identity, the columns (ids and labels are kept in
    the chunks too) and what becomes of unreadable rows."""
    return _digest("embedder", embedding_identity(spec), columns, on_bad_file)


def store_key(records: Sequence[Mapping[str, Any]]) -> str:
    """The chunk store folder (the embedder key) of a run's embed chunks, from their recorded paths; "" when
    there are none."""
    return split_path(records[0]["path"])[0] if records else ""


def split_path(path: str) -> tuple[str, str]:
    """(embedder key, chunk key) of an embed chunk path or URL: .../chunks/<embedder>/<chunk key>.arrow."""
    parts = path.split("/")
    return parts[-2], parts[-1].removesuffix(".arrow")


def _well_formed(record: Any) -> bool:
    """A sidecar's shape: size, sha256 and rows, and the same and a name for each vector file it lists."""
    fields = {**RECORD, "name": str}
    return (
        isinstance(record, dict)
        and all(_typed(record.get(k), kind) for k, kind in RECORD.items())
        and isinstance(record.get("vectors", []), list)
        and all(
            isinstance(v, dict) and all(_typed(v.get(k), t) for k, t in fields.items())
            for v in record.get("vectors", [])
        )
    )


def _typed(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


@dataclass(frozen=True)
class Chunk:
    """One row group of one input file, and the content key of its output."""

    url: str
    index: int
    first: int
    rows: int
    key: str

    @property
    def group(self) -> reading.RowGroup:
        return reading.RowGroup(self.url, self.index, self.first, self.rows)


def plan_chunks(
    files: Iterable[reading.InputFile], versions: Iterable[dict[str, Any]], prefix: str
) -> list[Chunk]:
    """The chunks of the input in input order (file URL, then row group), each keyed by its content."""
    out = []
    for f, version in zip(files, versions, strict=True):
        for g in reading.row_groups(f.url, f.rows):
            out.append(
                Chunk(g.url, g.index, g.first, g.rows, _digest(prefix, version, g.index, g.first, g.rows))
            )
    return out


class Store:
    """Done chunks under ``<output>/chunks/<embedder key>/`` (and a codec's code files in a folder below
    it, ``codes/<codec fingerprint>/``)."""

    def __init__(self, output: str, embedder: str, codec: str | None = None, cache: str | None = None):
        self.output, self.cache = output, cache
        self.folder = f"{STORE}/{embedder}" + (f"/codes/{codec[:32]}" if codec else "")
        self.root = io.join(cache or output, self.folder)

    def url(self, key: str) -> str:
        return io.join(self.root, f"{key}.arrow")

    def relative(self, key: str) -> str:
        """The chunk file's path as a run's manifest names it: from the output root, or its full URL in a
        shared embed cache (``--embed-cache``)."""
        return f"{self.folder}/{key}.arrow" if self.cache is None else self.url(key)

    def name(self, key: str) -> bytes:
        """What a chunk file says it is, in its schema's metadata: its store folder and key."""
        return f"{self.folder}/{key}".encode()

    def record(self, key: str) -> dict[str, Any] | None:
        """The size and sha256 of a done chunk, or None when it is not done (a sidecar that is not one is
        said, and counts as none)."""
        sidecar = io.join(self.root, f"{key}.json")
        try:
            found = io.read_json(sidecar)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            logger.warning("%s: unreadable chunk sidecar (%s): making the chunk again", sidecar, err)
            return None
        if not _well_formed(found):
            logger.warning("%s: not a chunk sidecar (%.200s): making the chunk again", sidecar, found)
            return None
        return found if io.exists(self.url(key)) else None

    def done(self, key: str, check: bool = True) -> dict[str, Any] | None:
        """The record of a done chunk whose file is still what was written (re-hashed when ``check``) and
        names itself as this chunk (a chunk moved or copied from elsewhere does not)."""
        record = self.record(key)
        if record is None or not check:
            return record
        url = self.url(key)
        try:
            integrity.verify_file(url, record)
            named = (arrow_files.read_schema(url).metadata or {}).get(CHUNK_NAME)
        except integrity.IntegrityError as err:
            logger.warning("chunk %s is damaged, making it again: %s", key, err)
            return None
        except (OSError, pa.ArrowException) as err:
            logger.warning("%s: unreadable chunk (%s), making it again", url, err)
            return None
        if named != self.name(key):
            logger.warning(
                "%s: holds %s, not this chunk: making it again", url, (named or b"no name").decode()
            )
            return None
        for vector_url, vector_record in zip(
            vectors.urls(url, record), record.get("vectors", []), strict=True
        ):
            problem = vectors.problem(vector_url, vector_record)
            if problem is not None:
                logger.warning(
                    "chunk %s reads a vector file it cannot use, making it again: %s", key, problem
                )
                return None
        return record

    def commit(
        self,
        key: str,
        batches: Iterable[pa.RecordBatch],
        schema: pa.Schema,
        tally: dict[str, int] | None = None,
        finish: Callable[[], dict[str, Any]] | None = None,
        compression: str | None = None,
    ) -> dict[str, Any]:
        """Write a chunk under a temporary name, move it into place, then record its size and sha256 (and
        ``tally``, what became of its rows, and what ``finish`` returns once the rows are written: the files
        it put in place beside them) in the sidecar that marks it done. ``compression``: as
        ``arrow_files.BatchWriter`` takes it, for chunks that are only streamed."""
        final = self.url(key)
        schema = schema.with_metadata({**(schema.metadata or {}), CHUNK_NAME: self.name(key)})
        tmp = io.join(self.root, f".tmp-{key}-{uuid.uuid4().hex[:8]}.arrow")
        writer = arrow_files.BatchWriter(tmp, schema, compression)
        try:
            for batch in batches:
                writer.write(batch)
        except BaseException:
            writer.close()
            io.remove(tmp)
            raise
        writer.close()
        record = {**integrity.of_file(tmp).to_json(), "rows": writer.rows, **(tally or {})}
        if finish is not None:
            record.update(finish())
        io.move(tmp, final)
        io.atomic_write_bytes(io.join(self.root, f"{key}.json"), json.dumps(record).encode())
        return {"key": key, **record}

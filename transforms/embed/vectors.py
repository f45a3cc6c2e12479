"""Where an embed chunk's vectors live, so that a night that changes 1% of every file writes 1% of vectors.

A chunk file holds its rows (ids, text hashes, why a row was rejected); each embedded row says in which
vector file and at which row of it its vector is (``vector_file``, an index into the chunk record's
``vectors`` list, and ``vector_row``). Vectors the model made for the chunk go to the chunk's own vector
file, ``<chunk key>.vectors.arrow``; a vector an earlier chunk of the same store already holds is referred
to, never copied. References always name the file that holds the vector itself (no chains), and only files
in the chunk's own folder, so a chunk record lists every file its vectors are read from, by name and with
the size and sha256 each was written with.

A chunk written before this split holds its vectors inline (an ``embedding`` column, no ``vectors`` list);
readers take both, and such a file is itself a vector file to later chunks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from transforms.storage import arrow_files, integrity, io

SUFFIX = ".vectors.arrow"
REFS = ["vector_file", "vector_row"]


def schema(dim: int, name: bytes) -> pa.Schema:
    """A vector file: one embedding per row, nothing else (its rows are named by the chunks that use it)."""
    return pa.schema(
        [pa.field("embedding", pa.list_(pa.float32(), dim), nullable=False)],
        metadata={"vecpress.kind": "vectors", "vecpress.dim": str(dim), "vecpress.chunk": name},
    )


def folder(url: str) -> str:
    return url.rsplit("/", 1)[0]


def urls(chunk_url: str, record: dict[str, Any]) -> list[str]:
    """The vector files a chunk reads, in the order its ``vector_file`` column counts them."""
    return [io.join(folder(chunk_url), v["name"]) for v in record.get("vectors", [])]


def paths(chunk_path: str, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The vector files of a chunk by path in the same terms as ``chunk_path`` (from the output root, or a
    URL), each with its integrity record."""
    return {f"{folder(chunk_path)}/{v['name']}": v for v in record.get("vectors", [])}


def sources(chunk_path: str, record: dict[str, Any]) -> list[str]:
    """The paths of the files a chunk's vectors are read from: its vector files, or the chunk itself when
    it holds them inline."""
    return list(paths(chunk_path, record)) if "vectors" in record else [chunk_path]


def problem(url: str, record: dict[str, Any]) -> str | None:
    """Why a vector file cannot be used (gone, not what was written, unreadable, or another file under its
    name), or None."""
    try:
        integrity.verify_file(url, record)
        named = (arrow_files.read_schema(url).metadata or {}).get(b"vecpress.chunk")
    except integrity.IntegrityError as err:
        return str(err)
    except (OSError, pa.ArrowException) as err:
        return f"{url}: unreadable ({err})"
    name = (named or b"no name").decode()
    # a vector file names itself; a chunk with its vectors inline names its store folder and key
    if name != record["name"] and not name.endswith("/" + record["name"].removesuffix(".arrow")):
        return f"{url}: holds {name}, not {record['name']}"
    return None


def chunk_files(chunks: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every file a list of chunk records reads (the chunk files and the vector files they name), by path
    as the records name them, with the record each was written with."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        out[chunk["path"]] = chunk
        out.update(paths(chunk["path"], chunk))
    return out


class Matrices:
    """One column of vector files (``embedding``) or of the code files made from them (``code``, ``fine``),
    each file as an ``arrow_files.Columnar`` (memory-mapped on a local disk), a few files open at once."""

    def __init__(self, column: str = "embedding", limit: int = 8):
        self.column, self.limit = column, limit
        self._open: dict[str, arrow_files.Columnar] = {}

    def get(self, url: str) -> arrow_files.Columnar:
        if url not in self._open:
            if len(self._open) >= self.limit:
                self._open.pop(next(iter(self._open)))
            fs, path = io.filesystem(url)
            source = pa.memory_map(path) if io.is_local(fs) else pa.BufferReader(io.read_bytes(url))
            self._open[url] = arrow_files.Columnar(ipc.open_file(source).read_all().column(self.column))
        return self._open[url]

    def gather(self, files: Sequence[str], which: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` of ``files[which]``, in order."""
        out: np.ndarray | None = None
        for f in np.unique(which):
            matrix = self.get(files[int(f)])
            if out is None:
                out = np.empty((len(which), matrix.shape[1]), matrix.dtype)
            mask = which == f
            out[mask] = matrix.take(rows[mask])
        return out if out is not None else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class Located:
    """A record batch of a chunk's rows, and for each where its vector is: ``files[which]``, row ``rows``
    (meaningful where ``ok``: the row was embedded)."""

    batch: pa.RecordBatch
    ok: np.ndarray
    which: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class ChunkReader:
    """One embed chunk's rows with their vectors, wherever those are kept."""

    url: str
    sources: tuple[str, ...] = ()  # its vector files; none for a chunk holding its vectors inline
    split: bool = False

    @classmethod
    def of(cls, url: str, record: dict[str, Any]) -> ChunkReader:
        return cls(url, tuple(urls(url, record)), "vectors" in record)

    @property
    def files(self) -> tuple[str, ...]:
        """The files its vectors are read from: its vector files, or the chunk itself for an inline one."""
        return self.sources if self.split else (self.url,)

    def located(self, columns: Sequence[str]) -> Iterator[Located]:
        """The chunk's record batches (every row, rejected ones too) with ``columns``, each row located."""
        extra = REFS if self.split else []
        start = 0
        for batch in arrow_files.iter_batches(self.url, list(dict.fromkeys([*columns, "reason", *extra]))):
            ok = np.asarray(batch.column("reason").is_null().to_numpy(zero_copy_only=False))
            if self.split:
                which = pc.fill_null(batch.column("vector_file"), 0).to_numpy().astype(np.int64)
                rows = pc.fill_null(batch.column("vector_row"), 0).to_numpy()
            else:
                which = np.zeros(batch.num_rows, np.int64)
                rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
            start += batch.num_rows
            yield Located(batch.select(list(columns)), ok, which, rows)

    def batches(self, columns: Sequence[str], matrices: Matrices | None = None) -> Iterator[pa.RecordBatch]:
        """The chunk's record batches (every row, rejected ones too) with ``columns``; ``embedding`` is null
        on rejected rows."""
        if not self.split or "embedding" not in columns:
            yield from arrow_files.iter_batches(self.url, list(columns))
            return
        matrices = matrices or Matrices()
        dim = int(arrow_files.read_schema(self.url).metadata[b"vecpress.dim"])
        for part in self.located([c for c in columns if c != "embedding"]):
            full = np.zeros((part.batch.num_rows, dim), np.float32)
            if part.ok.any():
                full[part.ok] = matrices.gather(self.sources, part.which[part.ok], part.rows[part.ok])
            values = arrow_files.vector_array(full).values
            embedding = pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(~part.ok))
            arrays = [embedding if c == "embedding" else part.batch.column(c) for c in columns]
            yield pa.RecordBatch.from_arrays(arrays, names=list(columns))


@dataclass
class Refs:
    """The vector files of a chunk being written: its own (the vectors made for it, written as they come)
    and those of earlier chunks it refers to, numbered in order of first use."""

    root: str  # the chunk store folder: references are to files in it only
    key: str
    dim: int
    names: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    _writer: arrow_files.BatchWriter | None = None
    _tmp: str | None = None
    _own_rows: int = 0

    @property
    def own_name(self) -> str:
        return f"{self.key}{SUFFIX}"

    def _index(self, name: str) -> int:
        return self.names.setdefault(name, len(self.names))

    def own(self, matrix: np.ndarray) -> tuple[int, np.ndarray]:
        """Append vectors to the chunk's own file; (its index, their rows in it)."""
        if self._writer is None:
            # named as a chunk's temporary is (".tmp-...arrow"), so gc removes one a killed run left
            self._tmp = io.join(self.root, f".tmp-{self.key}-{uuid.uuid4().hex[:8]}{SUFFIX}")
            self._writer = arrow_files.BatchWriter(self._tmp, schema(self.dim, self.own_name.encode()))
        self._writer.write(pa.record_batch([arrow_files.vector_array(matrix)], schema=self._writer.schema))
        rows = np.arange(self._own_rows, self._own_rows + len(matrix), dtype=np.int64)
        self._own_rows += len(matrix)
        return self._index(self.own_name), rows

    def refer(self, name: str, record: dict[str, Any]) -> int:
        """The index of an earlier vector file (by name, in this folder), with its integrity record."""
        self.records.setdefault(name, {"name": name, **{k: record[k] for k in ("bytes", "sha256", "rows")}})
        return self._index(name)

    def finish(self) -> dict[str, Any]:
        """Move the own vector file into place; the ``vectors`` list for the chunk's record."""
        if self._writer is not None:
            self._writer.close()
            rows = self._writer.rows
            record = {**integrity.of_file(self._tmp).to_json(), "rows": rows}
            io.move(self._tmp, io.join(self.root, self.own_name))
            self.records[self.own_name] = {"name": self.own_name, **record}
            self._writer = None
        order = sorted(self.names, key=self.names.__getitem__)
        return {"vectors": [self.records[n] for n in order]}

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            io.remove(self._tmp)
            self._writer = None

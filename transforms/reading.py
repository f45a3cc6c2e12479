"""Read documents from Parquet: schema checks before any work, then streaming rows with their provenance."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from transforms import io

logger = logging.getLogger(__name__)


class InputError(ValueError):
    """Bad input: the message names the file, the column or row, and what was expected."""


@dataclass(frozen=True)
class Columns:
    """Which Parquet columns hold the document id, its text and (optionally) its label."""

    id: str
    text: str
    label: str | None = None

    def names(self) -> list[str]:
        return [c for c in (self.id, self.text, self.label) if c]


class InputFile(NamedTuple):
    url: str
    rows: int


@dataclass(frozen=True, slots=True)
class Document:
    """One input row with where it came from; ids and labels are canonical strings.

    A dataclass, not a NamedTuple: Beam's default coder turns NamedTuples into plain tuples when elements
    cross a process boundary (as they do on the DaskRunner), losing the field names.
    """

    doc_id: str | None
    text: str | None
    label: str | None
    file: str
    row: int


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_label(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_label(t.value_type)
    return _is_text(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)


_EXPECTED = {
    "id": ("a string or integer", lambda t: _is_text(t) or pa.types.is_integer(t)),
    "text": ("a string", _is_text),
    "label": ("a string, integer or boolean", _is_label),
}


def check_file(url: str, columns: Columns) -> InputFile:
    """Check one file's schema and return its row count (from the footer, no data read)."""
    try:
        with io.open_file(url) as handle:
            meta = pq.ParquetFile(handle)
            schema, rows = meta.schema_arrow, meta.metadata.num_rows
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"{url}: not a readable Parquet file ({err})") from err
    for role in ("id", "text", "label"):
        name = getattr(columns, role)
        if not name:
            continue
        if name not in schema.names:
            raise InputError(
                f"{url}: the {role} column {name!r} is missing; the file has columns {schema.names}"
            )
        what, ok = _EXPECTED[role]
        dtype = schema.field(name).type
        if not ok(dtype):
            raise InputError(f"{url}: the {role} column {name!r} has type {dtype}, expected {what}")
    return InputFile(url, rows)


def check_inputs(pattern: str, columns: Columns) -> list[InputFile]:
    """Expand the input URL/glob and check every file's schema before anything else runs."""
    files = io.expand(pattern)
    if not files:
        raise InputError(f"{pattern}: no Parquet files match this input URL")
    return [check_file(url, columns) for url in files]


def _canonical(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def read_documents(url: str, columns: Columns, batch_size: int = 2048) -> Iterator[Document]:
    """Stream the rows of one Parquet file, reading only the needed columns."""
    with io.open_file(url) as handle:
        reader = pq.ParquetFile(handle)
        row = 0
        for batch in reader.iter_batches(batch_size=batch_size, columns=columns.names()):
            ids = batch.column(columns.id).to_pylist()
            texts = batch.column(columns.text).to_pylist()
            labels = batch.column(columns.label).to_pylist() if columns.label else [None] * len(ids)
            for doc_id, text, label in zip(ids, texts, labels, strict=True):
                yield Document(_canonical(doc_id), text, _canonical(label), url, row)
                row += 1


def rejection(doc: Document) -> str | None:
    """Why a row cannot be indexed, or None when it can."""
    if doc.doc_id is None:
        return "null id"
    if doc.text is None:
        return "null text"
    if not doc.text.strip():
        return "empty text"
    return None


def lookup_texts(pattern: str, columns: Columns, wanted: set[str]) -> dict[str, str]:
    """Texts of the given document ids, scanning the source Parquet's id and text columns only."""
    found: dict[str, str] = {}
    id_text = Columns(id=columns.id, text=columns.text)
    for url in io.expand(pattern):
        for doc in read_documents(url, id_text):
            if doc.doc_id in wanted and doc.doc_id not in found:
                found[doc.doc_id] = doc.text or ""
        if len(found) == len(wanted):
            break
    return found

"""Read documents from Parquet: schema checks before any work, then streaming rows with their provenance."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.storage import io
from transforms.storage.errors import VecpressError

logger = logging.getLogger(__name__)


class InputError(VecpressError, ValueError):
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
    """One input row with where it came from; ids and labels are canonical strings. ``problem`` says why a
    row that was read could not be decoded (invalid UTF-8, an unreadable row group); such a row is rejected.

    A dataclass, not a NamedTuple: Beam's default coder turns NamedTuples into plain tuples when elements
    cross a process boundary (as they do on the DaskRunner), losing the field names.
    """

    doc_id: str | None
    text: str | None
    label: str | None
    file: str
    row: int
    problem: str | None = None


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_label(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _is_label(t.value_type)
    return is_text(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)


_EXPECTED = {
    "id": ("a string or integer", lambda t: is_text(t) or pa.types.is_integer(t)),
    "text": ("a string", is_text),
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


def check_inputs(
    pattern: str, columns: Columns, skipped: list[dict[str, str]] | None = None
) -> list[InputFile]:
    """Expand the input URL/glob and check every file's schema before anything else runs. A file that
    cannot be read as the corpus (not Parquet, an unreadable footer, a missing or mistyped column) is an
    InputError, or when a ``skipped`` list is given, it is left out and listed there with the reason."""
    files = io.expand(pattern)
    if not files:
        raise InputError(f"{pattern}: no Parquet files match this input URL")
    checked = []
    for url in files:
        try:
            checked.append(check_file(url, columns))
        except InputError as err:
            if skipped is None:
                raise
            logger.warning("skipping %s", err)
            skipped.append({"file": url, "reason": str(err)})
    if not checked:
        raise InputError(f"{pattern}: every one of its {len(files)} files was skipped as unreadable")
    return checked


class RowGroup(NamedTuple):
    """A bounded piece of one Parquet file: its row group ``index``, holding rows [first, first + rows)."""

    url: str
    index: int
    first: int
    rows: int


def row_groups(url: str, expected_rows: int | None = None) -> list[RowGroup]:
    """The row groups of one file from its footer; a row count that differs from ``expected_rows`` (what the
    file held when the run checked it) means the file changed during the run."""
    with io.open_file(url) as handle:
        meta = pq.ParquetFile(handle).metadata
    if expected_rows is not None and meta.num_rows != expected_rows:
        raise InputError(
            f"{url}: changed while the run was reading it ({expected_rows} rows when checked, "
            f"{meta.num_rows} now); run again once it no longer changes"
        )
    out, first = [], 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        out.append(RowGroup(url, i, first, n))
        first += n
    return out


def rejection(doc: Document) -> str | None:
    """Why a row cannot be indexed, or None when it can."""
    if doc.problem:
        return doc.problem
    if doc.doc_id is None:
        return "null id"
    if doc.text is None:
        return "null text"
    if not doc.text.strip():
        return "empty text"
    return None

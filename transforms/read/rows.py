"""Read the rows of Parquet row groups, a batch of columns at a time: canonical string ids and labels, the
texts, and per row why it could not be decoded; and why each row cannot be indexed, for a whole batch."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.read import reading
from transforms.storage import io

# a text of nothing but the characters str.isspace() holds, or of nothing, is rejected as empty (RE2)
BLANK = r"^[\t-\r\x1c- \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*$"


class Decoded(NamedTuple):
    values: list
    problems: list[str | None]  # per row: why its value could not be decoded, or None


def _decode(column: pa.ChunkedArray | pa.Array, role: str, name: str) -> Decoded:
    """Python values of one column; a string that is not valid UTF-8 becomes None with a problem for its row
    alone (pyarrow does not check UTF-8 when it reads Parquet, only when it converts)."""
    try:
        return Decoded(column.to_pylist(), [None] * len(column))
    except UnicodeDecodeError:
        pass
    values: list = []
    problems: list[str | None] = []
    for raw in column.cast(pa.large_binary()).to_pylist():
        try:
            values.append(None if raw is None else raw.decode("utf-8"))
            problems.append(None)
        except UnicodeDecodeError as err:
            values.append(None)
            problems.append(
                f"invalid UTF-8 in the {role} column {name!r} (byte 0x{raw[err.start]:02x} at {err.start})"
            )
    return Decoded(values, problems)


@dataclass(frozen=True)
class Rows:
    """A batch of one row group's rows, column by column: ids and labels as canonical strings (null where
    none), the texts, and ``problems`` (per row: why it could not be decoded; None when every row was)."""

    ids: pa.Array
    texts: pa.Array
    labels: pa.Array
    url: str
    first: int
    problems: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def rejections(self) -> list[str | None]:
        """Why each row cannot be indexed, or None (``rejection`` for a whole batch, without a Python object
        a row for the rows that can)."""
        reasons = np.full(len(self), None, object)
        blank = pc.fill_null(pc.match_substring_regex(self.texts, BLANK), False)
        reasons[np.asarray(blank.to_numpy(zero_copy_only=False), bool)] = "empty text"
        reasons[np.asarray(self.texts.is_null().to_numpy(zero_copy_only=False), bool)] = "null text"
        reasons[np.asarray(self.ids.is_null().to_numpy(zero_copy_only=False), bool)] = "null id"
        if self.problems is not None:
            bad = np.array([p is not None for p in self.problems], bool)
            reasons[bad] = np.array(self.problems, object)[bad]
        return reasons.tolist()

    def documents(self) -> Iterator[reading.Document]:
        ids, texts, labels = self.ids.to_pylist(), self.texts.to_pylist(), self.labels.to_pylist()
        problems = self.problems or [None] * len(self)
        for i in range(len(self)):
            yield reading.Document(ids[i], texts[i], labels[i], self.url, self.first + i, problems[i])


def read_rows(
    group: reading.RowGroup, columns: reading.Columns, on_bad_file: str = "fail", batch_size: int = 4096
) -> Iterator[Rows]:
    """The rows of one row group in batches of ``batch_size`` (the last one smaller), streamed in record
    batches of the needed columns only.

    Rows that cannot be decoded (a corrupt page) are an InputError naming the file and rows; with
    ``on_bad_file="skip"`` they come out as rows with a ``problem`` (rejected, not lost): every row
    from the first batch that failed to the end of the row group, since Parquet cannot resume mid-group.
    """
    url, row = group.url, group.first
    end = group.first + group.rows
    try:
        with io.open_file(url) as handle:  # read on this thread: Arrow threads reading a Python (fsspec)
            # file can still be alive when the interpreter exits and abort it (apache/arrow#34314, #39162)
            batches = pq.ParquetFile(handle).iter_batches(
                batch_size=batch_size, row_groups=[group.index], columns=columns.names(), use_threads=False
            )
            for batch in batches:
                yield _rows(batch, columns, url, row)
                row += batch.num_rows
    except (OSError, pa.ArrowException) as err:
        what = f"rows {row}-{end - 1} (row group {group.index}) cannot be decoded: {err}"
        if on_bad_file != "skip":
            raise reading.InputError(
                f"{url}: {what}; the file is damaged. Replace it, or run with --on-bad-file skip to reject "
                "its unreadable rows and index the rest"
            ) from err
        for lo in range(row, end, batch_size):
            n = min(batch_size, end - lo)
            none = pa.nulls(n, pa.string())
            yield Rows(none, none, none, url, lo, [what] * n)
        return
    if row != end:
        raise reading.InputError(
            f"{url}: row group {group.index} held {row - group.first} rows where its footer says "
            f"{group.rows}; the file changed while the run was reading it: run again once it is stable"
        )


def read_row_group(
    group: reading.RowGroup, columns: reading.Columns, on_bad_file: str = "fail", batch_size: int = 4096
) -> Iterator[reading.Document]:
    """The documents of one row group (``read_rows``, a row at a time)."""
    for rows in read_rows(group, columns, on_bad_file, batch_size):
        yield from rows.documents()


def _rows(batch: pa.RecordBatch, columns: reading.Columns, url: str, first: int) -> Rows:
    ids, id_problems = _canonical_column(batch.column(columns.id), "id", columns.id)
    texts, text_problems = _canonical_column(batch.column(columns.text), "text", columns.text)
    labels, label_problems = pa.nulls(batch.num_rows, pa.string()), None
    if columns.label:
        labels, label_problems = _canonical_column(batch.column(columns.label), "label", columns.label)
    found = [p for p in (id_problems, text_problems, label_problems) if p is not None]
    problems = [next((p for p in row if p), None) for row in zip(*found, strict=True)] if found else None
    return Rows(ids, texts, labels, url, first, problems)


def _canonical_column(column: pa.Array, role: str, name: str) -> tuple[pa.Array, list[str | None] | None]:
    """A column as canonical strings (integers and booleans as str() writes them), and per row why it could
    not be decoded when a string is not valid UTF-8 (pyarrow does not check UTF-8 when it reads Parquet)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_boolean(column.type):
        return pc.if_else(column, "True", "False").cast(pa.string()), None
    if not reading.is_text(column.type):
        return column.cast(pa.string()), None
    try:
        column.validate(full=True)  # checks the UTF-8 of every string
        return column.cast(pa.string()), None
    except pa.ArrowInvalid:
        decoded = _decode(column, role, name)
        return pa.array(decoded.values, pa.string()), decoded.problems


def read_documents(
    url: str, columns: reading.Columns, on_bad_file: str = "fail"
) -> Iterator[reading.Document]:
    """Stream the rows of one Parquet file, one row group in memory at a time."""
    for group in reading.row_groups(url):
        yield from read_row_group(group, columns, on_bad_file)

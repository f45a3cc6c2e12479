"""A search hit's text and label, read from the run's own input by (file, row): only the row groups that
hold the hits, only the text and label columns; no second copy of the corpus is kept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import pyarrow.parquet as pq

from transforms.read.reading import Columns
from transforms.storage import fingerprint, io


class Text(NamedTuple):
    text: str | None
    label: str | None
    note: str | None = None  # why the text is not shown


def fetch(
    places: Iterable[tuple[str, int]], columns: Columns, versions: dict[str, dict[str, Any]] | None = None
) -> dict[tuple[str, int], Text]:
    """The text (and label) at each (file, row). A file that is gone, or changed since the run read it
    (``versions``: the run's record of each file), gives a note instead of a possibly wrong text."""
    wanted: dict[str, set[int]] = {}
    for file, row in places:
        wanted.setdefault(file, set()).add(row)
    out: dict[tuple[str, int], Text] = {}
    names = [c for c in (columns.text, columns.label) if c]
    for file, rows in wanted.items():
        note = _unavailable(file, (versions or {}).get(file))
        if note:
            out.update({(file, r): Text(None, None, note) for r in rows})
            continue
        with io.open_file(file) as handle:
            parquet = pq.ParquetFile(handle)
            first = 0
            for g in range(parquet.metadata.num_row_groups):
                size = parquet.metadata.row_group(g).num_rows
                here = sorted(r for r in rows if first <= r < first + size)
                if here:  # no Arrow threads reading a Python file: they can abort the process at exit
                    table = parquet.read_row_group(g, columns=names, use_threads=False)
                    for r in here:
                        label = table.column(columns.label)[r - first].as_py() if columns.label else None
                        out[(file, r)] = Text(
                            table.column(columns.text)[r - first].as_py(),
                            None if label is None else str(label),
                        )
                first += size
    return out


def _unavailable(file: str, recorded: dict[str, Any] | None) -> str | None:
    try:
        now = fingerprint.file_version(file)
    except FileNotFoundError:
        return "the input file is gone"
    if recorded is not None and now != recorded:
        return "the input file changed since this run read it"
    return None

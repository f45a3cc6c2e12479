"""id_maps.IdMap: row ids -> doc ids and places, the id maps memory-mapped, 12 bytes a row held."""

import os

import fsspec
import numpy as np
import pyarrow as pa
import pytest

from transforms.embed import ids
from transforms.search import id_maps
from transforms.storage import arrow_files, integrity, schemas


def _write(url: str, doc_ids: list[str], batch_rows: int = 700) -> dict[int, tuple[str, str, int]]:
    """An id map as the build writes it (row ids are hashes of the doc ids: not sorted); returns what each
    row id should answer."""
    row_ids = [ids.row_id(d) for d in doc_ids]
    files = [f"/data/corpus/part-{i % 3}.parquet" for i in range(len(doc_ids))]
    table = pa.table(
        {"row_id": row_ids, "doc_id": doc_ids, "file": files, "row": list(range(len(doc_ids)))},
        schema=schemas.IDMAP,
    )
    writer = arrow_files.BatchWriter(url, schemas.IDMAP)
    for batch in table.to_batches(max_chunksize=batch_rows):
        writer.write(batch)
    writer.close()
    return {r: (d, f, i) for i, (r, d, f) in enumerate(zip(row_ids, doc_ids, files, strict=True))}


def test_row_ids_answer_their_documents_across_shards(tmp_path):
    want: dict[int, tuple[str, str, int]] = {}
    urls = []
    for s, n in enumerate((2_500, 0, 1_800)):  # an empty shard too
        urls.append(str(tmp_path / f"idmap-{s}.arrow"))
        want |= _write(urls[-1], [f"doc-{s}-{i}" for i in range(n)])
    before = pa.total_allocated_bytes()
    idmap = id_maps.IdMap(urls)
    assert len(idmap) == 4_300 and (np.diff(idmap.row_ids) > 0).all()
    # the id maps are memory-mapped, not copied; what is held is a sorted row id and a position a row
    assert pa.total_allocated_bytes() == before
    assert idmap.row_ids.nbytes + idmap.where.nbytes == 12 * 4_300
    rng = np.random.default_rng(0)
    asked = np.array([*rng.choice(list(want), 300), 12345, -1], dtype=np.int64)
    assert idmap.lookup(asked) == [want[r][0] for r in asked[:300]] + [None, None]
    assert idmap.places(asked) == [want[r][1:] for r in asked[:300]] + [None, None]


def test_an_object_store_id_map_is_mapped_from_a_checked_local_copy(tmp_path):
    fs = fsspec.filesystem("memory")
    local, remote = str(tmp_path / "idmap.arrow"), "memory://id-maps-test/idmap.arrow"
    want = _write(local, [f"doc-{i}" for i in range(1_000)])
    fs.pipe(remote, open(local, "rb").read())
    try:
        asked = np.array(list(want)[::7], dtype=np.int64)
        record = integrity.of_file(local).to_json()
        before = pa.total_allocated_bytes()
        here, there = id_maps.IdMap([local]), id_maps.IdMap([remote], [record])
        assert pa.total_allocated_bytes() == before  # not held in memory either
        assert here.lookup(asked) == there.lookup(asked) == [want[r][0] for r in asked]
        assert there.places(asked[:5]) == [want[r][1:] for r in asked[:5]]
        copy = there.shards[0].copy.path
        del there
        assert not os.path.exists(copy)
        fs.pipe(remote, fs.cat(remote)[:-10])  # a truncated object is named, not its copy
        with pytest.raises(integrity.IntegrityError, match="memory://id-maps-test/idmap.arrow: "):
            id_maps.IdMap([remote], [record])
    finally:
        fs.rm("memory://id-maps-test", recursive=True)


def test_no_shards_answer_nothing():
    idmap = id_maps.IdMap([])
    assert len(idmap) == 0 and idmap.lookup(np.array([1, 2])) == [None, None]
    assert idmap.places(np.array([3])) == [None]

"""A nightly re-index: only what changed is embedded and encoded, deleted documents leave the index, the
codec is kept while it fits, and the result equals a from-scratch run with the same codec."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flows.config import ReindexConfig
from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet
from transforms.codec import codec_files
from transforms.embed.embeddings import Embeddings
from transforms.index import encoding
from transforms.run import publish
from transforms.search.query import PublishedIndex
from transforms.storage import arrow_files


def _config(root, **kw) -> ReindexConfig:
    return small_config(root, label_column="topic", model="fake:32", shards=3, eval_queries=100, **kw)


def _write(root, corpus: pa.Table, files: tuple[int, ...] = (0, 1, 2, 3)) -> None:
    """Four files of 500 documents (the last one holds what is left); only ``files`` are written."""
    for f in files:
        part = corpus.slice(500 * f, 500 if f < 3 else None)
        write_parquet(part, str(root / "in" / f"part-{f}.parquet"))


def _churn(corpus: pa.Table) -> tuple[pa.Table, list[str], list[str], list[str]]:
    """1% of the documents changed and 0.5% deleted (all in the third file), 0.5% new (in the last)."""
    rows = corpus.to_pylist()
    changed = [r["doc_id"] for r in rows[1000:1020]]
    deleted = [r["doc_id"] for r in rows[1100:1110]]
    for r in rows[1000:1020]:
        r["body"] = r["body"] + " rocket engine season"
    rows = [r for r in rows if r["doc_id"] not in set(deleted)]
    extra = make_corpus(2010).slice(2000).to_pylist()
    new = [f"new-{i}" for i in range(10)]
    for r, doc_id in zip(extra, new, strict=True):
        r["doc_id"] = doc_id
    return pa.Table.from_pylist(rows + extra, schema=corpus.schema), changed, deleted, new


def _codes(manifest: dict, output: str) -> dict[int, bytes]:
    """row id -> code over every code shard of a run."""
    run_dir = f"{output}/runs/{manifest['run_id']}"
    out = {}
    for name in manifest["shards"]["codes"]:
        table = arrow_files.read_table(f"{run_dir}/codes/{name}")
        out.update(zip(table.column("row_id").to_pylist(), table.column("code").to_pylist(), strict=True))
    return out


def test_a_nightly_run_embeds_and_encodes_only_what_changed(prefect_server, tmp_path):
    corpus = make_corpus(2000)
    _write(tmp_path, corpus)
    first = reindex(_config(tmp_path, run_id="night-1"))
    assert first["reuse"]["documents_embedded"] == 2000 and first["reuse"]["codec_kept"] is None

    churned, changed, deleted, new = _churn(corpus)
    _write(tmp_path, churned, files=(2, 3))  # the first two files are not touched
    second = reindex(_config(tmp_path, run_id="night-2"))
    reuse = second["reuse"]
    assert reuse["previous_run"] == "night-1"
    assert (reuse["new"], reuse["changed"], reuse["deleted"]) == (10, 20, 10)
    assert reuse["documents_embedded"] == 30  # the changed and the new, nothing else
    assert reuse["chunks_reused"] == 2 and reuse["chunks"] == 4  # two files did not change at all
    assert reuse["codec_kept"]["from_run"] == "night-1" and "within" in reuse["codec_kept"]["why"]
    # every vector encoded before is not encoded again: only the changed files' two new vector files are
    assert (reuse["code_files_reused"], reuse["code_files_encoded"]) == (4, 2)
    assert second["counts"]["indexed"] == 2000
    assert second["codec"]["fingerprint"] == first["codec"]["fingerprint"]

    index = PublishedIndex(str(tmp_path / "index"))
    indexed = set(index.idmap.lookup(index.idmap.row_ids))
    assert set(deleted).isdisjoint(indexed) and set(new) <= indexed  # deleted documents left the index
    text = churned.to_pylist()[-1]["body"]
    assert index.search([text], 1)[0][0].doc_id == "new-9"

    # The same corpus from scratch (every document embedded anew, in a fresh output), encoded with the kept
    # codec: the same ids and the same codes as the nightly run.
    fresh = reindex(_config(tmp_path, full=True).model_copy(update={"output": str(tmp_path / "fresh")}))
    assert fresh["reuse"]["documents_embedded"] == 2000
    layout, _ = publish.current(str(tmp_path / "index"))
    trained, info = codec_files.load(layout.codec)
    emb = Embeddings.load(publish.current(str(tmp_path / "fresh"))[0])
    scratch: dict[int, bytes] = {}
    for batch in emb.batches(["row_id", "embedding"]):
        codes = encoding.encode_vectors(trained, arrow_files.vectors(batch.column("embedding")))
        scratch.update(zip(batch.column("row_id").to_pylist(), map(bytes, codes), strict=True))
    assert scratch == _codes(second, str(tmp_path / "index"))


def test_full_embeds_everything_again_and_retrains(prefect_server, tmp_path):
    _write(tmp_path, make_corpus(2000))
    reindex(_config(tmp_path, run_id="a"))
    again = reindex(_config(tmp_path, run_id="b", full=True))
    assert again["reuse"]["documents_embedded"] == 2000 and again["reuse"]["chunks_reused"] == 0
    assert again["reuse"]["codec_kept"] is None


def test_a_codec_that_no_longer_fits_is_trained_again_and_the_report_says_why(prefect_server, tmp_path):
    corpus = make_corpus(2000)
    _write(tmp_path, corpus)
    reindex(_config(tmp_path, run_id="a", codec="PQ8x4"))
    # a quarter of the corpus replaced by documents of other words: what PQ's codebooks never learned
    other = pa.table(
        {
            "doc_id": [f"other-{i}" for i in range(500)],
            "body": [
                f"lorem ipsum dolor sit amet {i} consectetur adipiscing elit sed do" for i in range(500)
            ],
            "topic": ["other"] * 500,
        }
    )
    _write(tmp_path, pa.concat_tables([corpus.slice(0, 1500), other]))
    again = reindex(_config(tmp_path, run_id="b", codec="PQ8x4"))
    assert again["reuse"]["codec_kept"] is None
    assert (
        "the codec of run a was not kept: new and changed documents reconstruct worse than at training"
        in (again["reuse"]["codec_not_kept"])
    )


def test_row_ids_and_codes_are_stable_across_runs(prefect_server, tmp_path):
    _write(tmp_path, make_corpus(1500))
    a = reindex(_config(tmp_path, run_id="one", codec="SQ8"))
    b = reindex(_config(tmp_path, run_id="two", codec="SQ8"))
    assert _codes(a, str(tmp_path / "index")) == _codes(b, str(tmp_path / "index"))
    assert np.isclose(a["evaluation"]["recall_at_k"], b["evaluation"]["recall_at_k"])

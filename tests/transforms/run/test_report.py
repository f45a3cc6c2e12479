"""The run report from a manifest: the rows `vecpress run` and `inspect` print, Markdown and a plot."""

import dataclasses

import numpy as np
import pytest

from transforms.run import publish, report


@pytest.fixture(scope="module")
def manifest(published):
    return publish.current(str(published))[1]


def test_the_summary_accounts_for_rows_bytes_and_quality(manifest):
    rows = dict(report.summary_rows(manifest))
    c = manifest.counts
    counted = f"{c.read} read, {c.rejected} rejected, {c.indexed} indexed"
    assert rows["documents"] == counted
    assert rows["model"] == "fake:32 (32-d)"
    assert rows["codec"].startswith("IVF4,SQ8")
    per_vector = manifest.sizes["index_bytes_per_vector"]
    assert rows["bytes per vector"].startswith(f"{per_vector:.1f} in the index files all told (float32: 128)")
    assert rows["compression ratio"].startswith(f"{128 / per_vector:.1f}x all told")
    k, recall = manifest.evaluation["k"], manifest.evaluation["recall_at_k"]
    assert rows[f"recall@{k} vs exact"].startswith(f"{recall:.4f} over 100 queries, nprobe")
    assert f"kNN-{k} label accuracy" in rows
    assert rows["outputs"] == f"{manifest.output}/runs/{manifest.run_id}"
    assert "stored tier" not in rows  # one tier


def test_skipped_files_and_a_stored_tier_get_their_rows(manifest):
    two_tier = dataclasses.replace(
        manifest,
        codec=dataclasses.replace(manifest.codec, refine="SQ8", rerank=10),
        sizes={**manifest.sizes, "stored_bytes": 40_000, "stored_bytes_per_vector": 40.0},
        skipped_files=[{"file": "in/bad.parquet", "reason": "not a Parquet file"}],
    )
    rows = report.summary_rows(two_tier)
    assert ("skipped file", "in/bad.parquet: not a Parquet file") in rows
    stored = dict(rows)["stored tier"]
    assert stored == "SQ8 codes on disk, 40.0 bytes per vector (40.0 kB), read only to re-rank 10x candidates"


def test_markdown_is_one_table_of_the_summary_and_the_plot_a_png(manifest, tmp_path):
    text = report.markdown(manifest)
    assert text.startswith(f"# vecpress run {manifest.run_id}\n")
    assert text.count("\n| ") == len(report.summary_rows(manifest)) + 1  # the rows and the header
    report.plot(np.linspace(0, 1, 50), manifest, str(tmp_path / "r.png"))
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_report_says_what_it_reused_and_nothing_it_did_not_do(manifest):
    from dataclasses import replace

    reuse = {"chunks": 4, "chunks_reused": 4, "documents_embedded": 0, "documents_reused": 600,
             "codec_kept": None, "codec_not_kept": None}  # fmt: skip
    rerun = replace(manifest, reuse=reuse, reused={"fit": f"{manifest.output}/runs/earlier-run"})
    rows = dict(report.summary_rows(rerun))
    assert "embedded" not in rows["documents"]
    assert "0 documents embedded by the model in this run, 600 reused" in rows["re-index"]
    assert "codec reused from earlier-run (the same inputs)" in rows["re-index"]
    assert "trained" not in rows["re-index"]

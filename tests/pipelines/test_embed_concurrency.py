"""The embed pipeline under Beam's multi-threaded and multi-process DirectRunner, with the real default
embedder (OpenVINO int8): the same chunk files as one worker, nothing rejected; and a model runtime that
fails is retried per chunk and never committed, never turned into rejections."""

from __future__ import annotations

import logging

import pyarrow.parquet as pq
import pytest

from pipelines import embed
from pipelines.runner import pipeline_options, run
from tests.conftest import make_corpus
from transforms.embed import chunks, embed_stage
from transforms.embedders.embedder import FakeEmbedder
from transforms.embedders.failures import ModelRuntimeError
from transforms.embedders.spec import EmbedderSpec
from transforms.read import reading
from transforms.storage import fingerprint

COLUMNS = reading.Columns(id="doc_id", text="body", label="topic")


def _corpus(root) -> list[reading.InputFile]:
    (root / "in").mkdir()
    pq.write_table(make_corpus(240), root / "in" / "a.parquet", row_group_size=40)  # 6 chunks
    return reading.check_inputs(str(root / "in"), COLUMNS)


def _embed(files, output: str, spec: EmbedderSpec, *args: str) -> list[dict]:
    """Run the embed pipeline with Beam ``args``; the committed chunks' sidecar records, in input order."""
    versions = [fingerprint.file_version(f.url) for f in files]
    work = embed_stage.plan(output, files, versions, embed_stage.EmbedSettings(spec, COLUMNS))
    job = embed.EmbedJob.of(work, 384 if "fake" not in spec.model else 16)
    run(lambda p: embed.build(p, job), pipeline_options("DirectRunner", args), "embed-test")
    store = chunks.Store(output, work.embedder_key)
    return [store.done(c.key) for c in work.chunks]


@pytest.mark.slow
def test_multi_threaded_and_multi_process_runs_write_what_one_worker_writes(tmp_path):
    files = _corpus(tmp_path)
    spec = EmbedderSpec(device="cpu", backend="openvino", precision="int8")
    one = _embed(files, str(tmp_path / "one"), spec)
    assert all(r is not None and r["rejected"] == 0 and r["embedded"] == 40 for r in one)
    for mode in ("multi_threading", "multi_processing"):
        args = ("--direct_num_workers=2", f"--direct_running_mode={mode}")
        many = _embed(files, str(tmp_path / mode), spec, *args)
        assert [r and r["sha256"] for r in many] == [r["sha256"] for r in one], mode  # the same bytes
        assert sum(r["rejected"] for r in many) == 0


def test_a_runtime_failure_is_retried_and_only_the_good_try_committed(tmp_path, monkeypatch, caplog):
    files = _corpus(tmp_path)
    real = FakeEmbedder.encode
    calls = {"n": 0}

    def down_for_three_calls(self, texts):  # the batch, its first text alone, and the canary
        calls["n"] += 1
        if calls["n"] <= 3:
            raise RuntimeError("Infer Request is busy")
        return real(self, texts)

    monkeypatch.setattr(FakeEmbedder, "encode", down_for_three_calls)
    monkeypatch.setattr(embed, "RETRY_DELAY_S", 0.0)
    with caplog.at_level(logging.WARNING, logger="pipelines.embed"):
        records = _embed(files, str(tmp_path / "out"), EmbedderSpec(model="fake:16"))
    assert all(r is not None and r["rejected"] == 0 for r in records)
    assert sum(r["embedded"] for r in records) == 240
    assert any("embedding it again (try 2 of 3)" in m for m in caplog.messages)


def test_a_runtime_that_stays_down_fails_the_run_and_commits_nothing(tmp_path, monkeypatch):
    files = _corpus(tmp_path)

    def down(self, texts):
        raise RuntimeError("Infer Request is busy")

    monkeypatch.setattr(FakeEmbedder, "encode", down)
    monkeypatch.setattr(embed, "RETRY_DELAY_S", 0.0)
    with pytest.raises(ModelRuntimeError, match="failed 3 times, not committed"):
        _embed(files, str(tmp_path / "out"), EmbedderSpec(model="fake:16"))
    left = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert left == []  # no chunk file and no sidecar: nothing is marked done

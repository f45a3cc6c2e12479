"""Retention as users run it: nightly runs with --keep-runs leave the kept runs and the chunks they use,
`vecpress gc` reports (and with --dry-run only reports) what it frees, and a chunk store deleted by hand is
embedded again rather than failing the next run."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq

from tests.conftest import make_corpus
from tests.faults.conftest import vecpress
from transforms.embed import vectors
from transforms.run import publish

ARGS = ["--id-column", "doc_id", "--text-column", "body", "--model", "fake:32", "--shards", "2"]
ARGS += ["--eval-queries", "50", "--keep-runs", "2", "--gc-grace", "0"]


def _night(root, n: int, cli_env) -> dict:
    """One nightly run over ``n`` documents in four files of row groups of 50 (so a change touches one)."""
    corpus = make_corpus(n)
    for f in range(4):
        pq.write_table(
            corpus.slice(f * (n // 4), n // 4), root / "in" / f"part-{f}.parquet", row_group_size=50
        )
    res = vecpress("run", "--input", str(root / "in"), "--output", str(root / "index"), *ARGS, env=cli_env)
    assert res.returncode == 0, res.stderr[-3000:]
    return publish.current(str(root / "index"))[1].to_json()  # with its chunk list


def _chunk_files(root) -> set[str]:
    store = root / "index" / "chunks"
    return {p.relative_to(root / "index").as_posix() for p in store.rglob("*") if p.is_file()}


def test_nightly_runs_keep_what_retention_says_and_gc_reports_it(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    manifests = [_night(tmp_path, n, cli_env) for n in (400, 440, 480)]  # the last file grows
    runs = sorted(p.name for p in (tmp_path / "index" / "runs").iterdir())
    assert runs == sorted(m["run_id"] for m in manifests[-2:])  # two kept runs, the current one among them
    listed = {path for m in manifests[-2:] for path in vectors.chunk_files(m["chunks"])}  # with vector files
    embed_chunks = {f for f in _chunk_files(tmp_path) if "/codes/" not in f and f.endswith(".arrow")}
    assert embed_chunks == listed  # nothing only a removed run used, nothing a kept run uses is gone
    assert any(f.endswith(vectors.SUFFIX) for f in listed)
    assert vecpress("verify", str(tmp_path / "index"), env=cli_env).returncode == 0
    back = vecpress("rollback", str(tmp_path / "index"), env=cli_env)  # the earlier kept run is whole too
    assert back.returncode == 0 and manifests[-2]["run_id"] in back.stdout
    forth = vecpress("rollback", str(tmp_path / "index"), manifests[-1]["run_id"], env=cli_env)
    assert forth.returncode == 0  # the newest is current again (gc always keeps the current run)
    dry = vecpress(
        "gc", str(tmp_path / "index"), "--keep-runs", "1", "--gc-grace", "0", "--dry-run", env=cli_env
    )
    assert dry.returncode == 0 and "would free" in dry.stdout and "would remove run" in dry.stdout
    assert len(list((tmp_path / "index" / "runs").iterdir())) == 2  # a dry run removes nothing
    done = vecpress("gc", str(tmp_path / "index"), "--keep-runs", "1", "--gc-grace", "0", env=cli_env)
    assert done.returncode == 0 and "freed" in done.stdout
    assert len(list((tmp_path / "index" / "runs").iterdir())) == 1
    assert vecpress("verify", str(tmp_path / "index"), env=cli_env).returncode == 0


def test_a_chunk_store_deleted_by_hand_is_embedded_again(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    _night(tmp_path, 400, cli_env)
    shutil.rmtree(tmp_path / "index" / "chunks")
    again = _night(tmp_path, 400, cli_env)
    assert again["reuse"]["documents_embedded"] == 400 and again["counts"]["indexed"] == 400

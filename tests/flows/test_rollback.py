"""`vecpress rollback` and the immutability of published runs, as users meet them on the command line."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest

from tests.conftest import make_corpus
from tests.faults.conftest import error_line, flip_bytes, vecpress

ARGS = ["--id-column", "doc_id", "--text-column", "body", "--model", "fake:32", "--shards", "2"]
ARGS += ["--eval-queries", "50"]


def _current(output) -> str:
    return json.loads((output / "CURRENT").read_text())["run_id"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, cli_env):
    root = tmp_path_factory.mktemp("rollback")
    (root / "in").mkdir()
    ids = []
    for n in (300, 330, 330):  # the third run changes nothing: every stage reused
        pq.write_table(make_corpus(n), root / "in" / "a.parquet")
        res = vecpress(
            "run", "--input", str(root / "in"), "--output", str(root / "index"), *ARGS, env=cli_env
        )
        assert res.returncode == 0, res.stderr[-3000:]
        ids.append(_current(root / "index"))
    return root, ids


def test_rollback_goes_back_one_run_and_to_any_kept_run_by_id(two_runs, cli_env):
    root, (first, second, third) = two_runs
    out = root / "index"
    res = vecpress("rollback", str(out), env=cli_env)
    assert res.returncode == 0 and _current(out) == second, res.stderr[-2000:]
    assert f"current run is now {second}" in res.stdout
    res = vecpress("rollback", str(out), first, env=cli_env)
    assert res.returncode == 0 and _current(out) == first
    shown = json.loads(vecpress("inspect", str(out), "--json", env=cli_env).stdout)
    assert shown["run_id"] == first and shown["counts"]["indexed"] == 300
    assert vecpress("verify", str(out), env=cli_env).returncode == 0
    assert vecpress("rollback", str(out), third, env=cli_env).returncode == 0 and _current(out) == third
    again = vecpress("rollback", str(out), third, env=cli_env)
    assert again.returncode == 2 and f"run {third} is already the current run" in error_line(again)


def test_a_damaged_or_unknown_run_is_not_rolled_back_to(two_runs, cli_env, tmp_path):
    import shutil

    root, (first, _, third) = two_runs
    out = tmp_path / "index"
    shutil.copytree(root / "index", out, copy_function=shutil.copy)  # private bytes, not links
    shard = next((out / "runs" / first / "index").iterdir())
    flip_bytes(shard, shard.stat().st_size // 2)
    res = vecpress("rollback", str(out), first, env=cli_env)
    assert res.returncode == 2 and f"cannot roll {out} back to run {first}" in error_line(res)
    assert _current(out) == third  # untouched
    unknown = vecpress("rollback", str(out), "20990101T000000Z-none00", env=cli_env)
    assert unknown.returncode == 2 and "manifest" in error_line(unknown) and _current(out) == third


def test_a_published_run_id_is_refused_and_unchanged_files_are_shared(two_runs, cli_env):
    root, (_, second, third) = two_runs
    out = root / "index"
    res = vecpress("run", "--input", str(root / "in"), "--output", str(out), *ARGS, "--run-id", second,
                   env=cli_env)  # fmt: skip
    assert res.returncode == 2 and f"run id {second} is already published" in error_line(res)
    assert vecpress("verify", str(out), env=cli_env).returncode == 0
    # the third run changed nothing: its codec, index shards and id maps are the second run's files
    shared = 0
    for kind in ("codec", "index", "idmap"):
        for path in (out / "runs" / second / kind).rglob("*"):
            if path.is_file():
                twin = out / "runs" / third / path.relative_to(out / "runs" / second)
                assert os.stat(path).st_ino == os.stat(twin).st_ino, path
                shared += 1
    assert shared >= 7

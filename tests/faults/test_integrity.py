"""Damaged files: search, inspect and verify refuse them by name; stages never read or reuse them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_corpus, small_config, write_parquet
from tests.faults.conftest import error_line, flip_bytes, vecpress
from transforms.run import publish
from transforms.storage import integrity


def _shard(output, kind: str, i: int = 0):
    layout, manifest = publish.current(str(output))
    return output / "runs" / layout.run_id / kind / manifest.shards[kind][i]


def test_search_refuses_a_damaged_index_shard_and_inspect_and_verify_name_it(damageable, cli_env):
    shard = _shard(damageable, "index", 1)
    flip_bytes(shard, shard.stat().st_size * 3 // 5)  # inside the codes and ids, size unchanged

    res = vecpress("search", "--index", str(damageable), "nasa orbit shuttle", env=cli_env)
    assert res.returncode == 2
    line = error_line(res)
    assert str(shard) in line and "content differs from what was written" in line
    assert "rank" not in res.stdout  # no hits at all, rather than wrong ones

    verify = vecpress("verify", str(damageable), env=cli_env)
    assert verify.returncode == 2
    assert f"  {shard}: content differs" in verify.stderr
    assert "1 of " in error_line(verify)

    inspect = vecpress("inspect", str(damageable), env=cli_env)
    assert inspect.returncode == 2 and "DAMAGED" in inspect.stdout
    assert str(shard) in inspect.stderr


def test_a_missing_or_truncated_shard_is_named(damageable, cli_env):
    idmap = _shard(damageable, "idmap", 0)
    idmap.write_bytes(idmap.read_bytes()[:-100])
    res = vecpress("search", "--index", str(damageable), "nasa orbit", env=cli_env)
    assert res.returncode == 2 and f"{idmap}: " in error_line(res) and "bytes where" in error_line(res)

    index = _shard(damageable, "index", 0)
    index.unlink()
    verify = vecpress("verify", str(damageable), env=cli_env)
    assert verify.returncode == 2 and f"{index}: missing" in verify.stderr and f"{idmap}: " in verify.stderr


def test_an_intact_run_verifies_and_searches(published, cli_env):
    verify = vecpress("verify", str(published), env=cli_env)
    assert verify.returncode == 0, verify.stderr
    assert "ok:" in verify.stdout and "match the manifest's sizes and sha256" in verify.stdout
    res = vecpress(
        "search", "--index", str(published), "-k", "3", "--json", "nasa orbit shuttle", env=cli_env
    )
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)[0]["hits"]) == 3


def test_a_damaged_embed_chunk_is_refused_by_the_stages_and_named_by_verify(damageable, cli_env):
    """Every stage that reads embeddings checks each chunk file against the record made when it was
    committed; verify checks them too (they live in the output's chunk store, shared by its runs)."""
    from transforms.embed.embeddings import Embeddings

    layout, manifest = publish.current(str(damageable))
    emb = Embeddings.load(layout)
    chunk = damageable / manifest.chunks[0]["path"]
    flip_bytes(chunk, chunk.stat().st_size // 2)
    with pytest.raises(integrity.IntegrityError, match=rf"{chunk}: content differs from what was written"):
        emb.check()
    res = vecpress("verify", str(damageable), env=cli_env)
    assert res.returncode == 2 and f"  {chunk}: content differs" in res.stderr


def test_damaged_files_of_an_earlier_run_are_never_reused(prefect_server, tmp_path):
    from flows.reindex import reindex

    write_parquet(make_corpus(500), str(tmp_path / "in" / "a.parquet"))
    config = small_config(tmp_path, codec="IVF4,SQ8", shards=2)
    first = reindex(config.model_copy(update={"run_id": "first"}))
    codes = tmp_path / "index" / "runs" / "first" / "codes" / "part-00001-of-00002.arrow"
    flip_bytes(codes, codes.stat().st_size // 2)

    again = reindex(config.model_copy(update={"run_id": "again"}))
    # the damaged codes are not reused: encode ran again (the other stages' files were intact)
    assert "encode" not in again["reused"] and "fit" in again["reused"]
    hashes = {f["path"]: f["sha256"] for f in again["files"]}
    assert hashes["codes/part-00001-of-00002.arrow"] == next(
        f["sha256"] for f in first["files"] if f["path"] == "codes/part-00001-of-00002.arrow"
    )


def test_a_damaged_code_file_of_the_stored_tier_is_named_by_search_and_verify(
    prefect_server, tmp_path, cli_env
):
    """A two-tier run's fine codes stay in the output's code files (shared by its runs); the run lists
    them with their sha256, and search and verify check them as they check the run's own files."""
    from flows.reindex import reindex
    from transforms.codec import refine

    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))
    output = tmp_path / "index"
    reindex(
        small_config(tmp_path, model="fake:32", codec="RaBitQ", refine="SQ8", shards=2)
    )  # fmt: skip
    layout, manifest = publish.current(str(output))
    listed = refine.read_listing(layout, manifest.records())
    code_file = output / listed[0]["path"]
    flip_bytes(code_file, code_file.stat().st_size // 2)
    res = vecpress("search", "--index", str(output), "nasa orbit shuttle", env=cli_env)
    assert res.returncode == 2 and f"{code_file}: content differs" in error_line(res)
    verify = vecpress("verify", str(output), env=cli_env)
    assert verify.returncode == 2 and f"  {code_file}: content differs" in verify.stderr

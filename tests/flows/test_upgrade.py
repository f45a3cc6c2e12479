"""An upgrade that computes the same vectors embeds nothing again: with a module moved and a comment edited,
a run on an output made before reuses every chunk, and every later stage. Keys carry what the vectors mean
(transforms.embed.chunks.embedding_identity, transforms.storage.formats), never the source."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq

from benchmarks.nights import moved_code
from tests.conftest import make_corpus
from tests.faults.conftest import ROOT
from transforms.run import publish

ARGS = ["--id-column", "doc_id", "--text-column", "body", "--model", "fake:32", "--shards", "2"]
ARGS += ["--eval-queries", "50"]


def _run(code_root, tmp_path, cli_env) -> dict:
    env = {**cli_env, "PYTHONPATH": str(code_root)}
    command = [sys.executable, "-m", "flows.cli", "run", "--input", str(tmp_path / "in"), "--output",
               str(tmp_path / "index"), *ARGS]  # fmt: skip
    res = subprocess.run(command, capture_output=True, text=True, env=env, cwd=code_root, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return publish.current(str(tmp_path / "index"))[1].to_json()


def test_a_moved_module_and_an_edited_comment_reembed_nothing(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    pq.write_table(make_corpus(400), tmp_path / "in" / "a.parquet", row_group_size=100)
    before = _run(ROOT, tmp_path, cli_env)
    assert before["reuse"]["documents_embedded"] == 400
    upgraded = moved_code(tmp_path / "upgraded")  # transforms/embed/reuse.py moved, a docstring edited
    after = _run(upgraded, tmp_path, cli_env)
    assert not (upgraded / "transforms" / "embed" / "reuse.py").exists()  # the run imported the moved module
    reuse = after["reuse"]
    assert reuse["documents_embedded"] == 0 and reuse["chunks_reused"] == reuse["chunks"] == 4
    assert after["counts"]["indexed"] == 400

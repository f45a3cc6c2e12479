"""--embed-cache: two outputs of one corpus share its embeddings; the second embeds nothing."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.conftest import make_corpus
from tests.faults.conftest import vecpress
from transforms.run import publish

ARGS = ["--id-column", "doc_id", "--text-column", "body", "--model", "fake:32", "--eval-queries", "50"]


def _run(tmp_path, output: str, cli_env, *extra: str) -> dict:
    res = vecpress("run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / output), *ARGS,
                   "--embed-cache", str(tmp_path / "cache"), *extra, env=cli_env)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    return publish.current(str(tmp_path / output))[1].to_json()


def test_a_second_output_reuses_the_first_outputs_embeddings(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    pq.write_table(make_corpus(300), tmp_path / "in" / "a.parquet", row_group_size=100)
    first = _run(tmp_path, "flat", cli_env, "--codec", "SQ8", "--shards", "1")
    second = _run(tmp_path, "ivf", cli_env, "--codec", "IVF4,SQ4", "--shards", "2")
    assert first["reuse"]["documents_embedded"] == 300
    assert second["reuse"]["documents_embedded"] == 0 and second["reuse"]["chunks_reused"] == 3
    assert all(c["path"].startswith(str(tmp_path / "cache")) for c in second["chunks"])
    own = list((tmp_path / "ivf").rglob("chunks/*/*.arrow"))  # its code chunks stay in chunks/*/codes/
    assert own == []  # no embed chunk of its own
    for output in ("flat", "ivf"):  # each verifies, its chunks checked where they are kept
        assert vecpress("verify", str(tmp_path / output), env=cli_env).returncode == 0
    found = vecpress("search", "--index", str(tmp_path / "ivf"), "--no-text", "nasa orbit", env=cli_env)
    assert found.returncode == 0 and "doc-" in found.stdout

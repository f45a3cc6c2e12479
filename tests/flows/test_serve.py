"""`vecpress serve` for real: it answers, follows a run published while it runs, and refuses a damaged one."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pyarrow.parquet as pq
import pytest

from tests.conftest import make_corpus
from tests.faults.conftest import ROOT, flip_bytes, vecpress

ARGS = ["--id-column", "doc_id", "--text-column", "body", "--label-column", "topic", "--model", "fake:32"]
ARGS += ["--shards", "2", "--eval-queries", "100"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
def index(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    pq.write_table(make_corpus(600), tmp_path / "in" / "a.parquet")
    res = vecpress(
        "run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "index"), *ARGS, env=cli_env
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return tmp_path / "index"


def test_serve_answers_follows_each_publish_and_refuses_a_damaged_run(index, tmp_path, cli_env):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    args = ["serve", "--index", str(index), "--port", str(port), "--poll", "0.5"]
    server = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=cli_env, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        first = _wait(lambda: httpx.get(f"{base}/health").json(), 120, "the server")
        assert (
            first["counts"]["indexed"] == 600
            and first["codec"]["refine"] == "SQ8"
            and first["refused"] is None
        )
        text = make_corpus(600).column("body")[42].as_py()
        found = httpx.post(f"{base}/search", json={"queries": [text], "k": 3}).json()
        hit = found["results"][0]["hits"][0]
        assert found["run_id"] == first["run_id"] and hit["doc_id"] == "doc-00042"
        assert hit["text"] == text and hit["label"] == "space"  # texts from the run's own input
        bare = httpx.post(f"{base}/search", json={"queries": [text], "k": 2, "text": False}).json()
        assert "text" not in bare["results"][0]["hits"][0]
        tuned = httpx.post(f"{base}/search", json={"queries": [text], "k": 3, "rerank": 2, "nprobe": 4})
        assert tuned.status_code == 200 and len(tuned.json()["results"][0]["hits"]) == 3
        assert httpx.post(f"{base}/search", json={"queries": [], "k": 2}).status_code == 422
        assert httpx.post(f"{base}/search", json={"queries": ["a"], "rerank": 0}).status_code == 422

        # a second, real `vecpress run` publishes while the server runs: it swaps to it
        pq.write_table(make_corpus(700), tmp_path / "in" / "a.parquet")
        res = vecpress("run", "--input", str(tmp_path / "in"), "--output", str(index), *ARGS, env=cli_env)
        assert res.returncode == 0, res.stderr[-3000:]
        swapped = lambda: (h := httpx.get(f"{base}/health").json())["run_id"] != first["run_id"] and h  # noqa: E731
        second = _wait(swapped, 60, "the swap")
        assert second["counts"]["indexed"] == 700 and second["swaps"] == 1

        # a run damaged after it was published is refused; the good one keeps serving
        current = json.loads((index / "CURRENT").read_text())["run_id"]
        shutil.copytree(index / "runs" / current, index / "runs" / "damaged")
        shard = next((index / "runs" / "damaged" / "index").iterdir())
        flip_bytes(shard, shard.stat().st_size // 2)
        (index / "CURRENT").write_text(json.dumps({"run_id": "damaged"}))
        refused = _wait(lambda: httpx.get(f"{base}/health").json()["refused"], 60, "the refusal")
        assert "content differs from what was written" in refused["reason"]
        still = httpx.post(f"{base}/search", json={"queries": [text], "k": 1}).json()
        assert still["run_id"] == second["run_id"] and still["results"][0]["hits"][0]["doc_id"] == "doc-00042"
    finally:
        server.terminate()
        server.wait(timeout=30)

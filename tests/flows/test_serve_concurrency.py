"""`vecpress serve` with the real default embedder (OpenVINO int8 on the CPU) under 16 concurrent clients:
every answer equals the one the same query gets from a lone client, and none fails."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pyarrow.parquet as pq
import pytest

from tests.conftest import make_corpus
from tests.faults.conftest import ROOT, vecpress
from tests.flows.test_serve import _free_port, _wait

CLIENTS, REQUESTS = 16, 50
QUERIES = [
    f"{a} {b}"
    for a in ("nasa shuttle launch", "hockey playoff goal", "car engine brake", "moon orbit mission")
    for b in ("season", "dealer", "satellite", "the team", "wheel")
]  # 20 queries, some near each other, so a mixed-up answer would look plausible


@pytest.mark.slow
def test_sixteen_clients_get_exactly_their_own_answers(tmp_path, cli_env):
    (tmp_path / "in").mkdir()
    pq.write_table(make_corpus(600), tmp_path / "in" / "a.parquet")
    index = tmp_path / "index"
    args = ["--id-column", "doc_id", "--text-column", "body", "--shards", "2", "--eval-queries", "100"]
    res = vecpress("run", "--input", str(tmp_path / "in"), "--output", str(index), *args, env=cli_env)
    assert res.returncode == 0, res.stderr[-3000:]

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "flows.cli", "serve", "--index", str(index), "--port", str(port)]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, env=cli_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        health = _wait(lambda: httpx.get(f"{base}/health").json(), 180, "the server")
        assert health["codec"]["backend"] == "openvino"  # the default on the CPU
        alone = {q: _ask(httpx, base, q) for q in QUERIES}
        wrong, errors = [], []

        def client(c: int) -> None:
            with httpx.Client(timeout=120) as http:
                for r in range(REQUESTS):
                    query = QUERIES[(c * 7 + r) % len(QUERIES)]
                    try:
                        if _ask(http, base, query) != alone[query]:
                            wrong.append(query)
                    except Exception as err:  # noqa: BLE001 - counted, then asserted
                        errors.append(repr(err))

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and wrong == [], (errors[:3], len(wrong))
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ask(http, base: str, query: str) -> list[tuple[str, float]]:
    res = http.post(f"{base}/search", json={"queries": [query], "k": 5, "text": False})
    res.raise_for_status()
    answer = res.json()["results"]
    assert [a["query"] for a in answer] == [query]
    return [(h["doc_id"], h["score"]) for h in answer[0]["hits"]]

"""`vecpress serve` exposed: its bearer token, request limits, access log, and options refused before the
model loads."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pyarrow.parquet as pq
import pytest

from tests.conftest import make_corpus
from tests.faults.conftest import ROOT, error_line, vecpress
from tests.flows.test_serve import ARGS, _free_port, _wait

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory, cli_env):
    """One published run (fake model) served with a token and tighter limits for the whole module."""
    root = tmp_path_factory.mktemp("limits")
    (root / "in").mkdir()
    pq.write_table(make_corpus(300), root / "in" / "a.parquet")
    index = root / "index"
    res = vecpress("run", "--input", str(root / "in"), "--output", str(index), *ARGS, env=cli_env)
    assert res.returncode == 0, res.stderr[-3000:]
    port = _free_port()
    log = root / "serve.log"
    args = ["serve", "--index", str(index), "--port", str(port), "--max-queries", "8", "--max-k", "50"]
    env = {**cli_env, "VECPRESS_API_KEY": TOKEN}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{base}/health").status_code == 200, 120, "the server")
        yield base, log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_every_route_but_health_needs_the_token(server):
    base, log = server
    health = httpx.get(f"{base}/health").json()
    assert health["token_required"] is True and health["limits"]["queries"] == 8
    body = {"queries": ["nasa orbit launch"], "k": 2}
    assert httpx.post(f"{base}/search", json=body).status_code == 401
    wrong = httpx.post(f"{base}/search", json=body, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{base}/openapi.json").status_code == 401
    ok = httpx.post(f"{base}/search", json=body, headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and len(ok.json()["results"][0]["hits"]) == 2
    time.sleep(0.2)
    lines = [line for line in log.read_text().splitlines() if "flows.serve.access" in line]
    assert any("POST /search 401" in line for line in lines) and any(
        "POST /search 200" in line for line in lines
    )


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"queries": ["a"] * 9}, 413, "9 queries in one request; at most 8"),
        ({"queries": ["x" * 2001]}, 413, "2001 characters; at most 2000"),
        ({"queries": ["ok", "   "]}, 422, "query 1 is blank"),
        ({"queries": [""]}, 422, "query 0 is blank"),
        (b'{"queries": ["\\ud800 lone"]}', 422, "not valid Unicode"),
        ({"queries": ["a"], "k": 51}, 422, "at most 50 hits"),
        ({"queries": ["a"], "k": 50, "rerank": 201}, 422, "50 x 201 candidates per query; at most 10000"),
        ({"queries": ["a"], "kk": 3}, 422, "Extra inputs are not permitted"),
        ({"queries": ["a"], "k": 0}, 422, "greater than or equal to 1"),
    ],
)
def test_requests_over_the_limits_are_refused_with_the_reason(server, body, status, said):
    base, _ = server
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    sent = {"content": body} if isinstance(body, bytes) else {"json": body}
    res = httpx.post(f"{base}/search", headers=auth, **sent)
    assert res.status_code == status and said in res.text, res.text


def test_a_body_over_the_limit_is_refused_whether_declared_or_streamed(server):
    base, _ = server
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    big = b'{"queries": ["' + b"a" * (2 << 20) + b'"]}'
    assert httpx.post(f"{base}/search", content=big, headers=auth).status_code == 413

    def streamed():  # no Content-Length: chunked transfer encoding
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    res = httpx.post(f"{base}/search", content=streamed(), headers=auth)
    assert res.status_code == 413 and "request body over 1048576 bytes" in res.text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "70000"], "argument --port: must be at most 65535, got 70000"),
        (["--poll", "-1"], "argument --poll: must be above zero, got -1"),
        (["--poll", "nan"], "argument --poll: must be above zero, got nan"),
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid: not an address"),
    ],
)
def test_bad_options_are_one_line_before_the_model_loads(tmp_path, cli_env, args, said):
    start = time.monotonic()
    res = vecpress("serve", "--index", str(tmp_path / "none"), *args, env=cli_env, timeout=60)
    assert res.returncode == 2 and said in error_line(res)
    assert time.monotonic() - start < 30


def test_a_port_in_use_is_said_before_the_model_loads(tmp_path, cli_env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = vecpress(
            "serve", "--index", str(tmp_path / "none"), "--port", str(port), env=cli_env, timeout=60
        )
    assert res.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in error_line(res)

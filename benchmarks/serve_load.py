"""Load on `vecpress serve`: latency percentiles and queries/s for 1, 8 and 32 concurrent clients on
127.0.0.1, each level bounded in requests and seconds, every answer checked against the answer the same query
got from a lone client in the same run (only correct answers count), against the same searches made
in-process (the baseline of the ratio); then a re-run publishes while the server runs, and the time until it
serves the new run and the latency of its first query there are measured."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

CLIENTS = (1, 8, 32)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def _percentiles(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def ask(http: httpx.Client, query: str, k: int) -> list[tuple[str, float]]:
    """One query's hits (doc id, score) from the server; ids only, as the load figures are of search."""
    res = http.post("/search", json={"queries": [query], "k": k, "text": False})
    res.raise_for_status()
    (answer,) = res.json()["results"]
    if answer["query"] != query:
        raise AssertionError(f"asked {query!r}, answered {answer['query']!r}")
    return [(h["doc_id"], h["score"]) for h in answer["hits"]]


def alone(base: str, queries: list[str], k: int) -> dict[str, list[tuple[str, float]]]:
    """Each query's answer from a lone client: what every answer under load must equal."""
    with httpx.Client(base_url=base, timeout=60) as http:
        return {q: ask(http, q, k) for q in dict.fromkeys(queries)}


def load(
    base: str,
    queries: list[str],
    clients: int,
    requests: int,
    seconds: float,
    k: int,
    expected: dict[str, list[tuple[str, float]]],
) -> dict:
    """``clients`` threads, each with its own connection, sending one query per request until ``requests``
    are answered or ``seconds`` pass; an answer other than ``expected`` or an error is counted, not timed."""
    latencies: list[float] = []
    wrong, errors = [0], [0]
    lock = threading.Lock()
    sent = iter(range(requests))
    deadline = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            for i in sent:
                if time.monotonic() > deadline:
                    return
                query = queries[i % len(queries)]
                start = time.perf_counter()
                try:
                    right = ask(http, query, k) == expected[query]
                except (httpx.HTTPError, AssertionError):
                    with lock:
                        errors[0] += 1
                    continue
                ms = 1000 * (time.perf_counter() - start)
                with lock:
                    if right:
                        latencies.append(ms)
                    else:
                        wrong[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "requests": len(latencies) + wrong[0] + errors[0],
        "correct": len(latencies),
        "wrong": wrong[0],
        "errors": errors[0],
        "queries_per_s": round(len(latencies) / wall, 2),  # correct answers only
        **_percentiles(latencies or [float("nan")]),
    }


def in_process(output: str, queries: list[str], n: int, k: int) -> dict[str, float]:
    """The same one-query searches made in this process, no HTTP (model and shards loaded once, ids only)."""
    from transforms.search.query import PublishedIndex

    index = PublishedIndex(output)
    index.search(queries[:1], k, with_text=False)
    ms = []
    for q in queries[:n]:
        start = time.perf_counter()
        index.search([q], k, with_text=False)
        ms.append(1000 * (time.perf_counter() - start))
    return _percentiles(ms)


def measure(
    index: str,
    corpus: Path,
    cache: Path,
    queries: list[str],
    requests: int = 400,
    seconds: float = 60.0,
    k: int = 10,
    run_args: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Serve a copy of ``index`` (an output of ``vecpress run`` over ``corpus``), load it, then re-run
    ``vecpress run`` into it (``run_args``: the options of the first run) and time the swap."""
    root = cache / "serve"
    if root.exists():
        shutil.rmtree(root)
    output = root / "index"
    shutil.copytree(index, output, ignore=shutil.ignore_patterns("LOCK"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.setdefault("PREFECT_HOME", str(cache / "serve-prefect"))
    port = _port()
    base = f"http://127.0.0.1:{port}"
    log = (root / "serve.log").open("wb")
    command = [sys.executable, "-m", "flows.cli", "serve", "--index", str(output), "--port", str(port)]
    server = subprocess.Popen([*command, "--poll", "0.2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.perf_counter()
        first = _wait(lambda: httpx.get(f"{base}/health").json(), 300, "the server")
        figures: dict[str, Any] = {
            "documents": first["counts"]["indexed"],
            "codec": first["codec"],
            "k": k,
            "startup_s": round(time.perf_counter() - started, 1),
            "in_process": in_process(str(output), queries, min(requests, 200), k),
        }
        expected = alone(base, queries, k)
        figures["load"] = [load(base, queries, c, requests, seconds, k, expected) for c in CLIENTS]
        one, eight = figures["load"][0], figures["load"][1]
        figures["serve_vs_in_process_p50"] = round(one["p50_ms"] / figures["in_process"]["p50_ms"], 3)
        figures["qps_8_vs_1"] = round(eight["queries_per_s"] / one["queries_per_s"], 3)
        figures["wrong_answers"] = sum(row["wrong"] + row["errors"] for row in figures["load"])
        figures["swap"] = _swap(base, output, corpus, env, first["run_id"], queries[0], k, run_args)
        figures["swap"]["first_query_vs_p50"] = round(figures["swap"]["first_query_ms"] / one["p50_ms"], 3)
        return figures
    finally:
        server.terminate()
        server.wait(timeout=60)


def _swap(
    base: str,
    output: Path,
    corpus: Path,
    env: dict[str, str],
    old: str,
    query: str,
    k: int,
    run_args: tuple[str, ...],
) -> dict[str, Any]:
    """A real re-run publishes a new run (unchanged corpus: every chunk reused); how long until the server
    answers from it, and how long its first query there takes."""
    command = [sys.executable, "-m", "flows.cli", "run", "--input", str(corpus), "--output", str(output)]
    log = output.parent / "rerun.log"
    with log.open("wb") as handle:
        run = subprocess.Popen([*command, *run_args], env=env, stdout=handle, stderr=subprocess.STDOUT)

        # watched while the run goes on: the server swaps right after the publish, seconds before the run's
        # process has stopped its own Prefect server and exited
        def swapped_or_ended() -> Any:
            health = httpx.get(f"{base}/health").json()
            return health if health["run_id"] != old else run.poll() is not None and {"ended": True}

        health = _wait(swapped_or_ended, 900, "the swap")
        swapped = time.time()
        run.wait()
    if run.returncode != 0 or "ended" in health:
        raise RuntimeError(f"vecpress run failed or was not served: {log.read_text()[-3000:]}")
    published = dt.datetime.fromisoformat(health["published_at"]).timestamp()
    start = time.perf_counter()
    answer = httpx.post(f"{base}/search", json={"queries": [query], "k": k}, timeout=60).json()
    first_ms = 1000 * (time.perf_counter() - start)
    assert answer["run_id"] == health["run_id"]
    return {
        "publish_to_serving_s": round(swapped - published, 2),
        "first_query_ms": round(first_ms, 2),
        "swaps": health["swaps"],
    }

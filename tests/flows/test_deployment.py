"""`prefect deployment run` for real: server, work pool, deploy from prefect.yaml, worker, flow run."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.deployment
def test_deployment_run_through_a_real_server_and_worker(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "VECPRESS_HOME": str(ROOT),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        # the scheduler looks for schedules to fill every 5 s instead of 60, so a scheduled run comes sooner
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    }
    data, output = tmp_path / "data", tmp_path / "index"
    subprocess.run(
        [sys.executable, "-m", "flows.cli", "sample-data", "--output", str(data), "--limit", "300"],
        check=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
    )

    started = time.monotonic()
    server = _start(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log"
    )
    worker = None
    try:
        _wait_for(lambda: _healthy(api), 240, "the Prefect server")

        def cli(*args: str) -> str:
            res = subprocess.run(
                [PREFECT, "--no-prompt", *args],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert res.returncode == 0, f"prefect {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
            return res.stdout

        cli("work-pool", "create", "vecpress-process", "--type", "process")
        cli("deploy", "--name", "nightly")
        worker = _start(
            [PREFECT, "worker", "start", "--pool", "vecpress-process"], env, tmp_path / "worker.log"
        )
        params = {
            "config_file": "configs/nightly.yaml",
            "overrides": {
                "input": str(data),
                "output": str(output),
                "max_seq_length": 64,
                "shards": 2,
                "eval_queries": 100,
            },
        }
        out = cli("deployment", "run", "reindex/nightly", "--params", json.dumps(params))
        run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)

        def finished():
            state = httpx.get(f"{api}/flow_runs/{run_id}").json()["state"]
            return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        state = _wait_for(finished, 600, "the flow run", interval=2)
        assert state["type"] == "COMPLETED", (tmp_path / "worker.log").read_text()[-5000:]

        from transforms.run import publish

        layout, manifest = publish.current(str(output))
        assert manifest.counts.indexed == 300 and manifest.parameters["shards"] == 2 == layout.shards
        assert manifest.columns().label == "topic"  # from configs/nightly.yaml
        artifacts = httpx.post(
            f"{api}/artifacts/filter",
            json={
                "artifacts": {"key": {"any_": ["vecpress-report"]}},
                "flow_runs": {"id": {"any_": [run_id]}},
            },
        ).json()
        assert len(artifacts) == 1 and artifacts[0]["type"] == "markdown"
        assert f"vecpress run {layout.run_id}" in artifacts[0]["data"]
        deployment = httpx.get(f"{api}/deployments/name/reindex/nightly").json()
        assert deployment["schedules"][0]["schedule"]["cron"] == "0 2 * * *"
        print(f"deployment test: {time.monotonic() - started:.1f}s from server start to a published index")

        _cancel_during_embed(cli, api, params, output, tmp_path, layout.run_id)
        _scheduled_runs(api, deployment["id"], params, tmp_path / "scheduled", tmp_path)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)


def _cancel_during_embed(cli, api: str, params: dict, output: Path, tmp_path: Path, published: str) -> None:
    """`prefect flow-run cancel` while the embed stage runs: the run is cancelled, not retried, releases the
    output lock, and the published run stays current and intact."""
    from tests.conftest import make_corpus, write_parquet
    from transforms.run import publish, verify

    big = tmp_path / "big"
    write_parquet(make_corpus(150_000, seed=9), str(big / "a.parquet"))  # minutes of embedding
    overrides = {**params["overrides"], "input": str(big), "model": "fake:64"}
    out = cli(
        "deployment", "run", "reindex/nightly", "--params", json.dumps({**params, "overrides": overrides})
    )
    run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)

    def embed_tasks() -> list[dict]:
        found = httpx.post(
            f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [run_id]}}, "limit": 50}
        ).json()
        return [t for t in found if t["task_key"].startswith("embed")]

    _wait_for(lambda: any(t["state_type"] == "RUNNING" for t in embed_tasks()), 300, "the embed stage")
    time.sleep(3)  # well inside the embedding
    cli("flow-run", "cancel", run_id)

    def finished():
        state = httpx.get(f"{api}/flow_runs/{run_id}").json()["state"]
        return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    state = _wait_for(finished, 180, "the cancelled flow run", interval=1)
    assert state["type"] == "CANCELLED", state
    (embed,) = embed_tasks()
    assert embed["run_count"] == 1, embed  # a termination is never retried
    assert embed["state_type"] != "COMPLETED"
    _wait_for(lambda: not (output / "LOCK").exists(), 30, "the lock to be released")
    assert publish.current(str(output))[0].run_id == published
    assert verify.verify(str(output)).ok


def _scheduled_runs(api: str, deployment: str, params: dict, output: Path, tmp_path: Path) -> None:
    """The server's own scheduler fires the deployment (a 30 s interval schedule added to it, with its own
    parameters): the first scheduled run publishes, and the next scheduled run reuses every chunk of it. No
    run is triggered by hand, so this fails where the scheduler does (e.g. prefect 3.8.8 with SQLAlchemy
    2.1, whose scheduler raised on every loop and created nothing)."""
    from transforms.run import publish, verify

    overrides = {**params["overrides"], "output": str(output), "model": "fake:32"}
    created = httpx.post(
        f"{api}/deployments/{deployment}/schedules",
        json=[
            {
                "schedule": {"interval": 30, "anchor_date": "2026-01-01T00:00:00Z", "timezone": "UTC"},
                "active": True,
                "parameters": {**params, "overrides": overrides},
            }
        ],
    )
    assert created.status_code == 201, created.text
    (schedule,) = created.json()

    def completed_scheduled_runs() -> list[dict]:
        # finished runs only: the scheduler also keeps up to a hundred future runs of a 30 s schedule
        ended = {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}
        runs = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"deployment_id": {"any_": [deployment]}, "state": ended}, "limit": 50},
        ).json()
        mine = [
            r
            for r in runs
            if r["auto_scheduled"] and r["parameters"].get("overrides", {}).get("output") == str(output)
        ]
        failed = [r for r in mine if r["state_type"] != "COMPLETED"]
        assert not failed, (tmp_path / "worker.log").read_text()[-5000:]
        return sorted(mine, key=lambda r: r["start_time"])

    def two() -> list[dict] | None:
        done = completed_scheduled_runs()
        return done[:2] if len(done) >= 2 else None

    try:
        first, second = _wait_for(two, 420, "two scheduled runs", interval=3)
    finally:
        httpx.delete(f"{api}/deployments/{deployment}/schedules/{schedule['id']}")
    assert first["id"] != second["id"]
    layout, manifest = publish.current(str(output))
    assert manifest.counts.indexed == 300 and verify.verify(str(output)).ok
    assert manifest.reuse["chunks_reused"] == manifest.reuse["chunks"] > 0  # the second run embedded nothing


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

"""`vecpress run` killed with SIGKILL in each stage, then run again: the lock heals, its temporary Prefect
server died with it, nothing half-written became CURRENT, and the re-run's files equal a clean run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from flows.config import ReindexConfig
from flows.reindex import reindex
from tests.conftest import make_corpus, write_parquet
from tests.faults.conftest import ROOT, vecpress
from transforms import publish, verify

N_DOCS = 6_000
ARGS = ["--model", "fake:32", "--id-column", "doc_id", "--text-column", "body", "--codec", "IVF16,SQ8"]
ARGS += ["--shards", "2", "--eval-queries", "100"]


def _files(output) -> dict[str, str]:
    _, manifest = publish.current(str(output))
    return {f["path"]: f["sha256"] for f in manifest["files"] if not f["path"].startswith("report.")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    write_parquet(make_corpus(N_DOCS, seed=3), str(root / "in" / "a.parquet"))
    return root


@pytest.fixture(scope="module")
def clean(corpus, prefect_server) -> dict[str, str]:
    """The files of an uninterrupted run with the same settings (its own output, so nothing is shared)."""
    config = ReindexConfig(
        input=str(corpus / "in"),
        output=str(corpus / "clean"),
        id_column="doc_id",
        text_column="body",
        model="fake:32",
        codec="IVF16,SQ8",
        shards=2,
        eval_queries=100,
    )
    reindex(config)
    return _files(corpus / "clean")


def _kill_at(marker: str, delay: float, args: list[str], env: dict[str, str]) -> list[int]:
    """Start `vecpress run`, SIGKILL it once ``marker`` is logged (after ``delay`` s); its children's pids."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            time.sleep(delay)
            children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return children
    proc.wait()
    raise AssertionError(f"never saw {marker!r}:\n{''.join(seen)[-3000:]}")


def _gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize(
    ("stage", "delay", "reused"),
    [("embed", 1.0, set()), ("encode", 0.0, {"embed", "fit"}), ("build", 0.0, {"embed", "fit", "encode"})]
    + [("publish", 0.0, {"embed", "fit", "encode", "build"})],
)
def test_kill_9_then_run_again(stage, delay, reused, corpus, clean, cli_env, tmp_path):
    output = tmp_path / "index"
    args = ["--input", str(corpus / "in"), "--output", str(output), *ARGS]
    children = _kill_at(f"stage {stage}: started", delay, args, cli_env)

    assert children and all(_gone(pid) for pid in children), (
        "the temporary Prefect server outlived its parent"
    )
    assert (output / "LOCK").exists()  # left behind by the killed run
    if (output / "CURRENT").exists():  # killed after publishing: then the run is complete and intact
        assert stage == "publish" and verify.verify(str(output)).ok

    again = vecpress("run", *args, env=cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "took over a stale lock" in again.stderr and "is gone" in again.stderr
    assert _files(output) == clean  # byte-identical to the uninterrupted run
    _, manifest = publish.current(str(output))
    assert reused <= set(manifest["reused"])
    assert not (output / "LOCK").exists() and verify.verify(str(output)).ok

"""`vecpress run` killed with SIGKILL in each stage, then run again: the lock heals, its temporary Prefect
server died with it, nothing half-written became CURRENT, and the re-run's files equal a clean run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pyarrow.parquet as pq
import pytest

from flows.reindex import reindex
from tests.conftest import make_corpus, small_config
from tests.faults.conftest import ROOT, vecpress
from transforms.run import publish, verify

N_DOCS = 6_000
ARGS = ["--model", "fake:32", "--id-column", "doc_id", "--text-column", "body", "--codec", "IVF16,SQ8"]
ARGS += ["--shards", "2", "--eval-queries", "100"]


def _files(output) -> dict[str, str]:
    _, manifest = publish.current(str(output))
    return {f["path"]: f["sha256"] for f in manifest.files if not f["path"].startswith("report.")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    (root / "in").mkdir(parents=True)
    pq.write_table(make_corpus(N_DOCS, seed=3), root / "in" / "a.parquet", row_group_size=1000)  # 6 chunks
    return root


@pytest.fixture(scope="module")
def clean(corpus, prefect_server) -> dict[str, str]:
    """The files of an uninterrupted run with the same settings (its own output, so nothing is shared)."""
    config = small_config(
        corpus, output=str(corpus / "clean"), model="fake:32", codec="IVF16,SQ8", shards=2, eval_queries=100
    )
    reindex(config)
    return _files(corpus / "clean")


def _chunks_done(output) -> int:
    return len(list(output.glob("chunks/*/*.json")))


def _kill_at(marker: str, chunks: int, args: list[str], env: dict[str, str], output) -> list[int]:
    """Start `vecpress run`, SIGKILL it once ``marker`` is logged and ``chunks`` embed chunks are committed;
    return its children's pids."""
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
            while _chunks_done(output) < chunks and proc.poll() is None:
                time.sleep(0.05)
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
    ("stage", "chunks", "reused"),
    [("embed", 2, set()), ("encode", 6, {"fit"}), ("build", 6, {"fit", "encode"})]
    + [("publish", 6, {"fit", "encode", "build"})],
)
def test_kill_9_then_run_again(stage, chunks, reused, corpus, clean, cli_env, tmp_path):
    output = tmp_path / "index"
    args = ["--input", str(corpus / "in"), "--output", str(output), *ARGS]
    children = _kill_at(f"stage {stage}: started", chunks, args, cli_env, output)
    done = _chunks_done(output)

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
    assert reused <= set(manifest.reused)
    # the re-run embedded only the chunks the killed run had not committed, and says so
    assert manifest.reuse["chunks"] == 6 and manifest.reuse["chunks_reused"] == done >= chunks
    assert f"embed: 6 chunks, {done} done before (reused), {6 - done} to embed" in again.stderr
    assert not (output / "LOCK").exists() and verify.verify(str(output)).ok
    said = [line for line in again.stderr.splitlines() if "stale lock" in line or "done before" in line]
    print(f"\nkilled at 'stage {stage}: started' with {done} of 6 chunks committed; the re-run said:")
    print("\n".join(said), f"\nreused stages: {sorted(manifest.reused)}; files byte-identical: True")

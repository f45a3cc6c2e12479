"""The fault catalogue's helpers: the CLI as users start it, small corpora, a published run to damage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = ["--model", "fake:32", "--id-column", "doc_id", "--text-column", "body"]


def vecpress(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """``vecpress ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def error_line(res: subprocess.CompletedProcess) -> str:
    """The CLI's one error line; asserts there is exactly one and no traceback."""
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = [line for line in res.stderr.splitlines() if line.startswith("vecpress: error:")]
    assert len(lines) == 1, res.stderr[-3000:]
    return lines[0]


@pytest.fixture
def damageable(published, tmp_path) -> Path:
    """A private copy of the published run's output."""
    target = tmp_path / "index"
    shutil.copytree(published, target)
    return target


def flip_bytes(path: Path, offset: int, count: int = 8) -> None:
    """Damage a file in place without changing its size."""
    data = bytearray(path.read_bytes())
    for i in range(offset, min(offset + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))

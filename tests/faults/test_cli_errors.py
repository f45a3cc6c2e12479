"""User mistakes and storage faults at the CLI: one `vecpress: error:` line naming what and where, exit 2
(exit 1 for storage trouble met while working), the earlier published run untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import make_corpus, write_parquet
from tests.faults.conftest import FAKE, error_line, vecpress
from transforms.run import publish, verify


def test_a_memory_output_is_refused(tmp_path, cli_env):
    res = vecpress("run", "--input", str(tmp_path), "--output", "memory://idx", *FAKE, env=cli_env)
    assert res.returncode == 2
    assert "--output memory://idx: a memory:// location lives only as long as this process" in error_line(res)


RUN = ["run", "--input", "in", "--output", "out"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([*RUN, "--shards", "0"], "argument --shards: must be at least 1, got 0"),
        ([*RUN, "--rerank", "1.5"], "argument --rerank: expected a whole number, got '1.5'"),
        ([*RUN, "--time-budget", "-1"], "--time-budget (plan_time_budget_s): Input should be greater than 0"),
        ([*RUN, "--run-id", "a/b"], "--run-id (run_id): String should match pattern"),
        ([*RUN, "--on-bad-file", "ignore"], "argument --on-bad-file: invalid choice: 'ignore'"),
        (["search", "--index", "out", "-k", "0", "q"], "argument -k: must be at least 1, got 0"),
        (["search", "--index", "out", "-k", "ten", "q"], "argument -k: expected a whole number, got 'ten'"),
        (["plan", "--input", "in", "--queries", "0"], "argument --queries: must be at least 1, got 0"),
    ],
)
def test_bad_option_values_are_one_line(args, expected, cli_env):
    res = vecpress(*args, env=cli_env)
    assert res.returncode == 2
    assert expected in error_line(res)
    assert res.stdout == ""


def test_a_broken_current_pointer_is_one_line(published, tmp_path, cli_env):
    output = tmp_path / "index"
    shutil.copytree(published, output)
    (output / "CURRENT").write_text('{"run_id": "2026')  # truncated mid-write by another tool
    for args in (["search", "--index", str(output), "q"], ["inspect", str(output)], ["verify", str(output)]):
        res = vecpress(*args, env=cli_env)
        assert res.returncode == 2
        assert f"{output}/CURRENT: damaged, it does not name a run" in error_line(res)
    (output / "CURRENT").write_text(json.dumps({"run_id": "20990101T000000Z-gone00"}))
    res = vecpress("inspect", str(output), env=cli_env)
    assert res.returncode == 2
    assert "points at run 20990101T000000Z-gone00, but its manifest" in error_line(res)


def test_verbose_shows_the_traceback(tmp_path, cli_env):
    res = vecpress("-v", "inspect", str(tmp_path / "nowhere"), env=cli_env)
    assert res.returncode == 2 and "Traceback" in res.stderr and "no published run" in res.stderr
    res = vecpress("inspect", str(tmp_path / "nowhere"), "--verbose", env=cli_env)
    assert res.returncode == 2 and "Traceback" in res.stderr


def _mount_tmpfs(path, *options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join(("size=4m", *options))  # a later size= wins
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


@pytest.fixture
def tmpfs(tmp_path):
    """A mounter that unmounts whatever it mounted."""
    mounted = []

    def mount(path, *options: str) -> bool:
        ok = _mount_tmpfs(path, *options)
        if ok:
            mounted.append(path)
        return ok

    yield mount
    for path in mounted:
        subprocess.run(["umount", str(path)], capture_output=True)


def test_a_read_only_output_is_one_line(tmp_path, cli_env, tmpfs):
    write_parquet(make_corpus(50), str(tmp_path / "in" / "a.parquet"))
    output = tmp_path / "ro"
    if os.geteuid() == 0:  # root writes through permission bits: a read-only mount instead
        if not tmpfs(output, "ro"):
            pytest.skip("cannot mount a read-only tmpfs here")
    else:
        output.mkdir()
        output.chmod(0o555)
    res = vecpress("run", "--input", str(tmp_path / "in"), "--output", str(output), *FAKE, env=cli_env)
    assert res.returncode == 2
    assert f"{output}: cannot write to this output" in error_line(res)


def test_disk_full_fails_cleanly_and_keeps_the_published_run(tmp_path, cli_env, tmpfs):
    output = tmp_path / "full"
    if not tmpfs(output, "size=2m"):
        pytest.skip("cannot mount a small tmpfs here")
    write_parquet(make_corpus(300), str(tmp_path / "small" / "a.parquet"))
    write_parquet(make_corpus(6000), str(tmp_path / "big" / "a.parquet"))  # 3 MB of 128-d embeddings
    common = ["--output", str(output), *FAKE, "--model", "fake:128", "--codec", "IVF4,SQ8", "--shards", "1"]
    first = vecpress("run", "--input", str(tmp_path / "small"), *common, env=cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    layout, _ = publish.current(str(output))

    res = vecpress("run", "--input", str(tmp_path / "big"), *common, env=cli_env)
    assert res.returncode == 2
    assert f"{output}: no space left on device; nothing was published" in error_line(res)
    assert "Retry" not in res.stderr  # a full disk waits for a person
    assert publish.current(str(output))[0].run_id == layout.run_id  # the earlier run is still current
    assert verify.verify(str(output)).ok and not (output / "LOCK").exists()


def test_a_wrong_column_is_one_line_within_seconds(tmp_path, cli_env):
    """Said before the temporary Prefect server starts or the model loads: once, and fast."""
    import time

    import pyarrow.parquet as pq

    from tests.conftest import make_corpus

    (tmp_path / "in").mkdir()
    pq.write_table(make_corpus(50), tmp_path / "in" / "a.parquet")
    start = time.monotonic()
    res = vecpress("run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                   "--id-column", "doc_id", "--text-column", "bodyy", env=cli_env)  # fmt: skip
    took = time.monotonic() - start
    line = error_line(res)
    assert res.returncode == 2 and "a.parquet" in line and "bodyy" in line
    assert "prefect" not in res.stderr.lower() and took < 20, (took, res.stderr[-2000:])

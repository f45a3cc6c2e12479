"""The output lock: a live writer is refused, a gone one's lock heals, a lost lock publishes nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import subprocess
import time

import pytest

from flows.config import ReindexConfig
from flows.reindex import reindex
from tests.conftest import make_corpus, small_config, write_parquet
from transforms.storage import io, lock


def _config(root, **kw) -> ReindexConfig:
    return small_config(root, codec="IVF4,SQ8", shards=2, **kw)


def _write_lock(output, **fields) -> None:
    now = dt.datetime.now(dt.UTC).isoformat()
    payload = {
        "run_id": "old",
        "host": socket.gethostname(),
        "pid": 1,
        "since": now,
        "heartbeat": now,
        **fields,
    }
    io.write_bytes(lock.lock_url(str(output)), json.dumps(payload).encode())


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_lock_whose_process_is_gone_on_this_host_is_taken_over(prefect_server, tmp_path, caplog):
    write_parquet(make_corpus(300), str(tmp_path / "in" / "a.parquet"))
    _write_lock(tmp_path / "index", run_id="killed", pid=_dead_pid())
    with caplog.at_level(logging.WARNING, logger="transforms.storage.lock"):
        manifest = reindex(_config(tmp_path))
    assert manifest["counts"]["indexed"] == 300
    assert any(
        "took over a stale lock: run run_id killed" in r.getMessage() and "is gone" in r.getMessage()
        for r in caplog.records
    )
    assert lock.holder(str(tmp_path / "index")) is None


def test_a_reused_pid_does_not_keep_a_dead_run_s_lock(tmp_path):
    # pid 1 is alive but started long before the recorded time: another program, not the holder
    found = {"run_id": "x", "host": socket.gethostname(), "pid": 1, "pid_started": time.time()}
    assert "another program now" in lock.stale_reason(found, None, 300)


def test_a_lock_from_another_host_frees_itself_after_its_lease(tmp_path):
    output = tmp_path / "index"
    beat = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)).isoformat()
    _write_lock(output, host="elsewhere", pid=4242, heartbeat=beat, lease_s=600)
    with pytest.raises(lock.OutputLocked, match="being written by run run_id old, host elsewhere"):
        with lock.output_lock(str(output), "new"):
            pass
    _write_lock(output, host="elsewhere", pid=4242, heartbeat=beat, lease_s=10)
    with lock.output_lock(str(output), "new") as lease:
        assert lock.holder(str(output))["run_id"] == "new"
        lease.check()


def test_a_live_writer_is_refused_and_keeps_its_lock(tmp_path):
    output = str(tmp_path / "index")
    with lock.output_lock(output, "first", lease_s=5) as first:
        with pytest.raises(lock.OutputLocked, match="run_id first"):
            with lock.output_lock(output, "second"):
                pass
        beat = lock.holder(output)["heartbeat"]
        time.sleep(1.6)  # five beats per lease
        assert lock.holder(output)["heartbeat"] > beat  # the holder renews it
        first.check()
    assert lock.holder(output) is None


def test_a_run_that_lost_its_lock_publishes_nothing(tmp_path):
    output = str(tmp_path / "index")
    with pytest.raises(lock.OutputLocked, match="lost its lock before publishing"):
        with lock.output_lock(output, "slow") as lease:
            _write_lock(tmp_path / "index", run_id="usurper", host="elsewhere", pid=7)  # took over meanwhile
            lease.check()
    assert lock.holder(output)["run_id"] == "usurper"  # its lock is left alone


def test_an_unreadable_lock_is_respected_until_its_lease_passes(tmp_path):
    assert lock.stale_reason(None, age_s=2, lease_s=300) is None
    assert "cannot be read" in lock.stale_reason(None, age_s=900, lease_s=300)

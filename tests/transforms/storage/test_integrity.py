import os
import threading

import pytest

from transforms.storage import integrity, io, run_scope


@pytest.fixture
def hashed(monkeypatch):
    """Counts the files hashed through ``io.sha256``."""
    calls = []
    real = io.sha256

    def counting(url, *args):
        calls.append(url)
        return real(url, *args)

    monkeypatch.setattr(io, "sha256", counting)
    return calls


def _file(tmp_path, data=b"vectors" * 100):
    path = tmp_path / "f.arrow"
    path.write_bytes(data)
    return str(path), integrity.of_file(str(path))


def test_outside_a_run_every_check_hashes(tmp_path, hashed):
    url, record = _file(tmp_path)
    hashed.clear()
    integrity.verify_file(url, record)
    integrity.verify_file(url, record)
    assert len(hashed) == 2


def test_within_a_run_an_untouched_file_is_hashed_once(tmp_path, hashed):
    url, record = _file(tmp_path)
    hashed.clear()
    with run_scope.scope():
        for _ in range(3):
            integrity.verify_file(url, record)
        assert len(hashed) == 1
        # another record of the same file is checked on its own
        with pytest.raises(integrity.IntegrityError):
            integrity.verify_file(url, {"bytes": record.bytes, "sha256": "0" * 64})
    integrity.verify_file(url, record)  # the run is over: hashed again
    assert len(hashed) == 3


def test_within_a_run_a_file_changed_after_its_check_is_caught(tmp_path, hashed):
    url, record = _file(tmp_path)
    with run_scope.scope():
        integrity.verify_file(url, record)
        stat = os.stat(url)
        with open(url, "r+b") as handle:  # same size, one byte changed in place
            handle.write(b"V")
        os.utime(url, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
        with pytest.raises(integrity.IntegrityError, match="content differs"):
            integrity.verify_file(url, record)
        os.remove(url)
        with pytest.raises(integrity.IntegrityError, match="missing"):
            integrity.verify_file(url, record)


def test_runs_in_threads_share_the_scope_until_the_last_ends(tmp_path, hashed):
    url, record = _file(tmp_path)
    hashed.clear()
    inside, leave = threading.Event(), threading.Event()

    def other_run():
        with run_scope.scope():
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=other_run)
    thread.start()
    inside.wait(5)
    with run_scope.scope():
        integrity.verify_file(url, record)
    integrity.verify_file(url, record)  # the other run still holds the scope
    leave.set()
    thread.join()
    integrity.verify_file(url, record)  # no run left: hashed again
    assert len(hashed) == 2

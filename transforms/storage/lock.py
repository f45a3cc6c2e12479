"""One writer per output: a lock file next to the CURRENT pointer that heals when its holder is gone.

The lock is created with exclusive-create semantics and names its holder: run id, host, pid, the process's
start time and a heartbeat that a thread renews while the run lasts. A lock whose holder is provably gone is
taken over with a warning instead of refusing every later run:

- same host, and the pid is not running (or is a different process now: another start time);
- any host, and the heartbeat is older than the lease (a machine that died, a run on another host).

A run that lost its lock (its heartbeat stalled past the lease and another run took over) finds out before
it publishes (``Lease.check``) and stops.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transforms.storage import io
from transforms.storage.errors import StorageError, VecpressError

logger = logging.getLogger(__name__)

LOCK = "LOCK"
LEASE_S = 300.0  # a heartbeat older than this frees the lock
BEATS_PER_LEASE = 5


class OutputLocked(VecpressError, RuntimeError):
    """Another run is writing to the same output; this one refuses rather than interleave."""


def lock_url(output: str) -> str:
    return io.join(output, LOCK)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if there is no such process."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:  # it exists, owned by someone else
        return -1.0


def holder(output: str) -> dict[str, Any] | None:
    """Who holds the lock, or None when the output is free (or the lock file cannot be parsed)."""
    try:
        found = io.read_json(lock_url(output))
    except (FileNotFoundError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _age_s(url: str) -> float | None:
    """Seconds since the lock file was last written, where the filesystem says."""
    fs, path = io.filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    when = info.get("mtime") or info.get("LastModified") or info.get("updated")
    if when is None:
        return None
    if isinstance(when, int | float):
        return _now().timestamp() - float(when)
    if isinstance(when, str):
        when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    return (_now() - when).total_seconds()


def stale_reason(found: dict[str, Any] | None, age_s: float | None, lease_s: float) -> str | None:
    """Why the lock ``found`` (None: unreadable) no longer protects a live run, or None while it does."""
    if found is None:
        if age_s is not None and age_s > lease_s:
            return (
                f"the lock file cannot be read and was last written {age_s:.0f} s ago (lease {lease_s:.0f} s)"
            )
        return None
    host, pid = found.get("host"), found.get("pid")
    if host == socket.gethostname() and isinstance(pid, int):
        started = _process_start(pid)
        if started is None:
            return f"its process {pid} on {host} is gone"
        recorded = found.get("pid_started")
        if started >= 0 and isinstance(recorded, int | float) and abs(started - recorded) > 1.0:
            return f"process {pid} on {host} is another program now (the holder's pid was reused)"
    beat = found.get("heartbeat") or found.get("since")
    lease = float(found.get("lease_s") or lease_s)
    if isinstance(beat, str):
        try:
            silent = (_now() - dt.datetime.fromisoformat(beat)).total_seconds()
        except ValueError:
            silent = None
        if silent is not None and silent > lease:
            return f"its last heartbeat was {silent:.0f} s ago, past its lease of {lease:.0f} s"
    return None


def _describe(found: dict[str, Any] | None) -> str:
    if found is None:
        return "(unreadable lock)"
    keys = ("run_id", "host", "pid", "since", "heartbeat")
    return ", ".join(f"{k} {found[k]}" for k in keys if k in found)


class Lease:
    """The held lock: renews its heartbeat in a thread; ``check`` fails if another run took it over."""

    def __init__(self, output: str, payload: dict[str, Any], lease_s: float):
        self.output, self.url = output, lock_url(output)
        self.payload, self.lease_s = payload, lease_s
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="vecpress-lock-heartbeat", daemon=True)

    def mine(self, found: dict[str, Any] | None) -> bool:
        return bool(found) and all(found.get(k) == self.payload[k] for k in ("run_id", "host", "pid"))

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / BEATS_PER_LEASE):
            found = holder(self.output)
            if not self.mine(found):
                self.lost = f"the lock is now held by {_describe(found)}"
                logger.error("%s: lost the output lock: %s", self.output, self.lost)
                return
            self.payload["heartbeat"] = _now().isoformat()
            try:
                io.atomic_write_bytes(self.url, json.dumps(self.payload).encode())
            except OSError as err:  # a missed beat is not fatal; the lease allows several
                logger.warning("%s: could not renew the lock's heartbeat: %s", self.output, err)

    def start(self) -> None:
        self._thread.start()

    def check(self) -> None:
        """Raise OutputLocked unless this run still holds the lock (call before publishing)."""
        found = holder(self.output)
        if self.lost or not self.mine(found):
            why = self.lost or f"the lock is now held by {_describe(found)}"
            raise OutputLocked(
                f"{self.output}: run {self.payload['run_id']} lost its lock before publishing ({why}); "
                "nothing was published by this run"
            )

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self.mine(holder(self.output)):  # never remove a lock another run took over
            fs, path = io.filesystem(self.url)
            try:
                fs.rm(path)
            except FileNotFoundError:
                pass


def _create(url: str, payload: dict[str, Any]) -> bool:
    """Exclusive create; False when the lock file exists."""
    fs, path = io.filesystem(url)
    try:
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "xb") as handle:
            handle.write(json.dumps(payload).encode())
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        raise StorageError(f"{url.rsplit('/', 1)[0]}: cannot write to this output ({err.strerror})") from err
    return True


def _take_over(url: str, reason: str) -> None:
    """Remove a stale lock. On a local disk it is first renamed aside, so of two runs taking over the same
    stale lock only one succeeds; object stores have no such rename and rely on the heartbeat check."""
    fs, path = io.filesystem(url)
    aside = f"{path}.stale-{uuid.uuid4().hex[:8]}"
    try:
        if io.is_local(fs):
            fs.mv(path, aside)
            fs.rm(aside)
        else:
            fs.rm(path)
    except FileNotFoundError:
        return  # someone else took it first; the caller tries to create it again
    logger.warning("%s: took over a stale lock: %s", url, reason)


@contextmanager
def output_lock(output: str, run_id: str, lease_s: float = LEASE_S) -> Iterator[Lease]:
    """Hold ``<output>/LOCK`` for the duration of a run; yields the Lease."""
    import psutil

    url = lock_url(output)
    pid = os.getpid()
    payload = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": pid,
        "pid_started": psutil.Process(pid).create_time(),
        "since": _now().isoformat(),
        "heartbeat": _now().isoformat(),
        "lease_s": lease_s,
    }
    for _attempt in range(3):
        if _create(url, payload):
            break
        found = holder(output)
        reason = stale_reason(found, _age_s(url), lease_s)
        if reason is None:
            raise OutputLocked(
                f"{output} is being written by run {_describe(found)}; refusing to interleave a second run "
                f"with it. Wait for that run to finish; a lock whose holder is gone frees itself (same "
                f"host: at once; elsewhere: {lease_s:.0f} s after its last heartbeat)"
            )
        _take_over(url, f"run {_describe(found)}: {reason}")
    else:
        raise OutputLocked(f"{output}: could not take the lock after removing a stale one (another run did)")
    lease = Lease(output, payload, lease_s)
    lease.start()
    try:
        yield lease
    finally:
        lease.release()

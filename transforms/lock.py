"""One writer per output: an exclusive-create lock file next to the CURRENT pointer."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transforms import io

LOCK = "LOCK"


class OutputLocked(RuntimeError):
    """Another run is writing to the same output; this one refuses rather than interleave."""


def lock_url(output: str) -> str:
    return io.join(output, LOCK)


def holder(output: str) -> dict[str, Any] | None:
    """Who holds the lock, or None when the output is free."""
    try:
        return io.read_json(lock_url(output))
    except (FileNotFoundError, ValueError):
        return None


@contextmanager
def output_lock(output: str, run_id: str) -> Iterator[None]:
    """Hold ``<output>/LOCK`` for the duration of a run.

    The lock is created with mode "xb" (exclusive create): atomic with O_EXCL on a local disk and on
    backends that implement it with conditional writes. The file names the holder (run id, host, pid, start
    time), so a refused run can say who is writing; a lock left by a killed run is removed by hand.
    """
    url = lock_url(output)
    fs, path = io.filesystem(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    payload = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": dt.datetime.now(dt.UTC).isoformat(),
    }
    try:
        with fs.open(path, "xb") as handle:
            handle.write(json.dumps(payload).encode())
    except FileExistsError as err:
        who = holder(output) or "(unreadable lock)"
        raise OutputLocked(
            f"{output} is being written by run {who}; refusing to interleave a second run with it. "
            f"Wait for that run to finish, or, if it is gone, delete {url}"
        ) from err
    try:
        yield
    finally:
        fs.rm(path)

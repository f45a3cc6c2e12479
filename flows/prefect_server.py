"""A temporary Prefect API server for one ``vecpress run`` that cannot outlive the process that started it.

Prefect starts the same server by itself when no ``PREFECT_API_URL`` is set, but as a plain child process:
a ``vecpress run`` killed with SIGKILL leaves it running. This one is started the same way (uvicorn over
Prefect's own app factory, in Prefect's "ephemeral" mode: no UI, only the services a local run needs), with
the kernel asked to send it SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with(parent: int) -> None:
    """Runs in the child between fork and exec: SIGTERM when the parent dies (or is already gone)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the server is stopped on a normal exit only
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _drain_to(proc: subprocess.Popen) -> None:
    """Send the logs and events Prefect still holds while the server can take them (otherwise Prefect tries
    at exit and prints 'Error logging to API')."""
    if proc.poll() is not None:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception as err:  # noqa: BLE001 - only telemetry is lost
            logger.debug("could not flush %s: %s", worker.__name__, err)


@contextmanager
def temporary_server(timeout_s: float = 180.0) -> Iterator[str]:
    """Start the server, point this process's Prefect client at it (yields the API URL), stop it after."""
    import prefect
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
        "--factory", "prefect.server.api.server:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    parent = os.getpid()
    logger.info("starting a temporary Prefect server on 127.0.0.1:%d", port)
    proc = subprocess.Popen(command, env=env, preexec_fn=lambda: _die_with(parent))  # noqa: PLW1509
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(api):
            if proc.poll() is not None:
                raise RuntimeError(f"the temporary Prefect server exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the temporary Prefect server did not answer within {timeout_s:.0f} s")
            time.sleep(0.2)
        with temporary_settings(updates={PREFECT_API_URL: api}):
            yield api
    finally:
        _drain_to(proc)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

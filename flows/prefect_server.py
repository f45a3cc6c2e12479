"""A temporary Prefect API server for one ``vecpress run`` that cannot outlive the process that started it.

Prefect starts the same server by itself when no ``PREFECT_API_URL`` is set, but as a plain child process:
a ``vecpress run`` killed with SIGKILL leaves it running. This one is started the same way (uvicorn over
Prefect's own app factory, in Prefect's "ephemeral" mode: no UI, only the services a local run needs), with
the kernel asked to send it SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import importlib.util
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


def _settings() -> dict[str, str]:
    """The Prefect settings this process changed from its environment and profile, for the server to start
    with: none before Prefect is imported (the server reads the same environment and profile)."""
    if "prefect.settings" not in sys.modules:
        return {}
    from prefect.settings import get_current_settings

    return get_current_settings().to_environment_variables(exclude_unset=True)


class TemporaryServer:
    """The server process, started at once; ``connect`` waits until it answers and points Prefect at it."""

    def __init__(self, timeout_s: float = 180.0):
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.timeout_s = timeout_s
        self.used = self.stopped = False
        env = {**os.environ, **_settings(), "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}  # fmt: skip
        env.pop("PREFECT_API_URL", None)
        # where Prefect is installed, found without importing it (a second of this process's start-up)
        package = importlib.util.find_spec("prefect")
        app_dir = os.path.dirname(next(iter(package.submodule_search_locations or [])))
        command = [
            sys.executable, "-m", "uvicorn", "--app-dir", app_dir,
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        parent = os.getpid()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, env=env, preexec_fn=lambda: _die_with(parent))  # noqa: PLW1509

    def wait(self) -> str:
        """The API URL, once the server answers."""
        deadline = self.started + self.timeout_s
        while not _healthy(self.api):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the temporary Prefect server exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the temporary Prefect server did not answer within {self.timeout_s:.0f} s"
                )
            time.sleep(0.1)
        logger.info(
            "temporary Prefect server on 127.0.0.1:%d: up %.1f s after it was started",
            self.port, time.monotonic() - self.started,
        )  # fmt: skip
        return self.api

    @contextmanager
    def connect(self) -> Iterator[str]:
        """Wait for the server, then point this process's Prefect client at it (yields the API URL). When the
        active Prefect profile names a server (read once Prefect is imported), that one, and this stops."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        if PREFECT_API_URL.value():
            self.stop()
            yield PREFECT_API_URL.value()
            return
        api = self.wait()
        self.used = True
        with temporary_settings(updates={PREFECT_API_URL: api}):
            yield api

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.used:
            _drain_to(self.proc)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def starting_server(timeout_s: float = 180.0) -> Iterator[TemporaryServer]:
    """Start the server now and stop it on leaving: what runs inside (a run's checks, say) overlaps its
    seconds of start-up, and a run that fails them leaves nothing behind."""
    server = TemporaryServer(timeout_s)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def temporary_server(timeout_s: float = 180.0) -> Iterator[str]:
    """Start the server, point this process's Prefect client at it (yields the API URL), stop it after."""
    with starting_server(timeout_s) as server, server.connect() as api:
        yield api

"""`vecpress serve`: a long-running search server over an output's current run, following each publish.

The model and the current run's shards are loaded once. A thread watches ``CURRENT``; when it moves, the new
run is loaded in full and checked against its manifest (every shard's size and sha256) before one reference
swap makes it the one served. A request holds the run it started with, so in-flight requests finish on the
old one. A run that fails its check is refused: the old one keeps serving and ``/health`` says why.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from transforms.embedders.microbatch import MicroBatcher
from transforms.search.query import PublishedIndex
from transforms.storage import io
from transforms.storage.errors import VecpressError
from transforms.storage.layout import POINTER

logger = logging.getLogger(__name__)


class Served:
    """The run being served, and the watcher that swaps in each newly published one."""

    def __init__(self, output: str, device: str = "auto", poll_s: float = 5.0):
        self.output, self.device, self.poll_s = output, device, poll_s
        self.index = self._load()
        self.pointer = self._pointer()
        self.refused: dict[str, Any] | None = None
        self.swaps = 0
        self.batcher = MicroBatcher()  # queries of concurrent requests embedded in one model call
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="vecpress-serve-watch", daemon=True)

    def _pointer(self) -> bytes | None:
        try:
            return io.read_bytes(io.join(self.output, POINTER))
        except FileNotFoundError:
            return None

    def _load(self) -> PublishedIndex:
        index = PublishedIndex(self.output, device=self.device)
        index.search(["warm up"], 1, with_text=False)  # the model loaded and every shard touched once
        return index

    def check(self) -> None:
        """Swap to the published run if ``CURRENT`` moved and the new run passes its check."""
        pointer = self._pointer()
        if pointer == self.pointer:
            return
        self.pointer = pointer
        start = time.perf_counter()
        try:
            fresh = self._load()
        except (VecpressError, OSError) as err:
            self.refused = {"pointer": (pointer or b"").decode(errors="replace").strip(), "reason": str(err)}
            logger.error("refused the newly published run: %s; still serving run %s", err, self.index.run_id)
            return
        old, self.index = self.index, fresh  # one reference swap: requests keep the run they started with
        self.refused = None
        self.swaps += 1
        logger.info(
            "now serving run %s (was %s), loaded in %.1f s",
            fresh.run_id,
            old.run_id,
            time.perf_counter() - start,
        )

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad look at the output
                logger.exception("watching %s", self.output)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.batcher.close()


def check_listen(host: str, port: int) -> None:
    """Fail in one line, before the model loads, when ``host:port`` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise VecpressError(f"--host {host}: not an address this machine has ({err.strerror})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise VecpressError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Address:
    """Where the server listens, and the bearer token every route but /health needs (None: none)."""

    host: str
    port: int
    api_key: str | None = None


def run(output: str, address: Address, device: str = "auto", poll_s: float = 5.0, limits: Any = None) -> None:
    """Check the address, load the current run, then serve it until stopped (``limits``: a
    flows.limits.Limits)."""
    import uvicorn

    from flows import serve_api

    host, port, api_key = address.host, address.port, address.api_key
    check_listen(host, port)
    if api_key is None and not loopback(host):
        logger.warning(
            "listening on %s without a token: anyone who can reach this address can search the index "
            "and read its texts; set VECPRESS_API_KEY (or --api-key) to require one",
            host,
        )
    served = Served(output, device, poll_s)
    served.start()
    logger.info("serving run %s of %s on http://%s:%d%s", served.index.run_id, output, host, port,
                " (bearer token required)" if api_key else "")  # fmt: skip
    try:
        api = serve_api.app(served, limits, api_key)
        uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False)
    finally:
        served.stop()

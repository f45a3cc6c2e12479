"""Termination is not a failure: remember that SIGTERM arrived so that nothing retries the work it stopped.

A cancelled Prefect flow run, or a worker shutting down, ends the flow's process with SIGTERM. Prefect turns
that signal into an exception in the main thread, but whatever code the signal interrupts may catch it and
raise an ordinary error instead (Beam wraps what a pipeline raises), which Prefect would then retry,
embedding again from the start until the worker kills the process for good.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger(__name__)

_received: int | None = None


def received() -> int | None:
    """The termination signal this process got while a flow watched for it, if any."""
    return _received


@contextmanager
def watch_termination() -> Iterator[None]:
    """Record SIGTERM, then hand it to the handler that was there (Prefect's, which raises in the flow)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread; a flow run elsewhere is stopped by its runner
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        global _received
        _received = signum
        logger.warning("received signal %d: stopping; no stage will be retried", signum)
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

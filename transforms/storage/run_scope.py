"""What one run works out once and its stages share: while ``scope`` is open, values put here are kept, and
they are dropped when the last open scope closes. Outside a run (a server, a CLI command) nothing is kept,
so a long-lived process never holds a run's leftovers.

Used for facts a later stage would otherwise compute again from the same files: which files were already
checked against their records (transforms.storage.integrity) and which documents are unchanged since the
last run (transforms.embed.embeddings). A value is keyed by what it was computed from, so a changed input
is a new key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()
_open = 0
_kept: dict[Hashable, Any] = {}


@contextmanager
def scope() -> Iterator[None]:
    """The scope of one run (nested and concurrent runs share it until the last one ends)."""
    global _open
    with _LOCK:
        _open += 1
    try:
        yield
    finally:
        with _LOCK:
            _open -= 1
            if not _open:
                _kept.clear()


def active() -> bool:
    return _open > 0


def get(key: Hashable) -> Any:
    """What was put under ``key`` in the open scope, or None."""
    with _LOCK:
        return _kept.get(key) if _open else None


def put(key: Hashable, value: Any) -> None:
    """Keep ``value`` under ``key`` while the scope is open (nothing outside one)."""
    with _LOCK:
        if _open:
            _kept[key] = value


def once(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, worked out once per scope for ``key`` (every time outside one)."""
    found = get(key)
    if found is not None:
        return found
    value = compute()
    put(key, value)
    return value

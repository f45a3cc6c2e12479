"""What one `vecpress serve` request may ask (no heavy imports: the CLI shows these defaults in --help)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one request may ask; anything beyond is refused with 413 (too large) or 422 (not valid)."""

    queries: int = 64  # queries per request
    query_chars: int = 2000  # characters per query (the model reads 256 tokens at most anyway)
    body_bytes: int = 1 << 20  # request body
    k: int = 100  # hits per query
    candidates: int = 10_000  # k x rerank: candidates each shard is asked for per query (two tiers)

"""Stable document ids: a 63-bit row id and a shard number derived from a hash of the document id."""

from __future__ import annotations

import hashlib

import numpy as np


def row_id(doc_id: str) -> int:
    """Global int64 row id of a document: the first 63 bits of blake2b(doc_id), stable across runs."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


def row_ids(doc_ids: list[str]) -> np.ndarray:
    """``row_id`` of each document id, as an int64 array."""
    digests = b"".join(hashlib.blake2b(d.encode("utf-8"), digest_size=8).digest() for d in doc_ids)
    return (np.frombuffer(digests, ">u8") & np.uint64(0x7FFF_FFFF_FFFF_FFFF)).astype(np.int64)


def shard_of(row: int, shards: int) -> int:
    """Shard placement follows the row id, itself a stable hash of the document id."""
    return row % shards


def shard_of_array(rows: np.ndarray, shards: int) -> np.ndarray:
    """``shard_of`` for an array of row ids."""
    return np.asarray(rows, np.int64) % shards


def mix64(values: np.ndarray, seed: int) -> np.ndarray:
    """Seeded splitmix64 of int64 ids: a uniform, order-free priority for bottom-k sampling."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

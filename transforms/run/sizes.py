"""What an index really costs per vector: every byte of its files, not just the codes."""

from __future__ import annotations

from typing import Any

from transforms.codec import codec_files
from transforms.codec.info import CodecInfo
from transforms.storage import io
from transforms.storage.layout import RunLayout


def run_sizes(layout: RunLayout, info: CodecInfo, indexed: int) -> dict[str, Any]:
    """Bytes per vector of a run: the code alone; the index shards all told (codes, an IVF shard's ids and
    lists, and the codec copy every shard holds), which is what search holds in memory (a flat shard's ids
    stay in its id map, memory-mapped and read for the results only, from a checked local copy when the run
    is in an object store); the same less the codec copies; and for two tiers, the stored tier on disk
    (``stored_bytes``). Ratios are float32 bytes over each."""
    index_bytes = sum(io.size(u) for u in layout.shard_urls("index"))
    codec_bytes = io.size(io.join(layout.codec, codec_files.CODEC_INDEX))
    stored = stored_bytes(layout, info, indexed)
    n = max(1, indexed)
    float_bytes = 4 * info.dim
    return {
        "float32_bytes_per_vector": float_bytes,
        "code_bytes_per_vector": info.code_size,
        "index_bytes": index_bytes,
        "codec_bytes": codec_bytes,
        "index_bytes_per_vector": index_bytes / n,
        "list_bytes_per_vector": (index_bytes - layout.shards * codec_bytes) / n,
        "stored_bytes": stored,
        "stored_bytes_per_vector": stored / n,
        "compression_all_told": round(float_bytes * n / max(1, index_bytes), 2),
        "compression_code_only": round(float_bytes / max(1, info.code_size), 2),
    }


def stored_bytes(layout: RunLayout, info: CodecInfo, indexed: int) -> int:
    """Disk bytes of a two-tier run's stored tier (0 for one tier): its refine shards (each vector's row id
    and where its fine code is) and one fine code a vector, kept in the code files that runs share."""
    if not info.refine:
        return 0
    return sum(io.size(u) for u in layout.shard_urls("refine")) + indexed * info.refine_code_size

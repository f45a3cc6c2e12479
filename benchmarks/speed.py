"""Speed and memory of the encode and build stages against raw faiss, measured in the same run.

The raw baseline gets the vectors already in memory; vecpress's stages read embedding shards and write code
and index shards, as a real run does. Peak memory is measured in fresh processes on synthetic vectors drawn
from a Gaussian fitted to the real embeddings (mean and covariance), so only the streaming stages count.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from transforms import arrow_files, building, codec, encoding, schemas
from transforms.layout import RunLayout


def encode_and_build(
    trained: Any, info: codec.CodecInfo, embedding_urls: list[str], layout: RunLayout, quantizer: Any = None
) -> None:
    """vecpress's encode stage (with the stored tier's codes for two tiers) then its build stage over every
    shard, as the pipelines run them."""
    n = len(embedding_urls)
    for i, url in enumerate(embedding_urls):
        refine_url = layout.shard("refine", i, n)
        encoding.encode_shard(trained, info, url, layout.shard("codes", i, n), None, quantizer, refine_url)
    for i in range(n):
        building.build_shard(
            trained,
            info,
            layout.shard("codes", i, n),
            layout.shard("index", i, n),
            layout.shard("idmap", i, n),
        )


def encode_build_ratio(codec_url: str, embedding_urls: list[str]) -> dict[str, float]:
    """vectors/s of vecpress's encode + build stages over the shards, divided by raw sa_encode + add."""
    import faiss

    trained, info = codec.load(codec_url)
    quantizer = codec.load_refine(codec_url, info)
    tables = [arrow_files.read_table(u, ["row_id", "embedding"]) for u in embedding_urls]
    x = np.concatenate([arrow_files.vectors(t.column("embedding")) for t in tables])
    ids = np.concatenate([t.column("row_id").to_numpy() for t in tables])
    start = time.perf_counter()
    trained.sa_encode(x)
    if quantizer is not None:
        quantizer.sa_encode(x)
    raw_index = faiss.clone_index(trained)
    if codec.searchable_kind(trained) != "ivf":  # flat codes keep global ids under an id map
        raw_index = faiss.IndexIDMap(raw_index)
    raw_index.add_with_ids(x, ids)
    raw_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        layout = RunLayout(tmp, "bench")
        start = time.perf_counter()
        encode_and_build(trained, info, embedding_urls, layout, quantizer)
        vecpress_s = time.perf_counter() - start
    return {
        "vectors": len(x),
        "raw_s": round(raw_s, 3),
        "vecpress_s": round(vecpress_s, 3),
        "ratio": round(raw_s / vecpress_s, 3),
    }


def write_synthetic(
    folder: str, n: int, shards: int, mean: np.ndarray, cov: np.ndarray, seed: int = 0
) -> list[str]:
    """n unit-norm vectors from N(mean, cov), written as embedding shards in 50k-row batches."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(len(mean)))
    layout, urls = RunLayout(folder, "synthetic"), []
    per_shard = -(-n // shards)
    for s in range(shards):
        url = layout.shard("embeddings", s, shards)
        writer = arrow_files.BatchWriter(url, schemas.embeddings(len(mean), "synthetic"))
        start, stop = s * per_shard, min(n, (s + 1) * per_shard)
        for lo in range(start, stop, 50_000):
            hi = min(stop, lo + 50_000)
            v = (mean + rng.standard_normal((hi - lo, len(mean))) @ chol.T).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            rows = np.arange(lo, hi, dtype=np.int64)
            writer.write(
                pa.RecordBatch.from_arrays(
                    [
                        pa.array([str(r) for r in rows]),
                        pa.array(rows),
                        pa.nulls(hi - lo, pa.string()),
                        arrow_files.vector_array(v),
                    ],
                    schema=writer.schema,
                )
            )
        writer.close()
        urls.append(url)
    return urls


def _peak_child(codec_url: str, urls: list[str], folder: str) -> None:
    """Run in a fresh process: encode + build every shard, then print peak RSS in MiB."""
    trained, info = codec.load(codec_url)
    encode_and_build(trained, info, urls, RunLayout(folder, "synthetic"))
    print(json.dumps({"peak_rss_mib": _peak_rss_mib()}))


def _peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: a child started with fork + exec inherits
    the parent's high-water mark in ru_maxrss, and the benchmark parent holds the whole corpus."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss(codec_url: str, sample: np.ndarray, n: int, shards: int) -> float:
    """Peak RSS (MiB) of encode + build over n synthetic vectors, in a process that did nothing else."""
    mean, cov = sample.mean(axis=0), np.cov(sample, rowvar=False)
    with tempfile.TemporaryDirectory() as tmp:
        urls = write_synthetic(tmp, n, shards, mean, cov)
        code = (
            "import json,sys; from benchmarks.speed import _peak_child; "
            "a=json.loads(sys.argv[1]); _peak_child(a['codec'], a['urls'], a['dir'])"
        )
        args = json.dumps({"codec": codec_url, "urls": urls, "dir": tmp})
        out = subprocess.run([sys.executable, "-c", code, args], check=True, capture_output=True, text=True)
        return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def rss_growth(codec_url: str, sample: np.ndarray, small: int, large: int) -> dict[str, Any]:
    """Peak RSS at ``small`` and ``large`` vectors, with shards of the same size: streaming keeps it flat."""
    per_shard = small
    low = peak_rss(codec_url, sample, small, max(1, small // per_shard))
    high = peak_rss(codec_url, sample, large, max(1, large // per_shard))
    return {
        "small": small,
        "large": large,
        "peak_rss_mib_small": round(low, 1),
        "peak_rss_mib_large": round(high, 1),
        "growth": round(high / low, 3),
    }

"""The run report: one summary from the manifest, rendered as JSON, Markdown and a plot."""

from __future__ import annotations

from typing import Any

import numpy as np

from transforms.codec.info import CodecInfo
from transforms.planner.report import size_text
from transforms.run.manifest import Manifest
from transforms.storage import io
from transforms.storage.layout import RunLayout


def summary_rows(manifest: Manifest) -> list[tuple[str, str]]:
    """(label, value) pairs shown by ``vecpress run``, ``vecpress inspect`` and the Prefect artifact."""
    counts, codec, quality = manifest.counts, manifest.codec, manifest.evaluation
    timings, sizes = manifest.timings_s, manifest.sizes
    float_bytes = 4 * codec.dim

    def pct(x: float | None) -> str:
        return "n/a" if x is None or x != x else f"{100 * x:.2f}%"

    rows = [
        (
            "documents",  # how many the model embedded in this run, and how many were reused: "re-index"
            f"{counts.read} read, {counts.rejected} rejected, {counts.indexed} indexed",
        ),
        *[
            ("skipped file", f"{f['file']}: {f['reason']}")  # --on-bad-file skip; its rows are not counted
            for f in manifest.skipped_files
        ],
        *_reuse(manifest.reuse, manifest.reused),
        ("model", f"{codec.model} ({codec.dim}-d)"),
        (
            "codec",
            codec.factory
            + "".join(f" {k}={v}" for k, v in codec.params.items())
            + (f"  [{'; '.join(codec.reductions)}]" if codec.reductions else "")
            + (f"  [planned: {codec.plan['pick']['why']}]" if codec.plan else ""),
        ),
        (
            "bytes per vector",
            f"{sizes['index_bytes_per_vector']:.1f} in the index files all told (float32: {float_bytes}): "
            f"{sizes['list_bytes_per_vector']:.1f} of codes, ids and lists plus a "
            f"{size_text(sizes['codec_bytes'])} codec copy per shard; the code alone is {codec.code_size}"
            + over_budget(manifest),
        ),
        (
            "compression ratio",
            f"{_all_told(sizes, float_bytes):.1f}x all told (index files); "
            f"{float_bytes / codec.code_size:.1f}x counting the code alone",
        ),
        *_stored_tier(codec, sizes),
        (
            f"recall@{quality['k']} vs exact",
            f"{quality['recall_at_k']:.4f} over {quality['queries']} queries"
            + (f", nprobe {codec.nprobe}" if "IVF" in codec.factory else " (flat code index)")
            + (", ranked by unit-length reconstructions" if codec.unit_decode else "")
            + (", re-ranked from the stored tier" if codec.refine else "")
            + _unseen(quality),
        ),
    ]
    if quality.get("knn_accuracy_float") is not None:
        delta = 100 * (quality["knn_accuracy_index"] - quality["knn_accuracy_float"])
        rows.append(
            (
                f"kNN-{quality['k']} label accuracy",
                f"{pct(quality['knn_accuracy_float'])} float32 -> "
                f"{pct(quality['knn_accuracy_index'])} compressed "
                f"({delta:+.2f} pt)",
            )
        )
    rows.append(("wall time", ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())))
    rows.append(("outputs", RunLayout(manifest.output, manifest.run_id).root))
    return rows


def over_budget(manifest: Manifest) -> str:
    """A planned codec whose written bytes per vector exceed the plan's budget, said (never silently)."""
    budget = ((manifest.codec.plan or {}).get("goal") or {}).get("budget_bytes")
    written = manifest.sizes.get("index_bytes_per_vector", 0)
    if not budget or written <= budget:
        return ""
    return (
        f"; OVER the planned budget of {budget:g} B (the corpus is smaller than planned for, or more shards)"
    )


def _reuse(reuse: dict[str, Any] | None, stages: dict[str, str]) -> list[tuple[str, str]]:
    """What the run reused of earlier work, and how the corpus changed since the last published run
    (``stages``: the cached stages reused, by the run folder they came from)."""
    if not reuse:
        return []
    text = (
        f"{reuse['chunks_reused']} of {reuse['chunks']} chunks done before; {reuse['documents_embedded']} "
        f"documents embedded by the model in this run, {reuse['documents_reused']} reused"
    )
    if reuse.get("previous_run"):
        text += (
            f"; since run {reuse['previous_run']}: {reuse.get('new', 0)} new, {reuse.get('changed', 0)} "
            f"changed, {reuse.get('deleted', 0)} deleted"
        )
    kept = reuse.get("codec_kept")
    if "fit" in stages:  # the fit stage's cache: the same embeddings and settings as an earlier run
        text += f"; codec reused from {stages['fit'].rstrip('/').rsplit('/', 1)[-1]} (the same inputs)"
    elif kept:
        text += f"; codec kept from run {kept['from_run']} ({kept['why']})"
    else:
        text += (
            f"; codec trained ({reuse['codec_not_kept']})"
            if reuse.get("codec_not_kept")
            else "; codec trained"
        )
    if reuse.get("code_files_reused") or reuse.get("index_shards_reused"):
        text += (
            f"; {reuse.get('code_files_reused', 0)} code files and {reuse.get('index_shards_reused', 0)} "
            f"index shards reused ({reuse.get('code_files_encoded', 0)} vector files encoded)"
        )
    if "evaluate" in stages:
        run = stages["evaluate"].rstrip("/").rsplit("/", 1)[-1]
        text += f"; evaluation measured in run {run} (the same index and embeddings)"
    return [("re-index", text)]


def _unseen(quality: dict[str, Any]) -> str:
    """Recall on the documents the codec was not trained on, when there are any."""
    unseen = quality.get("unseen")
    if not unseen:
        return "; on the documents the codec never saw: none (it trained on all of them)"
    return (
        f"; on the {100 * unseen['share']:.1f}% of documents the codec never saw: "
        f"{unseen['recall_at_k']:.4f} ({unseen['queries']} queries among them)"
    )


def _all_told(sizes: dict[str, Any], float_bytes: int) -> float:
    return float_bytes / max(sizes["index_bytes_per_vector"], 1e-9)


def _stored_tier(codec: CodecInfo, sizes: dict[str, Any]) -> list[tuple[str, str]]:
    """The row describing a two-tier codec's stored tier (none for one tier)."""
    if not codec.refine:
        return []
    return [
        (
            "stored tier",
            f"{codec.refine} codes on disk, {sizes['stored_bytes_per_vector']:.1f} bytes per vector "
            f"({size_text(sizes['stored_bytes'])}), read only to re-rank {codec.rerank}x candidates",
        )
    ]


def markdown(manifest: Manifest) -> str:
    lines = [f"# vecpress run {manifest.run_id}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in summary_rows(manifest)]
    return "\n".join(lines) + "\n"


def plot(per_query_recall: np.ndarray, manifest: Manifest, url: str) -> None:
    """Histogram of per-query recall@k and the size of a vector before and after compression."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codec, k = manifest.codec, manifest.evaluation["k"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.hist(per_query_recall, bins=np.linspace(0, 1, k + 2), color="#3b6ea8", edgecolor="white")
    left.set(
        title=f"recall@{k} per query (mean {per_query_recall.mean():.3f})",
        xlabel=f"recall@{k}",
        ylabel="queries",
    )
    sizes = {
        "float32": 4 * codec.dim,
        "code": codec.code_size,
        "index list entry": manifest.sizes["list_bytes_per_vector"],
    }
    right.bar(list(sizes), list(sizes.values()), color=["#999999", "#3b6ea8", "#6fa0d8"])
    right.set(title="bytes per vector", yscale="log")
    for i, v in enumerate(sizes.values()):
        right.annotate(f"{v:.0f}", (i, v), ha="center", va="bottom")
    fig.suptitle(f"{codec.factory}  ({manifest.counts.indexed} vectors)")
    fig.tight_layout()
    with io.open_file(url, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)

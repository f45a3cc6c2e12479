"""A plan as files: plan.json, plan.md (every measured codec) and plan.png (quality against memory bytes)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from transforms.codec import codec
from transforms.planner.measure import Measurement
from transforms.planner.result import Plan, PlanSample
from transforms.storage import io


def _fmt(v: Any, spec: str) -> str:
    return "" if v is None else format(v, spec)


def size_text(n: int | None) -> str:
    """A size in bytes as kB or MB ("" when unknown)."""
    if not n:
        return ""
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def per_vector_text(x: float) -> str:
    """Bytes per vector for reading: whole bytes from 100 up (1,326), else 3 significant digits (0.837)."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def protocol(s: PlanSample) -> str:
    """How the sample was cut, in a sentence or two."""
    cut = f"{s.learn:,} vectors to train on, {s.base:,} others to index, {s.queries:,} queries"
    knn = (
        f" kNN accuracy is measured on the queries and {s.knn_probes - s.queries:,} indexed vectors, each "
        "left out in turn."
        if s.knn_probes > s.queries
        else ""
    )
    if s.knn_probes and s.base < s.corpus_rows:  # README: 20NG PQ24 loses -0.3 pt among 1k, 1.3 among 7.5k
        knn += (
            " kNN loss grows with the vectors searched, as neighbours crowd closer than the codes resolve: "
            f"measured among {s.base:,}, expect more among the corpus's {s.corpus_rows:,}."
        )
    if s.eight_bit_codebooks and s.learn < codec.EIGHT_BIT_POINTS:
        knn += (
            f" 8-bit codebooks train on the {s.learn:,} learn vectors, fewer than the "
            f"{codec.EIGHT_BIT_POINTS:,} faiss asks for and the run will give them: if anything, they "
            "measure worse here than they will be."
        )
    if s.out_of_sample:
        return (
            f"Out of sample: {cut}, all disjoint. The corpus ({s.corpus_rows:,} documents) is larger than "
            f"what the run trains on, so quality is measured on vectors the codec never saw.{knn}"
        )
    return (
        f"In sample: {cut}; codecs train on the vectors they index, because the run trains on its whole "
        f"corpus ({s.corpus_rows:,} documents) and the sample is that corpus.{knn}"
    )


def pick_text(plan: Plan) -> str:
    p, corpus_rows = plan.pick, plan.sample.corpus_rows
    tiers = (
        f"; a stored tier of {p.refine} codes ({p.stored_bytes_per_vector:g} bytes/vector on disk) "
        f"re-ranks {p.rerank}x candidates"
        if p.refine
        else ""
    )
    loss = (
        ""
        if p.knn_accuracy is None or plan.float_knn_accuracy is None
        else f", kNN-10 {p.knn_accuracy:.4f} (float32 {plan.float_knn_accuracy:.4f}, "
        f"{-(p.knn_loss_points or 0.0):+.2f} pt)"
    )
    return (
        f"**Pick: `{p.codec}`**, {per_vector_text(p.bytes_per_vector)} bytes/vector in memory "
        f"({p.compression}x): {p.code_bytes} code bytes plus the {size_text(p.codec_bytes)} codec "
        f"over {corpus_rows:,} documents (each index shard holds a copy: "
        f"{per_vector_text(p.codec_bytes / max(1, corpus_rows))} bytes per vector per shard){tiers}. "
        f"Recall@10 {p.recall_at_10:.3f}{loss}, {p.search_ms_per_query:.3f} ms/query. Why: {plan.why}."
    )


def markdown(plan: Plan) -> str:
    s = plan.sample
    goal = ", ".join(f"{k} {v}" for k, v in asdict(plan.goal).items() if v is not None)
    head = [
        f"# vecpress plan: {goal}",
        "",
        pick_text(plan),
        "",
        f"{protocol(s)} Seed {s.seed}; {len(plan.candidates)} measurements in {plan.elapsed_s} s. "
        f"Frontier ({plan.objective}): {', '.join(plan.frontier)}.",
        "",
        "Memory B/vec is real: code bytes, the 8-byte id an IVF list keeps beside each code, and the "
        "codec's bytes spread over the corpus. Stored B/vec is the second tier's fine codes and row ids on "
        "disk, read only to re-rank.",
        "",
        "| codec | memory B/vec | ratio | code B | codec size | stored B/vec | recall@10 | kNN-10 | Δ pt "
        "| train s | encode vec/s | search ms/q |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    front = set(plan.frontier)
    for r in sorted(plan.candidates, key=lambda r: (r.bytes_per_vector, -r.recall_at_10)):
        name = f"**{r.codec}**" if r.codec == plan.pick.codec else r.codec
        name += " ◆" if r.codec in front else ""
        loss = None if r.knn_loss_points is None else 0.0 - r.knn_loss_points
        stored = per_vector_text(r.stored_bytes_per_vector) if r.refine else ""
        head.append(
            f"| {name} | {per_vector_text(r.bytes_per_vector)} | {r.compression}x | "
            f"{r.code_bytes} | {size_text(r.codec_bytes)} | {stored} | {r.recall_at_10:.3f} | "
            f"{_fmt(r.knn_accuracy, '.4f')} | {_fmt(loss, '+.2f')} | {r.train_s:.1f} | "
            f"{r.encode_vectors_per_s:,} | {r.search_ms_per_query:.3f} |"
        )
    skipped = [f"- {s.codec}: {s.reason}" for s in plan.skipped]
    tail = ["", "◆ on the frontier (memory bytes against quality)."]
    if any(r.unit_decode for r in plan.candidates):
        tail.append(
            "unit-decoded: the same codes, searched by cosine to each reconstruction scaled to unit length "
            "(the sample's embeddings are unit-norm, so a reconstruction's length is only error)."
        )
    if any(r.refine for r in plan.candidates):
        tail.append(
            "`+ SQ8 x4`: two tiers; the in-memory codes find 4x the candidates, their SQ8 codes (stored "
            "beside the index) re-rank them by exact distance."
        )
    tail += ["", "Not measured:", *skipped] if skipped else []
    return "\n".join(head + tail) + "\n"


def plot(plan: Plan, url: str) -> None:
    """Quality against memory bytes per vector (log scale): every measurement (two tiers hollow), the
    frontier, the pick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = plan.objective
    rows = plan.candidates
    front = sorted((r for r in rows if r.codec in set(plan.frontier)), key=lambda r: r.bytes_per_vector)
    fig, ax = plt.subplots(figsize=(9, 5.5))
    families = sorted({r.family for r in rows})
    cmap = plt.get_cmap("tab20")
    for i, fam in enumerate(families):
        for two in (False, True):
            pts = [r for r in rows if r.family == fam and bool(r.refine) == two]
            if pts:
                ax.scatter(
                    [r.bytes_per_vector for r in pts], [_quality(r, key) for r in pts], s=22,
                    facecolors="none" if two else cmap(i), edgecolors=cmap(i),
                    label=f"{fam}{' + stored tier' if two else ''}",
                )  # fmt: skip
    ax.step(
        [r.bytes_per_vector for r in front],
        [_quality(r, key) for r in front],
        where="post",
        color="#333",
        lw=1,
    )
    p = plan.pick
    ax.scatter(
        [p.bytes_per_vector], [_quality(p, key)], marker="*", s=260, color="#d62728", zorder=5, label="pick"
    )
    ax.annotate(p.codec, (p.bytes_per_vector, _quality(p, key)), xytext=(6, -12), textcoords="offset points")
    if key == "knn_accuracy" and plan.float_knn_accuracy is not None:
        ax.axhline(plan.float_knn_accuracy, color="#444", ls="--", lw=0.8, label="float32")
    ax.set(xscale="log", xlabel="memory bytes per vector, codec included (log)", ylabel=key.replace("_", " "))
    ax.set_title("vecpress plan: quality per byte (line: frontier; hollow: two tiers)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    with io.open_file(url, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def _quality(r: Measurement, key: str) -> float:
    return float(getattr(r, key))


def write(plan: Plan, folder: str) -> None:
    io.write_json(io.join(folder, "plan.json"), plan.to_json())
    io.write_bytes(io.join(folder, "plan.md"), markdown(plan).encode())
    plot(plan, io.join(folder, "plan.png"))

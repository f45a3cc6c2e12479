"""A plan as files: plan.json, plan.md (every measured codec) and plan.png (quality against bytes)."""

from __future__ import annotations

from typing import Any

from transforms import codec, io


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


def _training(s: dict[str, Any]) -> str:
    """Why codecs were not trained on the whole database, if they were not, and how recall counts that."""
    held, share = s.get("held_out", 0), s.get("trained_share", 1.0)
    rest = s["database"] - held
    parts = []
    if held:
        parts.append(
            f"{held} database vectors held out of training: the run trains on {100 * share:.1f}% "
            "of the corpus"
        )
    if s["train"] < rest:
        parts.append(f"a seeded sub-sample of the {rest} {'others' if held else 'database vectors'}")
    if not parts:
        return ""
    return (
        f" ({'; '.join(parts)}; recall@10 weighs neighbours the codec was and was not trained on as "
        f"{100 * share:.1f}% and {100 * (1 - share):.1f}%)"
    )


def _codec_size(p: dict[str, Any], s: dict[str, Any]) -> list[str]:
    """What the pick's codec adds to every index shard (nothing for plans made before it was measured)."""
    if not p.get("codec_bytes"):
        return []
    rows = s.get("corpus_rows") or s["database"]
    return [
        f"The codec itself (codebooks, rotations, coarse quantizer) is {size_text(p['codec_bytes'])} and "
        f"every index shard holds a copy: over {rows:,} documents, "
        f"{per_vector_text(p['codec_bytes'] / rows)} bytes per vector per shard beside the "
        f"{p['bytes_per_vector']} code bytes (bytes/vec counts codes only).",
        "",
    ]


def markdown(plan: dict[str, Any]) -> str:
    p, s = plan["pick"], plan["sample"]
    goal = ", ".join(f"{k} {v}" for k, v in plan["goal"].items() if v is not None)
    head = [
        f"# vecpress plan: {goal}",
        "",
        f"**Pick: `{p['codec']}`**, {p['bytes_per_vector']} bytes/vector ({p['compression']}x), recall@10 "
        f"{p['recall_at_10']:.3f}"
        + (
            ""
            if p["knn_accuracy"] is None
            else f", kNN-10 {p['knn_accuracy']:.4f} (float32 {p['float_knn_accuracy']:.4f}, "
            f"{-p['knn_loss_points']:+.2f} pt)"
        )
        + f", {p['search_ms_per_query']:.3f} ms/query. Why: {p['why']}.",
        "",
        f"Sample: {s['database']} database vectors ({s['dim']}-d), {s['queries']} held-out queries, codecs "
        f"trained on {s['train']}{_training(s)}, seed {s['seed']}; "
        f"{len(plan['candidates'])} measurements in "
        f"{plan['elapsed_s']} s. Frontier ({plan['objective']}): {', '.join(plan['frontier'])}.",
        "",
        *_codec_size(p, s),
        "| codec | bytes/vec | ratio | codec size | recall@10 | kNN-10 | Δ pt | train s | encode vec/s "
        "| search ms/q |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    front = set(plan["frontier"])
    for r in sorted(plan["candidates"], key=lambda r: (r["bytes_per_vector"], -r["recall_at_10"])):
        name = f"**{r['codec']}**" if r["codec"] == p["codec"] else r["codec"]
        name += " ◆" if r["codec"] in front else ""
        loss = None if r["knn_loss_points"] is None else 0.0 - r["knn_loss_points"]
        head.append(
            f"| {name} | {r['bytes_per_vector']} | {r['compression']}x | "
            f"{size_text(r.get('codec_bytes'))} | {r['recall_at_10']:.3f} | "
            f"{_fmt(r['knn_accuracy'], '.4f')} | {_fmt(loss, '+.2f')} | {r['train_s']:.1f} | "
            f"{r['encode_vectors_per_s']:,} | {r['search_ms_per_query']:.3f} |"
        )
    skipped = [f"- {s['codec']}: {s['reason']}" for s in plan["skipped"]]
    tail = ["", "◆ on the frontier."]
    if any(r.get("unit_decode") for r in plan["candidates"]):
        tail.append(
            "unit-decoded: the same codes, searched by cosine to each reconstruction scaled to unit length "
            "(the sample's embeddings are unit-norm, so a reconstruction's length is only error)."
        )
    wide = next((r for r in plan["candidates"] if r["family"] == "rq-wide"), None)
    if wide is not None:
        per = wide["params"][codec.SPARSE_PARAM]
        tail.append(
            f"RQ1x… {codec.SPARSE_PARAM}={per}: residual quantization with a wide first codebook, trained "
            f"at {per} vectors per centroid (faiss asks {codec.MIN_POINTS_PER_CENTROID}). It partly "
            "memorises its training vectors, which here are the corpus the run indexes; documents it was not "
            "trained on (added before the next re-index) would be encoded worse than by plain RQ."
        )
    tail += ["", "Not measured:", *skipped] if skipped else []
    return "\n".join(head + tail) + "\n"


def plot(plan: dict[str, Any], url: str) -> None:
    """Quality against bytes per vector (log scale): every measurement, the frontier, the pick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = plan["objective"]
    rows = plan["candidates"]
    front = [r for r in rows if r["codec"] in set(plan["frontier"])]
    front.sort(key=lambda r: r["bytes_per_vector"])
    fig, ax = plt.subplots(figsize=(9, 5.5))
    families = sorted({r["family"] for r in rows})
    cmap = plt.get_cmap("tab20")
    for i, fam in enumerate(families):
        pts = [r for r in rows if r["family"] == fam]
        ax.scatter(
            [r["bytes_per_vector"] for r in pts], [r[key] for r in pts], s=22, color=cmap(i), label=fam
        )
    ax.step([r["bytes_per_vector"] for r in front], [r[key] for r in front], where="post", color="#333", lw=1)
    p = plan["pick"]
    ax.scatter([p["bytes_per_vector"]], [p[key]], marker="*", s=260, color="#d62728", zorder=5, label="pick")
    ax.annotate(p["codec"], (p["bytes_per_vector"], p[key]), xytext=(6, -12), textcoords="offset points")
    if key == "knn_accuracy" and plan["float_knn_accuracy"] is not None:
        ax.axhline(plan["float_knn_accuracy"], color="#444", ls="--", lw=0.8, label="float32")
    ax.set(xscale="log", xlabel="bytes per vector (log)", ylabel=key.replace("_", " "))
    ax.set_title("vecpress plan: quality per byte (line: frontier)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    with io.open_file(url, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def write(plan: dict[str, Any], folder: str) -> None:
    io.write_json(io.join(folder, "plan.json"), plan)
    io.write_bytes(io.join(folder, "plan.md"), markdown(plan).encode())
    plot(plan, io.join(folder, "plan.png"))

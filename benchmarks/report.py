"""Benchmark results as JSON, a Markdown table and plots of quality against bytes per vector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transforms.planner.report import size_text

# The reference point: 768-d BERT sentence embeddings squeezed 45x (to 548 bits) for -1.05 kNN points on IMDB.
REFERENCE_RATIO, REFERENCE_LOSS = 45.0, -1.05


def _fmt(v: Any, spec: str) -> str:
    return "" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    """One row per measurement. "codec size" is the trained codec (codebooks, transforms, coarse quantizer)
    that every index shard holds beside the codes; bytes/vec counts the codes only."""
    lines = [
        "| codec | bytes/vec | ratio | codec size | kNN-10 | Δ pt | recall@10 | train s | encode vec/s "
        "| search ms/q |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"**{r['codec']}**" if r.get("from_pipeline") else r["codec"]
        lines.append(
            f"| {name} | {r['bytes_per_vector']:.0f} | {r['compression']:.1f}x | "
            f"{size_text(r.get('codec_bytes'))} | {r['knn_accuracy']:.4f} | "
            f"{r['knn_delta_points']:+.2f} | {r['recall_at_10']:.3f} | {_fmt(r['train_s'], '.1f')} | "
            f"{_fmt(r['encode_vectors_per_s'], ',')} | {_fmt(r['search_ms_per_query'], '.3f')} |"
        )
    return "\n".join(lines) + "\n"


def _pipeline_speed(p: dict[str, Any]) -> str:
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in p["raw_steps_s"].items())
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in p["vecpress_stages_s"].items())
    return (
        f"\n`vecpress run` on {p['documents']:,} train posts ({p['model']}, max_seq_length "
        f"{p['max_seq_length']}, batch {p['batch_size']}, {p['threads']} threads, codec {p['codec']}): "
        f"{p['vecpress_wall_s']:.1f} s wall (stages: {stages}). Raw steps in one fresh process: {steps}; "
        f"sum {p['raw_sum_s']:.1f} s. Embed: vecpress {p['embed_docs_per_s']['vecpress']} docs/s, raw "
        f"`SentenceTransformer.encode` loop {p['embed_docs_per_s']['raw']} docs/s (model load included "
        "in both).\n"
    )


def planner_table(results: dict[str, Any]) -> str:
    """At each budget: the best plain faiss preset measured here (by recall@10), the best preset searched
    unit-decoded, and the planner's pick, all measured alike on the database / query splits (the pick from
    its published index shards)."""
    plan = results["planner"]
    measured = [r for r in results.get("rows", []) + plan["presets"] if not r.get("from_pipeline")]
    plain = [r for r in measured if not r["codec"].endswith(" unit-decoded")]
    unit = [r for r in measured if r["codec"].endswith(" unit-decoded")]
    lines = [
        f"\nPlanner (`vecpress run --codec auto --budget-bytes B`, {plan['time_budget_s']:.0f} s of "
        "measuring per plan on the database split; pick measured from its published index):\n",
        "| bytes/vec | ratio | best plain faiss | kNN-10 Δ | recall@10 | best preset, unit-decoded | "
        "kNN-10 Δ | recall@10 | vecpress plan pick | kNN-10 Δ | recall@10 | run s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def best_cells(rows: list[dict[str, Any]], budget: int) -> str:
        same = [r for r in rows if r["bytes_per_vector"] == budget]
        if not same:
            return "| – | | "
        best = max(same, key=lambda r: r["recall_at_10"])
        return f"| {best['codec']} | {best['knn_delta_points']:+.2f} | {best['recall_at_10']:.3f} "

    for pick in plan["picks"]:
        budget = pick["budget_bytes"]
        base = best_cells(plain, budget) + best_cells(unit, budget)
        name = pick["codec"].split(":", 1)[1].strip()
        lines.append(
            f"| {budget} | {pick['compression'] * pick['bytes_per_vector'] / budget:.0f}x {base}| **{name}** "
            f"({pick['bytes_per_vector']:.0f} B) | {pick['knn_delta_points']:+.2f} | "
            f"{pick['recall_at_10']:.3f} | {pick['run_s']:.0f} |"
        )
    sizes = [f"{p['codec'].split(':', 1)[1].strip()} {size_text(p['codec_bytes'])}" for p in plan["picks"]
             if p.get("codec_bytes")]  # fmt: skip
    if sizes:
        lines.append(
            "\nThe picks' codecs (every index shard holds one beside its codes): " + ", ".join(sizes) + "."
        )
    return "\n".join(lines) + "\n"


def markdown(results: dict[str, Any]) -> str:
    head = (
        ""
        if "rows" not in results
        else (
            f"Database: {results['database']} documents ({results['corpus']} train split), queries: "
            f"{results['queries']} (test split), model {results['model']} ({results['dim']}-d). "
            f"float32 kNN-10 accuracy {results['float_knn']:.4f}.\n\n"
        )
    )
    parts = [head, table(results["rows"])] if "rows" in results else []
    subset = results.get("subset", {})
    for e in subset.get("experiments", []):
        parts.append(
            f"\nSubset ({subset['database']:,} train posts as the database, {subset['queries']:,} test posts "
            f"as queries, seeded, max_seq_length {subset['max_seq_length']}): model {e['model']} "
            f"({e['dim']}-d), float32 kNN-10 accuracy {e['float_knn']:.4f}.\n\n"
        )
        parts.append(table(e["rows"]))
    if results.get("planner"):
        parts.append(planner_table(results))
    if "ratios" in results:
        parts.append("\nRatios (same run):\n")
        parts.append("".join(f"- `{k}`: {v}\n" for k, v in results["ratios"].items()))
    speed = results.get("speed", {})
    if speed:
        eb, rss = speed["encode_build"], speed["rss"]
        parts.append(
            f"\nencode + build of {eb['vectors']} vectors: raw faiss {eb['raw_s']} s, vecpress stages "
            f"{eb['vecpress_s']} s (reading and writing Arrow shards included). Peak RSS of encode + build: "
            f"{rss['peak_rss_mib_small']} MiB at {rss['small']:,} vectors, "
            f"{rss['peak_rss_mib_large']} MiB at {rss['large']:,}.\n"
        )
        parts.append(_pipeline_speed(speed["pipeline"]))
    return "".join(parts)


def plot(experiment: dict[str, Any], title: str, path: Path) -> None:
    """kNN accuracy and recall@10 against bytes per vector (log scale), with the 45x reference marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = experiment["rows"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, key, name in (
        (axes[0], "knn_accuracy", "kNN-10 label accuracy"),
        (axes[1], "recall_at_10", "recall@10 vs exact float"),
    ):
        for r in rows:
            colour = (
                "#d62728"
                if r.get("from_pipeline")
                else ("#444444" if r["codec"].startswith("float") else "#1f77b4")
            )
            ax.scatter(r["bytes_per_vector"], r[key], color=colour, s=28, zorder=3)
            ax.annotate(
                r["codec"].replace(" nprobe=", "/"),
                (r["bytes_per_vector"], r[key]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.set(xscale="log", xlabel="bytes per vector (log)", title=name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].axhline(experiment["float_knn"], color="#444444", lw=0.8, ls="--", label="float32")
    ref_bytes = 4 * experiment["dim"] / REFERENCE_RATIO
    axes[0].scatter(
        [ref_bytes],
        [experiment["float_knn"] + REFERENCE_LOSS / 100],
        marker="*",
        s=160,
        color="#ff7f0e",
        zorder=4,
        label="548-bit BERT reference: 45x, -1.05 pt",
    )
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{title}: quality per byte (red: vecpress's published index)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "results.md").write_text(markdown(results))
    if "rows" not in results:  # a partial run (--parts) into a fresh folder: the JSON and Markdown only
        return
    plan = results.get("planner") or {"picks": [], "presets": []}
    everything = {**results, "rows": results["rows"] + plan["presets"] + plan["picks"]}
    plot(everything, f"{results['corpus']} / {results['model']}", folder / "quality_per_byte.png")
    subset = results.get("subset", {})
    for e in subset.get("experiments", []):
        name = e["model"].replace(":", "-").replace("/", "-")
        title = f"{subset['database']:,}-post subset / {e['model']}"
        plot(e, title, folder / f"quality_per_byte_subset_{name}.png")

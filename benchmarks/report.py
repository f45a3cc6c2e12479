"""Benchmark results as JSON, a Markdown table and plots of quality against bytes per vector.

Over 300 lines on purpose: one section writer per benchmark part, each short, all rendering the one
results.json into the one results.md that the README links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import nightly_scale
from benchmarks.backends import MAX_LOSS as MAX_EMBED_LOSS
from benchmarks.backends import SPEED_GOAL as EMBED_SPEED_GOAL
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


def oos_table(rows: list[dict[str, Any]]) -> str:
    """Out-of-sample rows in real memory bytes (codec spread over the corpus), stored bytes for two tiers."""
    lines = [
        "| codec | memory B/vec | ratio | code B | codec size | stored B/vec | recall@10 | kNN-10 Δ pt "
        "| search ms/q |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["bytes_per_vector"], -r["recall_at_10"])):
        stored = f"{r['stored_bytes_per_vector']:.0f}" if r.get("refine") else ""
        loss = None if r["knn_loss_points"] is None else -r["knn_loss_points"]
        lines.append(
            f"| {r['codec']} | {r['bytes_per_vector']:.2f} | {r['compression']:.1f}x | {r['code_bytes']} | "
            f"{size_text(r['codec_bytes'])} | {stored} | {r['recall_at_10']:.3f} | {_fmt(loss, '+.2f')} | "
            f"{r['search_ms_per_query']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _goal_text(goal: dict[str, Any]) -> str:
    if "max_loss_points" in goal:
        return f"fewest bytes within {goal['max_loss_points']} pt kNN-10 loss"
    two = (
        f" memory + {goal['stored_budget_bytes']:g} B stored"
        if "stored_budget_bytes" in goal
        else " (one tier)"
    )
    return f"≤ {goal['budget_bytes']:g} B{two}"


def _probes_text(proto: dict[str, Any]) -> str:
    """Where kNN accuracy (and so the loss) was measured, when not on the queries alone."""
    probes = proto.get("knn_probes")
    if not probes or probes == proto["queries"]:
        return ""
    return (
        f"Recall is measured on the queries; kNN-10 accuracy on all {probes:,} test documents: the queries, "
        "and each base document left out in turn (classified by its 10 nearest others). "
    )


def oos_section(oos: dict[str, Any]) -> str:
    """The headline: per corpus, the goals with vecpress's picks, then every measured row."""
    parts = []
    for corpus, r in oos["corpora"].items():
        proto = r["protocol"]
        parts.append(
            f"\n### {corpus}, out of sample\n\nCodecs learn on the {proto['learn']:,} train documents; "
            f"the test split less {proto['queries']:,} seeded queries ({proto['base']:,} documents) is what "
            "they encode and search (embedded by torch fp32, max_seq_length "
            f"{oos.get('max_seq_length', 128)}). "
            f"{_probes_text(proto)}float32 kNN-10 accuracy {proto['float_knn']:.4f}. Memory bytes are "
            f"real for a corpus of {proto['corpus_rows']:,} documents: code bytes plus the codec's bytes "
            "spread over it, plus 8 bytes of id a vector for IVF codecs (a flat index keeps none: its "
            "positions map to row ids through the id map on disk). vecpress's picks are planned on the "
            "train split alone (`vecpress plan`, "
            f"{proto.get('plan_time_budget_s', 600):.0f} s per plan), then trained on it and measured "
            "here.\n\n"
            "| goal | vecpress pick | memory B | stored B | recall@10 | kNN-10 Δ pt | plain faiss at that "
            "size (code bytes) | recall@10 | kNN-10 Δ pt |\n|---|---|---|---|---|---|---|---|---|\n"
        )
        for g in r["goals"]:
            stored = f"{g['stored_bytes']:.0f}" if g["stored_bytes"] else ""
            loss = None if g["knn_loss_points"] is None else -g["knn_loss_points"]
            base_loss = None if g["baseline_knn_loss_points"] is None else -g["baseline_knn_loss_points"]
            parts.append(
                f"| {_goal_text(g['goal'])} | {g['pick']} | {g['memory_bytes']:.2f} | {stored} | "
                f"{g['recall_at_10']:.3f} | {_fmt(loss, '+.2f')} | {g['baseline'] or '–'} | "
                f"{_fmt(g['baseline_recall_at_10'], '.3f')} | {_fmt(base_loss, '+.2f')} |\n"
            )
        for p in r["picks"]:
            if "error" in p:
                parts.append(f"\nNo pick for {_goal_text(p['goal'])}: {p['error']}\n")
        if r.get("at_scale"):
            s = r["at_scale"]
            parts.append(
                f"\nAt scale: {s['pick']} built the run's way over {s['vectors']:,} vectors fitted to these "
                f"embeddings ({s['shards']} shards): {s['index_bytes_per_vector']:.2f} bytes per vector in "
                f"the index files, {s['stored_bytes_per_vector']:.2f} stored; "
                f"**{s['compression_all_told']:.1f}x all told**.\n"
            )
        parts.append(
            "\nEvery measurement:\n\n" + oos_table(r["rows"] + [p for p in r["picks"] if "error" not in p])
        )
    return "".join(parts)


def ceiling_section(c: dict[str, Any], oos: dict[str, Any] | None) -> str:
    """Per corpus and code size: faiss's strongest quantizers (codebooks not counted), beside vecpress's
    one-tier pick at that budget."""
    parts = []
    for corpus, rows in c["corpora"].items():
        head = f"\n### {corpus}: the best out-of-sample recall@10 at each code size\n\n"
        parts.append(head + best_by_size(rows))
        picks = {
            p["goal"]["budget_bytes"]: p
            for p in ((oos or {}).get("corpora", {}).get(corpus, {}).get("picks", []))
            if "error" not in p and p["goal"].get("budget_bytes") and not p.get("refine")
        }
        for size in sorted({r["size"] for r in rows}, reverse=True):
            here = [r for r in rows if r["size"] == size]
            pick = picks.get(size)
            said = (
                ""
                if pick is None
                else f" vecpress's one-tier pick within {size} real bytes: {pick['codec']}, recall@10 "
                f"{pick['recall_at_10']:.3f}."
            )
            parts.append(
                f"\n### {corpus}, {size} code bytes per vector\n\nOut of sample as above, the codebooks not "
                f"counted against the code (memory B shows them spread over {c['corpus_rows']:,} rows); "
                f"'in sample' codecs trained on the base too; 'score-aware' codes chosen under ScaNN's "
                f"anisotropic loss with the parallel error weighted eta times.{said}\n\n" + oos_table(here)
            )
    return "".join(parts)


def best_by_size(rows: list[dict[str, Any]]) -> str:
    """One line per code size: the best recall@10 of the codecs that did not train on the base."""
    lines = ["| code B | best recall@10 | codec | kNN-10 Δ pt |", "|---|---|---|---|"]
    for size in sorted({r["size"] for r in rows}):
        fair = [r for r in rows if r["size"] == size and not r["in_sample"]]
        if fair:
            b = max(fair, key=lambda r: r["recall_at_10"])
            loss = "" if b.get("knn_loss_points") is None else f"{-b['knn_loss_points']:+.2f}"
            lines.append(f"| {size} | {b['recall_at_10']:.3f} | {b['codec']} | {loss} |")
    return "\n".join(lines) + "\n"


def plot_oos(corpus: str, r: dict[str, Any], path: Path) -> None:
    """Recall@10 against real memory bytes per vector (log): presets, two tiers hollow, picks starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    for row in r["rows"]:
        two = bool(row.get("refine"))
        ax.scatter(
            row["bytes_per_vector"], row["recall_at_10"], s=26, zorder=3,
            facecolors="none" if two else "#1f77b4", edgecolors="#2ca02c" if two else "#1f77b4",
        )  # fmt: skip
    for p in r["picks"]:
        if "error" in p:
            continue
        two = bool(p.get("refine"))
        ax.scatter(p["bytes_per_vector"], p["recall_at_10"], marker="*", s=220, zorder=4,
                   color="#2ca02c" if two else "#d62728")  # fmt: skip
        ax.annotate(p["codec"], (p["bytes_per_vector"], p["recall_at_10"]), fontsize=7, xytext=(4, -10),
                    textcoords="offset points")  # fmt: skip
    ax.scatter([], [], color="#1f77b4", s=26, label="one tier (faiss presets, RaBitQ)")
    ax.scatter(
        [], [], facecolors="none", edgecolors="#2ca02c", s=26, label="two tiers: memory + stored re-rank"
    )
    ax.scatter([], [], marker="*", color="#d62728", s=120, label="vecpress pick, one tier")
    ax.scatter([], [], marker="*", color="#2ca02c", s=120, label="vecpress pick, two tiers")
    ax.set(
        xscale="log",
        xlabel="memory bytes per vector, codec included (log)",
        ylabel="recall@10 vs exact float",
    )
    ax.set_title(f"{corpus}, out of sample: quality per byte of memory")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def serve_section(sv: dict[str, Any]) -> str:
    """`vecpress serve` under load: one row per number of concurrent clients, then the swap."""
    c, ip, sw = sv["codec"], sv["in_process"], sv["swap"]
    lines = [
        f"\n`vecpress serve` on 127.0.0.1 ({sv['documents']:,} documents, {c['factory']}"
        f"{' + ' + c['refine'] + ' x' + str(c['rerank']) if c.get('refine') else ''}, {c['model']}, k="
        f"{sv['k']}, one query per request, ids and scores; started in {sv['startup_s']} s). Every "
        "answer is checked against the same query's answer from a lone client in the same run; queries/s "
        f"counts correct answers only. In-process search of the same queries (embed + search, no HTTP): p50 "
        f"{ip['p50_ms']} ms, p99 {ip['p99_ms']} ms.\n\n"
        "| clients | requests | correct | wrong | errors | queries/s | p50 ms | p99 ms |\n"
        "|---|---|---|---|---|---|---|---|\n",
    ]
    for row in sv["load"]:
        lines.append(
            f"| {row['clients']} | {row['requests']} | {row.get('correct', '')} | {row.get('wrong', '')} | "
            f"{row.get('errors', '')} | {row['queries_per_s']} | {row['p50_ms']} | {row['p99_ms']} |\n"
        )
    lines.append(
        f"\nA re-run published a new run while it served: it answered from the new run "
        f"{sw['publish_to_serving_s']} s after the publish (loaded and verified in full first), and that "
        f"run's first query took {sw['first_query_ms']} ms ({sw['first_query_vs_p50']}x the 1-client p50).\n"
    )
    return "".join(lines)


def nights_section(nt: dict[str, Any]) -> str:
    """The soak: one row per night, then the ratios."""
    lines = [
        f"\n{nt['nights']} nights of `vecpress run` on one output ({nt['documents']:,} documents at first, "
        f"--keep-runs {nt['keep_runs']}): each night 1% changed, 0.5% new, 0.5% deleted over every file, but "
        "one night unchanged and one with a module of the embed stage moved. Exact: the index holds every "
        "document of the corpus once and nothing else; verified: `vecpress verify` passes.\n\n"
        "| night | kind | changed | new | deleted | embedded | indexed | exact | verified | disk MB "
        "| wall s |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    ]
    for r in nt["rows"]:
        lines.append(
            f"| {r['night']} | {r['kind']} | {r.get('changed', '')} | {r.get('new', '')} | "
            f"{r.get('deleted', '')} | {r['embedded']} | {r['indexed']} | {r['exact']} | {r['verified']} | "
            f"{r['disk_bytes'] / 1e6:.1f} | {r['wall_s']} |\n"
        )
    lines.append(
        f"\nDisk after the last night: {nt['disk_30_nights_vs_one_full']}x the output after the first; "
        f"documents embedded again on the moved-code night: {nt['reembedded_on_code_move']}, on the "
        f"unchanged night: {nt['reembedded_unchanged']}.\n"
    )
    return "".join(lines)


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
    parts = []
    if results.get("out_of_sample"):
        parts.append("## Out of sample (the headline)\n" + oos_section(results["out_of_sample"]))
    if results.get("ceiling"):
        parts.append(
            "\n## The one-tier goals against faiss's strongest quantizers\n"
            + ceiling_section(results["ceiling"], results.get("out_of_sample"))
        )
    if "rows" in results:
        parts += [
            "\n## In sample (codecs trained on the database they index)\n\n",
            head,
            table(results["rows"]),
        ]
    subset = results.get("subset", {})
    for e in subset.get("experiments", []):
        parts.append(
            f"\nSubset ({subset['database']:,} train posts as the database, {subset['queries']:,} test posts "
            f"as queries, seeded, max_seq_length {subset['max_seq_length']}): model {e['model']} "
            f"({e['dim']}-d), float32 kNN-10 accuracy {e['float_knn']:.4f}.\n\n"
        )
        parts.append(table(e["rows"]))
    if results.get("scale"):
        sc = results["scale"]
        runs = [v for v in sc.values() if isinstance(v, dict)]
        parts.append(
            "\nScale: a whole `vecpress run` (fake:384, 12-word documents, 4 shards, the default codec) "
            + "; ".join(
                f"{r['documents']:,} documents: {r['wall_s']} s, peak RSS {r['peak_rss_mib']} MiB"
                + (f" ({r['peak_anonymous_mib']} MiB anonymous)" if "peak_anonymous_mib" in r else "")
                for r in runs
            )
            + f". Peak RSS grows {sc['rss_growth']}x for 10x the documents"
            + (f", its anonymous part {sc['anonymous_growth']}x" if "anonymous_growth" in sc else "")
            + f"; time per document {sc['time_per_doc_growth']}x.\n"
        )
    if results.get("backends"):
        b = results["backends"]
        parts.append(
            f"\nBackends ({b['model']}, max_seq_length {b['max_seq_length']}; speed on {b['speed_docs']:,} "
            f"posts, quality with {b['database']:,} train posts as the database and {b['queries']:,} test "
            "posts as queries, against torch fp32's neighbours):\n\n| variant | docs/s | vs torch fp32 | "
            "recall@10 vs fp32 | kNN-10 | Δ pt |\n|---|---|---|---|---|---|\n"
        )
        for r in b["rows"]:
            parts.append(
                f"| {r['variant']} | {r['docs_per_s']} | {r['speed_vs_torch_fp32']}x | "
                f"{_fmt(r.get('recall_at_10_vs_fp32'), '.3f')} | {_fmt(r.get('knn_accuracy'), '.4f')} | "
                f"{_fmt(r.get('knn_change_points'), '+.2f')} |\n"
            )
        parts.append(
            f"\nFastest CPU path within 0.5 pt of kNN-10: {b['best_cpu'] or 'none'} "
            f"({b['embed_speedup_best_cpu']}x).\n"
        )
    if results.get("incremental"):
        inc = results["incremental"]
        c, full, new = inc["churn"], inc["full"], inc["incremental"]
        parts.append(
            f"\nIncremental re-index ({c['documents']:,} posts in 10 files; then {c['changed']} changed, "
            f"{c['new']} new, {c['deleted']} deleted, in {inc['files_changed']} files): full run "
            f"{full['wall_s']} s (embed {full['stages_s']['embed']} s), nightly run {new['wall_s']} s (embed "
            f"{new['stages_s']['embed']} s, {new['reuse']['documents_embedded']} documents embedded, "
            f"{new['reuse']['chunks_reused']} of {new['reuse']['chunks']} chunks reused, codec "
            f"{'kept' if new['reuse'].get('codec_kept') else 'trained again'}): embed "
            f"{inc['embed_ratio']}x, whole run {inc['run_ratio']}x of the full run's. Stages of the nightly "
            f"run: {', '.join(f'{k} {v}s' for k, v in new['stages_s'].items())}.\n"
        )
    if results.get("serve"):
        parts.append(serve_section(results["serve"]))
    if results.get("nights"):
        parts.append(nights_section(results["nights"]))
    if results.get("nightly_scale"):
        parts.append(nightly_scale.section(results["nightly_scale"]))
    if "ratios" in results:
        parts.append("\nRatios (same run):\n")
        parts.append("".join(f"- `{k}`: {v}\n" for k, v in results["ratios"].items()))
    speed = results.get("speed", {})
    if speed:
        eb = speed["encode_build"]
        parts.append(
            f"\nencode + build of {eb['vectors']} vectors: raw faiss {eb['raw_s']} s, vecpress stages "
            f"{eb['vecpress_s']} s (reading and writing Arrow chunks and shards included).\n"
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


def plot_backends(b: dict[str, Any], path: Path) -> None:
    """One bar per variant: docs/s against torch fp32 (log), green where it kept kNN-10 within the loss
    allowed, red where it lost more, grey where quality was not measured; the speed goal drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = b["rows"]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(rows) + 1.6))
    for i, r in enumerate(rows):
        change = r.get("knn_change_points")
        colour = "#999999" if change is None else ("#2ca02c" if change >= -MAX_EMBED_LOSS else "#d62728")
        ax.barh(i, r["speed_vs_torch_fp32"], color=colour, edgecolor="black" if r["variant"] ==
                b.get("best_cpu") else colour)  # fmt: skip
        text = f"{r['speed_vs_torch_fp32']}x, {r['docs_per_s']} docs/s"
        if change is not None:
            text += f"; kNN-10 {change:+.2f} pt, recall@10 vs fp32 {r['recall_at_10_vs_fp32']:.3f}"
        ax.annotate(text, (r["speed_vs_torch_fp32"], i), xytext=(4, -3), textcoords="offset points",
                    fontsize=8)  # fmt: skip
    ax.axvline(EMBED_SPEED_GOAL, color="#444444", ls="--", lw=0.9, label=f"goal: {EMBED_SPEED_GOAL}x")
    ax.set_yticks(range(len(rows)), [r["variant"] for r in rows])
    ax.invert_yaxis()
    right = max(r["speed_vs_torch_fp32"] for r in rows) * 60
    ax.set(xscale="log", xlim=(0.5, right), xlabel="docs/s vs torch fp32 (log)")
    ax.set_title(f"{b['model']} on the CPU: green within {MAX_EMBED_LOSS} pt of kNN-10, red beyond, grey "
                 f"not measured; outlined: the fastest within ({b.get('best_cpu')})", fontsize=9)  # fmt: skip
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "results.md").write_text(markdown(results))
    for corpus, r in (results.get("out_of_sample") or {}).get("corpora", {}).items():
        plot_oos(corpus, r, folder / f"quality_per_byte_oos_{corpus}.png")
    if results.get("backends"):
        plot_backends(results["backends"], folder / "backends.png")
    if results.get("nightly_scale"):
        nightly_scale.plot(results["nightly_scale"], folder / "nightly_scale.png")
    if "rows" not in results:  # a partial run (--parts) into a fresh folder: the JSON and Markdown only
        return
    plot(results, f"{results['corpus']} / {results['model']} (in sample)", folder / "quality_per_byte.png")
    subset = results.get("subset", {})
    for e in subset.get("experiments", []):
        name = e["model"].replace(":", "-").replace("/", "-")
        title = f"{subset['database']:,}-post subset / {e['model']}"
        plot(e, title, folder / f"quality_per_byte_subset_{name}.png")

"""`make bench`: index 20 Newsgroups with vecpress, then measure quality per byte of every codec alike.

The train split is one `vecpress run` (the database), the test split another (its embeddings are the
queries). Both runs go through the stage cache, so a second `make bench` does not re-embed. MiniLM runs on
the whole corpus; MiniLM and mpnet (768-d, several times slower) are compared on a seeded subset. Speed is
measured as ratios against the raw libraries in the same run.

Over 300 lines on purpose: the command line and one short driver per part (--parts), which share the runs
and caches made here; each part's measuring lives in its own module.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from benchmarks import (
    backends,
    ceiling,
    incremental,
    nightly_scale,
    nights,
    oos,
    pipeline_speed,
    quality,
    report,
    scale,
    serve_index,
    serve_load,
    speed,
)
from flows.config import ReindexConfig
from transforms.codec import auto, codec
from transforms.embedders.packaged import MINILM, MPNET
from transforms.run import publish

logger = logging.getLogger(__name__)

SHORT_NAMES = {MINILM: "minilm", MPNET: "mpnet"}
PARTS = (
    "oos",
    "ceiling",
    "quality",
    "subset",
    "speed",
    "scale",
    "incremental",
    "backends",
    "serve",
    "nights",
    "nightly_scale",
)


def sweep(dim: int, n: int, quick: bool) -> list[tuple[str, tuple[int, ...]]]:
    """The codecs compared on ``n`` database vectors: (factory string, nprobe values for IVF codecs).

    8-bit PQ and OPQ codebooks need 39 training points per centroid (vecpress's rule, as faiss warns);
    on fewer vectors PQ rows use 4-bit codebooks at the same bytes per vector, and OPQ is left out.
    """
    if quick:
        return [("SQ8", ()), (f"PQ{dim // 4}x4", ()), ("IVF4,PQ8x4np", (1, 4)), ("LSH", ())]
    eight_bit = n >= codec.MIN_POINTS_PER_CENTROID * 256
    sizes = [b for b in (8, 16, 24, 32, 48, 64, 96) if dim % (b if eight_bit else 2 * b) == 0]
    pq_rows = [f"PQ{b}" if eight_bit else f"PQ{2 * b}x4" for b in sizes]
    opq_rows = [f"OPQ{b},PQ{b}" for b in (16, 24, 48) if eight_bit and dim % b == 0]
    return [
        ("SQfp16", ()),
        ("SQ8", ()),
        ("SQ4", ()),
        *[(f"PCA{d},Flat", ()) for d in (dim // 3, dim // 6, dim // 12)],
        *[(f, ()) for f in pq_rows + opq_rows],
        (auto.auto_choice(n, n, dim).factory, ()),  # the memory tier of vecpress's default codec
        ("LSH", ()),
    ]


def write_split_corpus(folder: Path, name: str) -> None:
    """A bundled corpus as Parquet: <folder>/train/ and <folder>/test/."""
    from transforms.read import newsgroups
    from transforms.storage import io

    for split in newsgroups.SPLITS:
        target = folder / split / f"{name}-{split}.parquet"
        if not target.exists():
            with io.open_file(str(target), "wb") as handle:
                pq.write_table(newsgroups.load_split(split, name), handle, row_group_size=4096)


def write_subset_corpus(source: Path, folder: Path, sizes: tuple[int, int], seed: int = 0) -> Path:
    """Seeded random subsets of the train (database) and test (query) splits."""
    for split, n in zip(("train", "test"), sizes, strict=True):
        target = folder / split / f"subset-{split}.parquet"
        if not target.exists():
            pipeline_speed.write_subset(str(source / split), target, n, seed)
    return folder


def index_split(
    corpus: Path,
    cache: Path,
    split: str,
    model: str,
    max_seq_length: int | None,
    tag: str = "",
    **codec_settings: Any,
) -> str:
    """`vecpress run` over one split; returns its output (reused from the stage cache when unchanged).

    Embedded with torch fp32, the model's reference vectors: the codec figures are measured on those
    whatever the default backend (the backends part measures what the others change)."""
    from flows.config import ReindexConfig
    from flows.reindex import reindex

    short = SHORT_NAMES.get(model, model.replace(":", "-").replace("/", "-"))
    output = str(cache / f"{short}{tag}-{split}")
    reindex(
        ReindexConfig(
            input=str(corpus / split),
            output=output,
            id_column="doc_id",
            text_column="body",
            label_column="topic",
            model=model,
            max_seq_length=max_seq_length,
            backend="torch",
            precision="fp32",
            shards=4,
            eval_queries=1000,
            **codec_settings,
        )
    )
    return output


def experiment(
    corpus: Path, cache: Path, model: str, max_seq_length: int | None, quick: bool, tag: str = ""
) -> dict:
    """Index both splits with vecpress, then measure float32, vecpress's published index and the sweep."""
    db_out = index_split(corpus, cache, "train", model, max_seq_length, tag)
    q_out = index_split(corpus, cache, "test", model, max_seq_length, tag)
    db, queries = quality.load_vectors(db_out), quality.load_vectors(q_out)
    truth = quality.Truth.compute(db, queries)
    rows = [quality.float_row(db, queries, truth), quality.published_row(db_out, db, queries, truth)]
    for factory, nprobes in sweep(db.vectors.shape[1], len(db.row_ids), quick):
        logger.info("%s: measuring %s", model, factory)
        rows += quality.measure(factory, db, queries, truth, nprobes)
    rows.sort(key=lambda r: (-r["bytes_per_vector"], r["codec"]))
    return {
        "model": model,
        "max_seq_length": max_seq_length,
        "dim": int(db.vectors.shape[1]),
        "database": len(db.row_ids),
        "queries": len(queries.row_ids),
        "float_knn": truth.float_knn,
        "rows": rows,
        "output": db_out,
        "vectors": db.vectors,
    }


def oos_corpora(args: argparse.Namespace) -> list[tuple[str, quality.Vectors, quality.Vectors]]:
    """(name, train split vectors, test split vectors) of the bundled corpora (or --corpus), embedded."""
    from transforms.read import newsgroups

    if args.corpus is None:
        names = args.corpora.split(",") if args.corpora else newsgroups.CORPORA
        specs = [(name, args.cache / f"corpus-{name}", f"-{name}") for name in names]
    else:
        specs = [(args.corpus.name, args.corpus, "")]
    out = []
    for name, folder, tag in specs:
        if args.corpus is None:
            write_split_corpus(folder, name)
        learn, test = (
            quality.load_vectors(index_split(folder, args.cache, split, args.model, args.max_seq_length, tag))
            for split in ("train", "test")
        )
        out.append((name, learn, test))
    return out


def n_queries(name: str, test: quality.Vectors) -> int:
    return oos.QUERIES.get(name, max(1, len(test.row_ids) // 5))


def keep_other_corpora(
    measured: dict[str, Any], before: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """With --corpora, the corpora not named are kept from the existing results."""
    if args.corpora and before:
        measured["corpora"] = {**before.get("corpora", {}), **measured["corpora"]}
    return measured


def oos_part(args: argparse.Namespace) -> dict[str, Any]:
    """The out-of-sample headline on 20 Newsgroups and Reuters R8 (or on --corpus), see benchmarks.oos."""
    corpora = {}
    for name, learn, test in oos_corpora(args):
        goals = oos.QUICK_GOALS if args.quick else oos.GOALS.get(name, oos.DEFAULT_GOALS)
        factories = ("SQ8", "PQ8x4") if args.quick else None
        scale = 5_000 if args.quick else oos.SCALE_ROWS
        corpora[name] = oos.run_corpus(
            name, learn, test, goals, n_queries(name, test), args.plan_time_budget, scale, factories
        )
    seq = args.max_seq_length or "the model's (256)"
    return {"corpus_rows": oos.CORPUS_ROWS, "max_seq_length": seq, "corpora": corpora}


def ceiling_part(args: argparse.Namespace) -> dict[str, Any]:
    """faiss's strongest quantizers against the one-tier goals, on the oos protocol (benchmarks.ceiling)."""
    specs = ceiling.QUICK_SPECS if args.quick else ceiling.SPECS
    aware = ceiling.QUICK_SCORE_AWARE if args.quick else ceiling.SCORE_AWARE
    corpora = {
        name: ceiling.measure(oos.protocol(name, learn, test, n_queries(name, test)), specs, aware)
        for name, learn, test in oos_corpora(args)
    }
    return {"corpus_rows": oos.CORPUS_ROWS, "corpora": corpora}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=MINILM)
    parser.add_argument("--max-seq-length", type=int, help="the model's own limit when unset")
    parser.add_argument(
        "--corpus", type=Path, help="folder with train/ and test/ Parquet (default: 20 Newsgroups)"
    )
    parser.add_argument(
        "--subset-models",
        default=f"{MINILM},{MPNET}",
        help="models compared on a seeded subset (comma-separated; empty: none)",
    )
    parser.add_argument("--subset-size", default="3000,1000", help="database,queries documents of the subset")
    parser.add_argument("--subset-max-seq-length", type=int, default=128)
    parser.add_argument(
        "--speed-docs", type=int, default=6000, help="documents for the embed and end-to-end ratios"
    )
    parser.add_argument("--speed-max-seq-length", type=int, default=128)
    parser.add_argument("--serve-vectors", type=int, default=1_000_000, help="vectors in the served index")
    parser.add_argument("--serve-max-seq-length", type=int, default=128)
    # Relative defaults: `make bench` runs from the repository root, and the stage cache keys on these paths.
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quick", action="store_true", help="a four-codec sweep and small sizes (for tests)")
    parser.add_argument(
        "--plan-time-budget", type=float, default=600, help="seconds per plan (the planner's default)"
    )
    parser.add_argument(
        "--corpora",
        help="oos: bundled corpora to measure, comma-separated (default: all of them); others are kept",
    )
    parser.add_argument(
        "--nightly-scale-sizes",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=(1_000_000, 4_000_000),
        help="nightly_scale: the two corpus sizes (the ratios keep their 1m/4m names; results say which)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="what to (re)measure; other parts are kept from an existing results.json",
    )
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {sorted(parts - set(PARTS))}; choose from {','.join(PARTS)}")
    from flows import preflight

    preflight.environment_defaults()  # as `vecpress` itself: offline models, a Prefect server that starts
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # the bundled corpus is written and indexed once, under the names the out-of-sample part uses too
    corpus = args.corpus or args.cache / "corpus-20newsgroups"
    args.tag = "" if args.corpus else "-20newsgroups"
    if args.corpus is None:
        write_split_corpus(corpus, "20newsgroups")
    previous = args.out / "results.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    results["corpus"] = "20 Newsgroups" if args.corpus is None else str(args.corpus)
    main_run = None
    if parts & {"quality", "speed"}:
        main_run = experiment(corpus, args.cache, args.model, args.max_seq_length, args.quick, args.tag)
    if "quality" in parts:
        results.update({k: v for k, v in main_run.items() if k not in ("output", "vectors")})

    if "subset" in parts:
        sizes = tuple(int(v) for v in args.subset_size.split(","))
        subset_corpus = write_subset_corpus(corpus, args.cache / "subset", sizes)
        subset = [
            experiment(subset_corpus, args.cache, m, args.subset_max_seq_length, args.quick, "-subset")
            for m in filter(None, args.subset_models.split(","))
        ]
        results["subset"] = {
            "database": sizes[0],
            "queries": sizes[1],
            "seed": 0,
            "max_seq_length": args.subset_max_seq_length,
            "experiments": [{k: v for k, v in e.items() if k not in ("output", "vectors")} for e in subset],
        }

    if "speed" in parts:
        results["speed"] = speed_part(args, corpus, main_run)
        figures = results["speed"]
        results.setdefault("ratios", {}).update(
            {
                "embed_vs_raw": figures["pipeline"]["embed_vs_raw"],
                "encode_build_vs_raw": figures["encode_build"]["ratio"],
                "run_vs_raw_sum": figures["pipeline"]["run_vs_raw_sum"],
            }
        )
        results["ratios"].pop("rss_growth_1m_vs_100k", None)  # encode + build alone; now the whole run's

    if "scale" in parts:
        small, large = (1_000, 2_000) if args.quick else (100_000, 1_000_000)
        results["scale"] = scale.measure(args.cache, small, large)
        results.setdefault("ratios", {}).update(
            {
                "run_rss_growth_1m_vs_100k": results["scale"]["rss_growth"],
                "run_anonymous_growth_1m_vs_100k": results["scale"]["anonymous_growth"],
                "run_time_per_doc_1m_vs_100k": results["scale"]["time_per_doc_growth"],
            }
        )

    if "backends" in parts:
        from transforms.read import newsgroups

        splits = []
        for split in ("train", "test"):
            table = pq.read_table(corpus / split)
            splits.append((table.column("body").to_pylist(), table.column("topic").to_pylist()))
        if args.quick:
            splits = [(t[:300], lab[:300]) for t, lab in splits]
        model = MINILM
        results["backends"] = backends.measure(model, *splits, 200 if args.quick else 2000, None)
        results.setdefault("ratios", {})["embed_speedup_best_cpu"] = results["backends"][
            "embed_speedup_best_cpu"
        ]
        del newsgroups

    if "incremental" in parts:
        docs = 500 if args.quick else 5_000
        model = args.model if args.quick else MINILM
        results["incremental"] = incremental.measure(corpus / "train", args.cache, docs, None, model)
        results.setdefault("ratios", {}).update(
            {
                "incremental_embed_vs_full": results["incremental"]["embed_ratio"],
                "incremental_run_vs_full": results["incremental"]["run_ratio"],
            }
        )

    if "serve" in parts:
        results["serve"] = serve_part(args, corpus)
        results.setdefault("ratios", {}).update(
            {
                "serve_qps_8_vs_1": results["serve"]["qps_8_vs_1"],
                "serve_p50_vs_in_process": results["serve"]["serve_vs_in_process_p50"],
                "serve_wrong_answers": results["serve"]["wrong_answers"],
                "serve_first_query_after_swap_vs_p50": results["serve"]["swap"]["first_query_vs_p50"],
            }
        )

    if "nights" in parts:
        docs, count = (600, 3) if args.quick else (20_000, 30)
        results["nights"] = nights.measure(args.cache, docs, count)
        results.setdefault("ratios", {}).update(
            {
                "disk_30_nights_vs_one_full": results["nights"]["disk_30_nights_vs_one_full"],
                "reembedded_on_code_move": results["nights"]["reembedded_on_code_move"],
            }
        )

    if "nightly_scale" in parts:
        sizes = (2_000, 4_000, 200) if args.quick else (*args.nightly_scale_sizes, 10_000)
        ns = results["nightly_scale"] = nightly_scale.measure(args.cache, *sizes)
        results.setdefault("ratios", {}).update(
            {
                "nightly_1m_vs_full_1m": ns["nightly_small_vs_full_small"],
                "nochange_1m_vs_full_1m": ns["nochange_small_vs_full_small"],
                "nightly_4m_vs_nightly_1m": ns["nightly_large_vs_nightly_small"],
                "anonymous_rss_4m_vs_1m": ns["anonymous_rss_large_vs_small"],
                "disk_added_per_nightly_vs_changed_bytes": ns["disk_added_per_nightly_vs_changed_bytes"],
            }
        )

    if "oos" in parts:
        results["out_of_sample"] = keep_other_corpora(oos_part(args), results.get("out_of_sample"), args)
    if "ceiling" in parts:
        results["ceiling"] = keep_other_corpora(ceiling_part(args), results.get("ceiling"), args)
    results.pop("planner", None)  # in-sample planner picks, replaced by the out-of-sample headline
    report.write(results, args.out)
    print(report.markdown(results))
    print(json.dumps({"results": str(args.out)}))
    return 0


def serve_part(args: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    """`vecpress serve` over a million vectors fitted to the model's embeddings of the train split (2,000
    with --quick), built with the model's default backend as users' runs are (benchmarks.serve_index);
    queried with the test split's posts (their first 30 words), see benchmarks.serve_load."""
    from transforms.embedders.embedder import load_embedder

    posts = pq.read_table(corpus / "train", columns=["body"]).column("body").to_pylist()
    posts = [p for p in posts if p and p.strip()]
    spec = ReindexConfig.build(input=str(corpus), output=str(args.cache), model=args.model,
                               max_seq_length=args.serve_max_seq_length).embedder()  # fmt: skip
    sample = posts[: 300 if args.quick else 4000]
    real = load_embedder(spec).encode(sample)
    n = 2_000 if args.quick else args.serve_vectors
    index_args = ["--model", args.model, "--max-seq-length", str(args.serve_max_seq_length)]
    docs, output = serve_index.build(args.cache, real, sample, n, index_args)
    tests = pq.read_table(corpus / "test", columns=["body"]).column("body").to_pylist()
    queries = [" ".join(p.split()[:30]) for p in tests if p and p.strip()][:500]
    requests, seconds = (20, 5.0) if args.quick else (1000, 60.0)
    run_args = (*serve_index.RUN_ARGS, *index_args)
    return serve_load.measure(str(output), docs, args.cache, queries, requests, seconds, 10, run_args)


def speed_part(args: argparse.Namespace, corpus: Path, main_run: dict[str, Any]) -> dict[str, Any]:
    from transforms.embed.embeddings import Embeddings

    layout, _ = publish.current(main_run["output"])
    logger.info("encode + build against raw faiss")
    emb = Embeddings.load(layout)
    figures = {"encode_build": speed.encode_build_ratio(layout.codec, emb, layout.shards)}
    logger.info("`vecpress run` and its embed stage against the raw steps on %d documents", args.speed_docs)
    speed_corpus = pipeline_speed.write_subset(
        str(corpus / "train"), args.cache / "speed" / f"train-{args.speed_docs}.parquet", args.speed_docs, 1
    )
    figures["pipeline"] = pipeline_speed.measure(speed_corpus, args.model, args.speed_max_seq_length)
    return figures


if __name__ == "__main__":
    raise SystemExit(main())

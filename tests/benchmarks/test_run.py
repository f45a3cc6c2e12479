"""The benchmark code on a tiny corpus, so it cannot rot."""

import json

from benchmarks import pipeline_speed, run
from tests.conftest import make_corpus, write_parquet


def test_bench_on_a_tiny_corpus_writes_every_result(prefect_server, tmp_path):
    write_parquet(make_corpus(900, seed=1), str(tmp_path / "corpus" / "train" / "a.parquet"))
    write_parquet(
        make_corpus(150, seed=2).set_column(0, "doc_id", [[f"q-{i}" for i in range(150)]]),
        str(tmp_path / "corpus" / "test" / "a.parquet"),
    )
    out = tmp_path / "results"
    assert (
        run.main(
            [
                "--model",
                "fake:32",
                "--corpus",
                str(tmp_path / "corpus"),
                "--cache",
                str(tmp_path / "cache"),
                "--out",
                str(out),
                "--quick",
                "--subset-models",
                "fake:16,fake:24",
                "--subset-size",
                "700,100",
                "--speed-docs",
                "200",
                "--plan-time-budget",
                "5",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert results["database"] == 900 and results["queries"] == 150
    names = [r["codec"] for r in results["rows"]]
    assert names[0] == "float32 (exact)" and any(n.startswith("vecpress ") for n in names)
    assert {"SQ8", "LSH", "IVF4,PQ8x4np nprobe=1", "IVF4,PQ8x4np nprobe=4"} <= set(names)
    exact = results["rows"][0]
    assert exact["recall_at_10"] == 1.0 and exact["knn_delta_points"] == 0.0
    assert all(0.0 <= r["recall_at_10"] <= 1.0 and r["bytes_per_vector"] > 0 for r in results["rows"])
    sq8 = next(r for r in results["rows"] if r["codec"] == "SQ8")
    assert sq8["recall_at_10"] > 0.8  # 8-bit scalar quantization barely moves the neighbours
    # every codec's own size is measured: SQ8 keeps a minimum and a range per dimension (32-d float32)
    assert sq8["codec_bytes"] > 2 * 32 * 4 and "codec_bytes" not in exact
    published = next(r for r in results["rows"] if r.get("from_pipeline"))
    assert published["codec_bytes"] > 0
    # flat codes of the (unit-norm) fake embeddings are measured a second time, unit-decoded
    assert {"SQ8 unit-decoded", "LSH"} <= set(names) and "LSH unit-decoded" not in names
    counts = {"serve_wrong_answers", "reembedded_on_code_move"}  # goals of 0, checked below
    assert all(isinstance(v, float) and v > 0 for k, v in results["ratios"].items() if k not in counts)
    pipeline = results["speed"]["pipeline"]
    assert pipeline["documents"] == 200 and pipeline["raw_sum_s"] > 0
    assert set(pipeline["raw_steps_s"]) == set(pipeline_speed.RAW_STEPS)
    subset = results["subset"]["experiments"]
    assert [(e["model"], e["dim"], e["database"], e["queries"]) for e in subset] == [
        ("fake:16", 16, 700, 100),
        ("fake:24", 24, 700, 100),
    ]
    oos = results["out_of_sample"]["corpora"]["corpus"]  # the --corpus folder's name
    assert oos["protocol"]["learn"] == 900 and oos["protocol"]["base"] + oos["protocol"]["queries"] == 150
    assert oos["protocol"]["knn_probes"] == 150  # kNN over every test document, each base one left out
    one, two = oos["picks"]
    assert one["goal"] == {"budget_bytes": 8} and one["bytes_per_vector"] <= 8 and not one["refine"]
    assert two["refine"] and two["stored_bytes_per_vector"] <= 400 and two["plan_s"] >= 0
    assert two["recall_at_10"] >= one["recall_at_10"]  # re-ranked from the stored tier
    assert {r["codec"] for r in oos["rows"]} >= {"SQ8", "PQ8x4", "RaBitQ + SQ8 x4"}
    assert [g["pick"] for g in oos["goals"]] == [one["codec"], two["codec"]]
    ceiling = results["ceiling"]["corpora"]["corpus"]  # the strongest quantizers, codebooks not counted
    assert {(r["codec"], r["in_sample"]) for r in ceiling} >= {
        ("RQ8x4 max_beam_size=8", False),
        ("RQ8x4 max_beam_size=8 unit-decoded", False),
        ("SQ4 (in sample: trained on learn + base)", True),
    }
    assert all(r["size"] == r["code_bytes"] and 0 < r["recall_at_10"] <= 1 for r in ceiling)
    aware = [r for r in ceiling if r.get("score_aware_eta")]  # a codec faiss lacks, and its reference
    assert {r["codec"] for r in aware} == {
        "PQ8x4",  # eta 1: faiss's own codes, the reference
        "PQ8x4 unit-decoded",
        "PQ8x4 score-aware eta=4",
        "PQ8x4 score-aware eta=4 unit-decoded",
    }
    text = (out / "results.md").read_text()
    assert "### corpus, 4 code bytes per vector" in text and "### corpus, 16 code bytes" in text
    assert "## Out of sample (the headline)" in text and "## In sample" in text
    assert "kNN-10 accuracy on all 150 test documents" in text
    assert "| ≤ 8 B (one tier) |" in text and "| ≤ 8 B memory + 400 B stored |" in text
    assert (out / "quality_per_byte_oos_corpus.png").stat().st_size > 10_000
    assert "| codec | bytes/vec | ratio | codec size |" in (out / "results.md").read_text()
    assert set(results["ratios"]) == {
        "embed_vs_raw",
        "encode_build_vs_raw",
        "run_vs_raw_sum",
        "run_rss_growth_1m_vs_100k",
        "run_anonymous_growth_1m_vs_100k",
        "run_time_per_doc_1m_vs_100k",
        "incremental_embed_vs_full",
        "incremental_run_vs_full",
        "embed_speedup_best_cpu",
        "serve_qps_8_vs_1",
        "serve_p50_vs_in_process",
        "serve_wrong_answers",
        "serve_first_query_after_swap_vs_p50",
        "disk_30_nights_vs_one_full",
        "reembedded_on_code_move",
        "nightly_1m_vs_full_1m",
        "nochange_1m_vs_full_1m",
        "nightly_4m_vs_nightly_1m",
        "anonymous_rss_4m_vs_1m",
        "disk_added_per_nightly_vs_changed_bytes",
    }
    variants = {r["variant"]: r for r in results["backends"]["rows"]}
    assert set(variants) == {
        "torch fp32",
        "onnx fp32",
        "onnx int8",
        "openvino fp32",
        "openvino int8",
        "static (model2vec)",
    }
    assert (
        variants["torch fp32"]["speed_vs_torch_fp32"] == 1.0
        and variants["torch fp32"]["knn_change_points"] == 0
    )
    assert variants["openvino int8"]["recall_at_10_vs_fp32"] > 0.5  # the same model, 8-bit weights
    assert variants["openvino fp32"]["recall_at_10_vs_fp32"] > 0.9  # the same model and numbers
    inc = results["incremental"]  # 500 posts, then 1% changed, 0.5% new, 0.5% deleted
    assert (inc["churn"]["changed"], inc["churn"]["new"], inc["churn"]["deleted"]) == (4, 2, 2)
    assert inc["incremental"]["reuse"]["documents_embedded"] == 6  # the changed and the new alone
    assert inc["incremental"]["reuse"]["chunks_reused"] == 6 and 0 < inc["embed_ratio"]
    scale = results["scale"]  # a whole `vecpress run` at 1,000 and 2,000 documents (--quick)
    assert scale["1000"]["peak_rss_mib"] > 0 and scale["2000"]["wall_s"] > 0
    assert scale["rss_growth"] == results["ratios"]["run_rss_growth_1m_vs_100k"]
    assert 0 < scale["2000"]["peak_anonymous_mib"] <= scale["2000"]["peak_rss_mib"]
    served = results["serve"]  # 2,000 fitted vectors served to 1, 8 and 32 clients, then a re-run's swap
    assert [row["clients"] for row in served["load"]] == [1, 8, 32] and served["documents"] == 2000
    assert all(row["correct"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0 for row in served["load"])
    assert results["ratios"]["serve_wrong_answers"] == 0  # every answer checked against a lone client's
    assert served["swap"]["swaps"] == 1 and served["swap"]["publish_to_serving_s"] >= 0
    soak = results["nights"]  # 3 nights of 600 documents (--quick): the first, moved code, churn
    assert soak["all_exact_and_verified"]
    assert [r["kind"] for r in soak["rows"]] == ["first", "code moved", "churn"]
    assert soak["reembedded_on_code_move"] == 0 and soak["rows"][0]["embedded"] == 600
    assert 0 < soak["rows"][2]["embedded"] < 600  # the 1% changed and 0.5% new alone
    ns = results["nightly_scale"]  # 2,000 then 4,000 documents (--quick): full, 200 changed, unchanged
    assert [size["documents"] for size in ns["sizes"]] == [2000, 4000]
    assert all(
        size["nightly"]["embedded"] == 200 and size["unchanged"]["embedded"] == 0 for size in ns["sizes"]
    )
    assert results["ratios"]["nightly_1m_vs_full_1m"] == ns["nightly_small_vs_full_small"]
    assert (out / "nightly_scale.png").stat().st_size > 10_000
    header = "| clients | requests | correct | wrong | errors | queries/s | p50 ms | p99 ms |"
    assert header in (out / "results.md").read_text()
    for png in ("quality_per_byte.png", "quality_per_byte_subset_fake-16.png", "backends.png"):
        assert (out / png).stat().st_size > 10_000
    assert "| codec | bytes/vec |" in (out / "results.md").read_text()

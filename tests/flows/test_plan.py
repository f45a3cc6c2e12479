"""`vecpress run --codec auto` with a goal and `vecpress plan` on real posts with the real model."""

import json

import faiss
import pytest

from tests.flows.test_cli import env, vecpress  # noqa: F401 - env is a fixture
from transforms.planner import report as plan_report

PICK_KEYS = {
    "codec",
    "bytes_per_vector",
    "code_bytes",
    "codec_bytes",
    "recall_at_10",
    "knn_accuracy",
    "float_knn_accuracy",
    "knn_loss_points",
}


@pytest.mark.slow
def test_plan_then_run_with_the_planned_codec(tmp_path, env):  # noqa: F811
    data, out = str(tmp_path / "data"), str(tmp_path / "index")
    assert vecpress("sample-data", "--output", data, "--limit", "800", env=env).returncode == 0
    columns = ["--id-column", "doc_id", "--text-column", "body", "--label-column", "topic"]

    # Two tiers planned for the run: at most 64 bytes per vector in memory (codec included, over these 800
    # documents) and 400 on disk. The run trains on 600 of the 800: measured out of sample.
    run = vecpress(
        "run", "--input", data, "--output", out, *columns, "--max-seq-length", "64", "--shards", "2",
        "--eval-queries", "100", "--codec", "auto", "--budget-bytes", "64", "--stored-budget-bytes", "400",
        "--time-budget", "60", "--sample-size", "600", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = json.loads(vecpress("inspect", out, "--json", env=env).stdout)
    codec, plan = manifest["codec"], manifest["codec"]["plan"]
    assert plan["sample"]["out_of_sample"] and plan["sample"]["corpus_rows"] == 800
    assert codec["plan"]["pick"]["factory"] == codec["factory"] and codec["refine"] == plan["pick"]["refine"]
    assert codec["refine"] in ("SQ8", "SQ6", "SQ4") and codec["rerank"] == plan["pick"]["rerank"] > 1
    assert plan["pick"]["bytes_per_vector"] <= 64 and plan["pick"]["stored_bytes_per_vector"] <= 400
    assert "within 64 bytes/vector in memory" in plan["pick"]["why"]
    assert len(manifest["shards"]["refine"]) == 2 and manifest["sizes"]["stored_bytes_per_vector"] > 0
    assert "codec/plan/plan.json" in {f["path"] for f in manifest["files"]}
    run_dir = f"{out}/runs/{manifest['run_id']}"
    shard = faiss.read_index(f"{run_dir}/index/{manifest['shards']['index'][0]}")
    assert shard.ntotal > 0  # the planned codec's shard, searchable by plain faiss
    assert manifest["evaluation"]["recall_at_k"] > 0.9  # re-ranked from the stored tier
    hits = vecpress("search", "--index", out, "-k", "3", "--json", "space shuttle launch", env=env)
    assert hits.returncode == 0 and len(json.loads(hits.stdout)[0]["hits"]) == 3

    # Planning from the run's embeddings needs no model. For the corpus the user will have (a million
    # documents), codecs are measured on vectors they never saw and their size is spread over a million.
    plan_dir = tmp_path / "plan"
    planned = vecpress(
        "plan", "--embeddings", out, "--budget-bytes", "16", "--corpus-rows", "1000000", "--queries", "100",
        "--time-budget", "30", "--out", str(plan_dir), "--json", env=env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr[-3000:]
    plan = json.loads(planned.stdout)
    pick, rows = plan["pick"], plan["candidates"]
    assert PICK_KEYS <= set(pick) and all(PICK_KEYS <= set(r) for r in rows)
    # the run's 4 shards (plan's --shards default) each hold a copy of the codec: all 4 are counted
    assert pick["bytes_per_vector"] == round(pick["code_bytes"] + 4 * pick["codec_bytes"] / 1e6, 2) <= 16
    assert pick["recall_at_10"] == max(r["recall_at_10"] for r in rows if r["bytes_per_vector"] <= 16)
    assert plan["sample"]["out_of_sample"] and plan["sample"]["base"] + plan["sample"]["learn"] == 700
    assert plan["float_knn_accuracy"] > 0.3  # real MiniLM neighbours share topics far above chance (1/20)
    assert manifest["run_id"] in plan["source"]
    assert {p.name for p in plan_dir.iterdir()} == {"plan.json", "plan.md", "plan.png"}
    text = (plan_dir / "plan.md").read_text()
    assert f"**Pick: `{pick['codec']}`**" in text and "Out of sample:" in text
    assert f"{plan_report.per_vector_text(pick['codec_bytes'] / 1e6)} bytes per vector per shard" in text

    # For these 800 documents alone, every codec outweighs a 16-byte budget: said, not hidden.
    small = vecpress("plan", "--embeddings", out, "--budget-bytes", "16", "--queries", "100", env=env)
    assert small.returncode == 2 and "no candidate fits in 16 bytes per vector" in small.stderr
    assert "with 4 codec copies (one per shard) included; the smallest was" in small.stderr

    no_labels = vecpress(
        "plan", "--embeddings", out, "--max-loss-points", "1", "--target-recall", "0.5", env=env
    )
    assert no_labels.returncode == 2 and "exactly one" in no_labels.stderr
    bad = ["--budget-bytes", "8", "--run-sample-size", "0"]
    no_sample = vecpress("plan", "--embeddings", out, *bad, env=env)
    assert no_sample.returncode == 2 and "argument --run-sample-size: must be at least 1" in no_sample.stderr
    no_train = vecpress("plan", "--embeddings", out, "--budget-bytes", "8", "--train-size", "0", env=env)
    assert no_train.returncode == 2 and "argument --train-size: must be at least 1, got 0" in no_train.stderr

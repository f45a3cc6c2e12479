"""`vecpress plan` and `vecpress run --codec auto --budget-bytes` on real posts with the real model."""

import json

import faiss
import pytest

from tests.flows.test_cli import env, vecpress  # noqa: F401 - env is a fixture
from transforms import plan_report

PICK_KEYS = {
    "codec",
    "bytes_per_vector",
    "recall_at_10",
    "knn_accuracy",
    "float_knn_accuracy",
    "knn_loss_points",
}


@pytest.mark.slow
def test_plan_then_run_with_the_planned_codec(tmp_path, env):  # noqa: F811
    data, out, plan_dir = str(tmp_path / "data"), str(tmp_path / "index"), tmp_path / "plan"
    assert vecpress("sample-data", "--output", data, "--limit", "800", env=env).returncode == 0
    columns = ["--id-column", "doc_id", "--text-column", "body", "--label-column", "topic"]
    planned = vecpress(
        "plan", "--input", data, *columns, "--max-seq-length", "64", "--budget-bytes", "16",
        "--queries", "100", "--time-budget", "60", "--out", str(plan_dir), "--json", env=env,
    )  # fmt: skip
    assert planned.returncode == 0, planned.stderr[-3000:]
    plan = json.loads(planned.stdout)
    pick, rows = plan["pick"], plan["candidates"]
    assert PICK_KEYS <= set(pick) and all(PICK_KEYS <= set(r) for r in rows)
    assert pick["bytes_per_vector"] <= 16 and len(rows) >= 4
    assert pick["recall_at_10"] == max(r["recall_at_10"] for r in rows if r["bytes_per_vector"] <= 16)
    assert plan["sample"]["vectors"] == 800 and plan["sample"]["dim"] == 384
    assert plan["sample"]["trained_share"] == 1.0 and plan["sample"]["held_out"] == 0  # a run trains on all
    assert plan["float_knn_accuracy"] > 0.3  # real MiniLM neighbours share topics far above chance (1/20)
    assert {p.name for p in plan_dir.iterdir()} == {"plan.json", "plan.md", "plan.png"}
    assert f"**Pick: `{pick['codec']}`**" in (plan_dir / "plan.md").read_text()
    # Every shard also holds the trained codec: plan.md spreads its size over the corpus's 800 documents.
    assert plan["sample"]["corpus_rows"] == 800 and pick["codec_bytes"] > 0
    per_vector = f"{plan_report.per_vector_text(pick['codec_bytes'] / 800)} bytes per vector per shard"
    assert per_vector in (plan_dir / "plan.md").read_text()

    run = vecpress(
        "run", "--input", data, "--output", out, *columns, "--max-seq-length", "64", "--shards", "2",
        "--eval-queries", "100", "--codec", "auto", "--budget-bytes", "16", "--time-budget", "60",
        "--sample-size", "600", env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = json.loads(vecpress("inspect", out, "--json", env=env).stdout)
    codec = manifest["codec"]
    assert codec["plan"]["pick"]["factory"] == codec["factory"] and codec["code_size"] <= 16
    assert codec["plan"]["goal"]["budget_bytes"] == 16 and "within 16 bytes" in codec["plan"]["pick"]["why"]
    # The codec trains on 600 of the 800 documents: the plan held out a quarter of its database to match.
    assert codec["plan"]["sample"]["trained_share"] == 0.75 and codec["plan"]["sample"]["held_out"] == 135
    assert codec["plan"]["sample"]["corpus_rows"] == 800
    assert "codec/plan/plan.json" in {f["path"] for f in manifest["files"]}
    run_dir = f"{out}/runs/{manifest['run_id']}"
    shard = faiss.read_index(f"{run_dir}/index/{manifest['shards']['index'][0]}")
    assert shard.ntotal > 0  # the planned codec's shard, searchable by plain faiss
    assert manifest["evaluation"]["recall_at_k"] > 0.2
    hits = vecpress("search", "--index", out, "-k", "3", "--json", "space shuttle launch", env=env)
    assert hits.returncode == 0 and len(json.loads(hits.stdout)[0]["hits"]) == 3

    # Planning again from the run's own embeddings needs no model; labels come with them. For a run that
    # would train on 400 of the 800 documents, half the database is vectors the codecs never saw.
    again = vecpress("plan", "--embeddings", out, "--budget-bytes", "8", "--queries", "100", "--json",
                     "--time-budget", "30", "--out", str(tmp_path / "plan2"), "--run-sample-size", "400",
                     env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    replan = json.loads(again.stdout)
    assert replan["pick"]["bytes_per_vector"] <= 8 and replan["pick"]["knn_accuracy"] is not None
    assert manifest["run_id"] in replan["source"]
    assert replan["sample"]["trained_share"] == 0.5 and replan["sample"]["held_out"] == 175  # 25% of 700
    assert "175 database vectors held out of training" in (tmp_path / "plan2" / "plan.md").read_text()

    no_labels = vecpress(
        "plan", "--embeddings", out, "--max-loss-points", "1", "--target-recall", "0.5", env=env
    )
    assert no_labels.returncode == 2 and "exactly one" in no_labels.stderr
    bad = ["--budget-bytes", "8", "--run-sample-size", "0"]
    no_sample = vecpress("plan", "--embeddings", out, *bad, env=env)
    assert no_sample.returncode == 2 and "--run-sample-size must be at least 1" in no_sample.stderr
    no_train = vecpress("plan", "--embeddings", out, "--budget-bytes", "8", "--train-size", "0", env=env)
    assert no_train.returncode == 2 and "--train-size must be at least 1, got 0" in no_train.stderr

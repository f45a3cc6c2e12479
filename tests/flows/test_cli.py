"""One real end-to-end run of the user-facing commands, started the way users start them."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest


def vecpress(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, env=env, timeout=900
    )


@pytest.fixture
def env(tmp_path):
    base = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # a temporary server, as users get
    return {**base, "HF_HUB_OFFLINE": "1", "PREFECT_HOME": str(tmp_path / "prefect")}


@pytest.mark.slow
def test_run_search_inspect_with_the_real_model_on_real_posts(tmp_path, env):
    data, out = str(tmp_path / "data"), str(tmp_path / "index")
    made = vecpress("sample-data", "--output", data, "--limit", "600", env=env)
    assert made.returncode == 0, made.stderr
    run = vecpress(
        "run",
        "--input",
        data,
        "--output",
        out,
        "--id-column",
        "doc_id",
        "--text-column",
        "body",
        "--label-column",
        "topic",
        "--max-seq-length",
        "64",
        "--shards",
        "2",
        "--eval-queries",
        "200",
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "600 read, 0 rejected, 600 indexed" in run.stdout
    assert "recall@10 vs exact" in run.stdout and "kNN-10 label accuracy" in run.stdout

    inspect = vecpress("inspect", out, "--json", env=env)
    manifest = json.loads(inspect.stdout)
    assert manifest["codec"]["model"] == "all-MiniLM-L6-v2" and manifest["codec"]["dim"] == 384
    # the default: 1-bit RaBitQ codes in memory, SQ8 codes on disk re-ranking 10x candidates
    codec, sizes = manifest["codec"], manifest["sizes"]
    assert (codec["factory"], codec["refine"], codec["rerank"], codec["code_size"]) == (
        "RaBitQ",
        "SQ8",
        10,
        56,
    )
    # the fine code, and the row id and where the fine code is (the refine shard), with Arrow's framing
    assert sizes["stored_bytes_per_vector"] == pytest.approx(384 + 16, abs=12)
    assert sizes["compression_all_told"] == pytest.approx(1536 / sizes["index_bytes_per_vector"], rel=1e-3)
    # Real MiniLM neighbours carry the newsgroup topic far above chance (1/20), before and after compression.
    assert manifest["evaluation"]["knn_accuracy_float"] > 0.35
    assert manifest["evaluation"]["knn_accuracy_index"] > 0.3
    assert manifest["evaluation"]["recall_at_k"] > 0.95

    posts = pq.read_table(f"{data}/20newsgroups-train.parquet").slice(0, 2).to_pylist()
    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(p["body"][:300] for p in posts) + "\n")
    search = vecpress("search", "--index", out, "-k", "3", "--queries-file", str(queries), "--json", env=env)
    assert search.returncode == 0, search.stderr[-3000:]
    results = json.loads(search.stdout)
    assert [r["hits"][0]["doc_id"] for r in results] == [p["doc_id"] for p in posts]
    # each hit's text and label, read back from the run's own input (the manifest knows where)
    assert (
        results[0]["hits"][0]["text"] == posts[0]["body"]
        and results[0]["hits"][0]["label"] == posts[0]["topic"]
    )
    table = vecpress("search", "--index", out, "-k", "2", "space shuttle launch", env=env)
    assert table.returncode == 0 and "rank" in table.stdout
    # a wider re-rank per query: still the post itself first
    wider = vecpress("search", "--index", out, "-k", "3", "--rerank", "30", "--queries-file", str(queries),
                     "--json", "--no-text", env=env)  # fmt: skip
    assert wider.returncode == 0, wider.stderr[-3000:]
    assert [r["hits"][0]["doc_id"] for r in json.loads(wider.stdout)] == [p["doc_id"] for p in posts]


def test_missing_index_is_a_clear_error(tmp_path, env):
    res = vecpress("inspect", str(tmp_path / "nowhere"), env=env)
    assert res.returncode == 2
    assert "no published run" in res.stderr


@pytest.mark.slow
def test_run_search_and_plan_through_the_default_cpu_backend_on_real_posts(tmp_path, env):
    data, out = str(tmp_path / "data"), str(tmp_path / "index")
    assert vecpress("sample-data", "--output", data, "--limit", "300", env=env).returncode == 0
    columns = ["--id-column", "doc_id", "--text-column", "body", "--label-column", "topic"]
    fast = ["--max-seq-length", "64"]  # backend and precision auto: OpenVINO int8 on this CPU machine
    run = vecpress("run", "--input", data, "--output", out, *columns, *fast, "--shards", "2",
                   "--eval-queries", "100", env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = json.loads(vecpress("inspect", out, "--json", env=env).stdout)
    assert (manifest["codec"]["backend"], manifest["codec"]["precision"]) == ("openvino", "int8")
    assert manifest["evaluation"]["knn_accuracy_float"] > 0.3  # still MiniLM's neighbourhoods
    posts = pq.read_table(f"{data}/20newsgroups-train.parquet").slice(0, 1).to_pylist()
    # the query is embedded through the index's own backend: a post finds itself
    found = vecpress("search", "--index", out, "-k", "1", "--json", posts[0]["body"][:300], env=env)
    assert found.returncode == 0 and json.loads(found.stdout)[0]["hits"][0]["doc_id"] == posts[0]["doc_id"]
    plan = vecpress("plan", "--input", data, *columns, "--backend", "onnx", "--precision", "int8",
                    "--max-seq-length", "64", "--budget-bytes", "64", "--queries", "50",
                    "--time-budget", "20", "--out", str(tmp_path / "plan"), "--json", env=env)  # fmt: skip
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert json.loads(plan.stdout)["sample"]["dim"] == 384
    torch_int8 = ["--backend", "torch", "--precision", "int8"]
    refused = vecpress("run", "--input", data, "--output", out, *columns, *torch_int8, env=env)
    assert refused.returncode == 2 and "int8 needs --backend onnx or openvino" in refused.stderr

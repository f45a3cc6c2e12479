"""The plan record: typed for its readers, JSON only where it is written."""

import json
from dataclasses import asdict, replace

from transforms import planner
from transforms.planner import Plan, PlanSample, Skipped

ROW = planner.Measurement(
    codec="PQ4", factory="PQ4", family="pq", params={}, nprobe=None, code_bytes=4, codec_bytes=8192,
    bytes_per_vector=4.82, compression=26.6, recall_at_10=0.61, knn_accuracy=0.8, knn_loss_points=1.5,
    knn_loss_bound=2.9, train_s=0.4, encode_vectors_per_s=1e6, search_ms_per_query=0.02, candidate="PQ4",
)  # fmt: skip
SAMPLE = PlanSample(
    vectors=3000, learn=1400, base=1400, queries=200, knn_probes=700, out_of_sample=True,
    eight_bit_codebooks=False, corpus_rows=10_000, codec_copies=4, sampled_from=3000, dim=32, seed=0,
)  # fmt: skip


def _plan(**changes) -> Plan:
    cheaper = replace(ROW, codec="PQ2", code_bytes=2, bytes_per_vector=2.82, recall_at_10=0.3)
    plan = Plan(
        goal=planner.Goal(budget_bytes=5), objective="recall_at_10", sample=SAMPLE, float_knn_accuracy=0.815,
        pick=ROW, why="highest recall_at_10 of 2 measured codecs within 5 bytes/vector in memory",
        frontier=["PQ2", "PQ4"], candidates=[cheaper, ROW],
        skipped=[Skipped("RQ16x8", "6.3 MB of codec in 4 shard copies: 629 B a vector")], elapsed_s=1.5,
    )  # fmt: skip
    return replace(plan, **changes)


def test_plan_json_carries_the_float_baseline_and_why_with_the_pick():
    data = json.loads(json.dumps(_plan().to_json()))  # JSON all the way down
    assert data["pick"] == {**asdict(ROW), "float_knn_accuracy": 0.815, "why": _plan().why}
    assert [c["codec"] for c in data["candidates"]] == ["PQ2", "PQ4"]
    assert all(c["float_knn_accuracy"] == 0.815 for c in data["candidates"])
    assert data["skipped"] == [
        {"codec": "RQ16x8", "reason": "6.3 MB of codec in 4 shard copies: 629 B a vector"}
    ]
    assert data["goal"]["budget_bytes"] == 5 and data["sample"] == asdict(SAMPLE)
    assert "source" not in data and _plan(source="out/runs/r1").to_json()["source"] == "out/runs/r1"


def test_a_codec_record_keeps_the_plan_without_its_measurements():
    summary = _plan().summary()
    assert set(summary) == {"goal", "objective", "sample", "frontier", "elapsed_s", "pick"}
    assert summary["pick"] == _plan().to_json()["pick"]

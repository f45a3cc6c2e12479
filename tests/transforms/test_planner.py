"""The planner on synthetic clustered vectors: frontier, picks for each kind of goal, clear refusals."""

import numpy as np
import pytest

from transforms import plan_report, planner


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, 32)).astype("float32") * 2
    labels = rng.integers(0, 8, 3000)
    x = centres[labels] + rng.standard_normal((3000, 32)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype("float32"), [f"c{v}" for v in labels]


@pytest.fixture(scope="module")
def budget_plan(corpus):
    x, labels = corpus
    return planner.plan(x, labels, planner.Goal(budget_bytes=8), n_queries=200, time_budget_s=60)


def test_budget_pick_is_the_best_measured_codec_within_the_budget(budget_plan):
    plan = budget_plan
    pick, rows = plan["pick"], plan["candidates"]
    assert pick["bytes_per_vector"] <= 8
    assert pick["recall_at_10"] == max(r["recall_at_10"] for r in rows if r["bytes_per_vector"] <= 8)
    for key in ("codec", "bytes_per_vector", "recall_at_10", "knn_accuracy", "float_knn_accuracy"):
        assert pick[key] is not None
    assert pick["knn_loss_points"] == pytest.approx(100 * (plan["float_knn_accuracy"] - pick["knn_accuracy"]))
    assert set(rows[0]) <= set(pick)
    assert plan["sample"] == {
        "vectors": 3000,
        "database": 2800,
        "queries": 200,
        "train": 2800,
        "trained_share": 1.0,
        "held_out": 0,
        "corpus_rows": 3000,
        "dim": 32,
        "seed": 0,
    }


def test_every_measurement_gives_the_size_of_its_trained_codec(budget_plan, corpus):
    rows = {r["codec"]: r for r in budget_plan["candidates"]}
    split = planner.Split.make(*corpus, n_queries=200, seed=0)
    pca_sq = planner.codec.train(split.train, "PCAR8,SQ8")  # as the planner trained it (deterministic)
    assert rows["PCAR8,SQ8"]["codec_bytes"] == planner.codec.serialized_size(pca_sq) > 8 * 32 * 4
    assert rows["PQ16x4fs"]["codec_bytes"] > 16 * 32 * 4  # 16 centroids of 4 bits spanning all 32 dims
    assert budget_plan["pick"]["codec_bytes"] == rows[budget_plan["pick"]["codec"]]["codec_bytes"]


def test_frontier_rows_are_not_beaten_on_both_bytes_and_quality(budget_plan):
    rows = budget_plan["candidates"]
    front = [r for r in rows if r["codec"] in budget_plan["frontier"]]
    for f in front:
        assert not any(
            r["bytes_per_vector"] <= f["bytes_per_vector"] and r["recall_at_10"] > f["recall_at_10"]
            for r in rows
        )


def test_target_and_loss_goals_pick_the_fewest_bytes(corpus):
    x, labels = corpus
    plan = planner.plan(x, labels, planner.Goal(target_recall=0.6), n_queries=200, time_budget_s=60)
    ok = [r for r in plan["candidates"] if r["recall_at_10"] >= 0.6]
    assert plan["pick"]["recall_at_10"] >= 0.6
    assert plan["pick"]["bytes_per_vector"] == min(r["bytes_per_vector"] for r in ok)
    loss = planner.plan(x, labels, planner.Goal(max_loss_points=1.0), n_queries=200, time_budget_s=60)
    assert loss["objective"] == "knn_accuracy" and loss["pick"]["knn_loss_points"] <= 1.0


def test_a_spent_time_budget_skips_the_rest_and_says_so(corpus):
    x, labels = corpus
    plan = planner.plan(x, None, planner.Goal(budget_bytes=16), n_queries=200, time_budget_s=0.0)
    assert len({r["factory"] for r in plan["candidates"]}) == 1  # the first is always measured
    assert plan["skipped"] and all("time budget" in s["reason"] for s in plan["skipped"])
    assert plan["pick"]["knn_accuracy"] is None and plan["float_knn_accuracy"] is None


def test_goals_that_cannot_be_met_or_asked_are_refused(corpus, budget_plan):
    x, labels = corpus
    fields = planner.Measurement.__dataclass_fields__
    rows = [planner.Measurement(**{k: r[k] for k in fields}) for r in budget_plan["candidates"]]  # all <= 8 B
    with pytest.raises(planner.PlanError, match="no candidate reached recall@10 >= 0.9999; the best was"):
        planner.pick(rows, planner.Goal(target_recall=0.9999), "recall_at_10")
    with pytest.raises(planner.PlanError, match="exactly one"):
        planner.plan(x, labels, planner.Goal(budget_bytes=8, target_recall=0.5))
    with pytest.raises(planner.PlanError, match="needs labels"):
        planner.plan(x, None, planner.Goal(max_loss_points=1.0))
    with pytest.raises(planner.PlanError, match="no candidate searched within 1e-09 ms"):
        planner.pick(rows, planner.Goal(budget_bytes=8, max_latency_ms=1e-9), "recall_at_10")


def test_flat_codes_of_unit_vectors_are_also_measured_unit_decoded(budget_plan, corpus):
    rows = budget_plan["candidates"]
    unit = [r for r in rows if r["unit_decode"]]
    assert unit and all(r["codec"].endswith(" unit-decoded") and r["nprobe"] is None for r in unit)
    for r in unit:  # beside the same candidate's plain search: same codes, same bytes
        plain = next(p for p in rows if p["candidate"] == r["candidate"] and not p["unit_decode"])
        assert plain["bytes_per_vector"] == r["bytes_per_vector"] and plain["train_s"] == r["train_s"]
    # the same corpus without unit length: no unit-decoded variants
    x, _ = corpus
    scaled = x * np.linspace(0.5, 2.0, len(x), dtype="float32")[:, None]
    plan = planner.plan(scaled, None, planner.Goal(budget_bytes=4), n_queries=200, time_budget_s=5)
    assert not any(r["unit_decode"] for r in plan["candidates"])


def test_a_costly_variant_that_would_overrun_the_budget_is_skipped(corpus, monkeypatch):
    from transforms import candidates

    base = candidates.Candidate("RQ2x6", "rq")
    costly = candidates.Candidate("RQ2x6", "rq", params=(("max_beam_size", 4),), after="RQ2x6", cost=1e9)
    monkeypatch.setattr(candidates, "generate", lambda *a, **k: [base, costly])
    x, _ = corpus
    plan = planner.plan(x, None, planner.Goal(budget_bytes=2), n_queries=200, time_budget_s=60)
    assert {r["candidate"] for r in plan["candidates"]} == {"RQ2x6"}
    (skip,) = plan["skipped"]
    assert skip["codec"] == "RQ2x6 max_beam_size=4"
    assert "1e+09x RQ2x6), past the time budget" in skip["reason"]


def _rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


@pytest.mark.parametrize("share", [0.9, 0.5, 0.1])
def test_part_of_the_database_is_held_out_when_the_run_trains_on_part_of_the_corpus(corpus, share):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, trained_share=share)
    db, train, queries = _rows(split.database), _rows(split.train), _rows(split.queries)
    assert len(db) == 2800 and not queries & db and train < db
    assert split.held_out == len(db - train) == round(2800 * min(1 - share, planner.MAX_HELD_OUT))
    assert _rows(split.database[split.held]) == db - train
    assert len(split.db_labels) == 2800 and split.truth.max() < 2800


def test_recall_weighs_trained_on_and_held_out_neighbours_by_the_runs_share(corpus):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, trained_share=0.3)
    assert split.recall(split.truth) == pytest.approx(1.0)
    only_seen = np.where(split.held[split.truth], -1, split.truth)  # every held-out neighbour missed
    assert split.held[split.truth].any() and (~split.held[split.truth]).any()
    assert split.recall(only_seen) == pytest.approx(0.3)
    only_unseen = np.where(split.held[split.truth], split.truth, -1)
    assert split.recall(only_unseen) == pytest.approx(0.7)


def test_holding_out_never_costs_the_candidates_their_8_bit_codebooks():
    x = np.random.default_rng(1).standard_normal((10_500, 8)).astype("float32")
    split = planner.Split.make(x, None, 100, 0, trained_share=0.2)
    assert len(split.train) == planner.codec.EIGHT_BIT_POINTS and split.held_out == 10_400 - len(split.train)
    assert len(split.database) == 10_400


def test_a_run_that_trains_on_the_whole_corpus_is_measured_on_its_training_vectors(corpus):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, trained_share=1.0)
    assert split.train is split.database and split.held is None and split.held_out == 0
    assert split.trained is None
    for bad in (0.0, 1.5):
        with pytest.raises(planner.PlanError, match="trained share"):
            planner.Split.make(x, labels, 200, 0, trained_share=bad)


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_a_training_sub_sample_counts_the_rows_it_leaves_out_as_never_seen(corpus, share):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, trained_share=share, train_size=1000)
    db, train = _rows(split.database), _rows(split.train)
    assert len(train) == split.trained.sum() == 1000 and _rows(split.database[split.trained]) == train
    if split.held is not None:  # the sub-sample is drawn from what the run's share leaves for training
        assert not (split.trained & split.held).any()
        assert split.held_out == round(2800 * planner.MAX_HELD_OUT)
    seen = split.trained[split.truth]
    assert seen.any() and (~seen).any()
    only_seen = np.where(seen, split.truth, -1)
    assert split.recall(only_seen) == pytest.approx(share)  # a run on all of it: only trained-on rows count
    assert split.recall(np.where(seen, -1, split.truth)) == pytest.approx(1 - share)
    assert len(db) == 2800
    with pytest.raises(planner.PlanError, match="at least 1 vector, got 0"):
        planner.Split.make(x, labels, 200, 0, train_size=0)


def test_a_plan_on_a_training_sub_sample_says_how_recall_counts_the_rest(corpus):
    x, labels = corpus
    plan = planner.plan(
        x, labels, planner.Goal(budget_bytes=4), n_queries=200, train_size=1000, time_budget_s=30
    )
    assert plan["sample"]["train"] == 1000 and plan["sample"]["held_out"] == 0
    text = plan_report.markdown(plan)
    assert (
        "codecs trained on 1000 (a seeded sub-sample of the 2800 database vectors; recall@10 weighs" in text
    )
    assert "trained on as 100.0% and 0.0%)" in text


def test_codecs_train_only_on_the_training_part_and_encode_the_whole_database(corpus, monkeypatch):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, trained_share=0.3)
    trained_on, encoded = [], []
    real_train, real_encode = planner.codec.train, planner.encoding.encode_vectors
    monkeypatch.setattr(planner.codec, "train", lambda v, *a: trained_on.append(v) or real_train(v, *a))
    monkeypatch.setattr(
        planner.encoding, "encode_vectors", lambda idx, v: encoded.append(v) or real_encode(idx, v)
    )
    planner.measure(planner.candidates.Candidate("PQ8x4", "pq"), split)
    assert _rows(trained_on[0]) == _rows(split.train)
    assert _rows(encoded[0]) == _rows(split.database)
    assert len(_rows(split.database) - _rows(trained_on[0])) == split.held_out > 0


@pytest.fixture(scope="module")
def big_corpus():
    """Enough vectors for 8-bit codebooks (and a 12-bit wide one at 2 per centroid)."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((16, 16)).astype("float32") * 2
    x = centres[rng.integers(0, 16, 10_600)] + rng.standard_normal((10_600, 16)).astype("float32")
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")


def _rq_only(monkeypatch):
    from transforms import candidates

    real = candidates.generate
    keep = lambda c: c.name == "RQ2x8" or c.family == "rq-wide"  # noqa: E731
    monkeypatch.setattr(candidates, "generate", lambda *a, **k: [c for c in real(*a, **k) if keep(c)])


def test_a_wide_first_codebook_is_measured_when_the_sample_is_the_corpus_the_run_trains_on(
    big_corpus, monkeypatch
):
    _rq_only(monkeypatch)
    plan = planner.plan(big_corpus, None, planner.Goal(budget_bytes=2), n_queries=200, time_budget_s=60)
    wide = [r for r in plan["candidates"] if r["family"] == "rq-wide"]
    assert {r["codec"] for r in wide} == {
        "RQ1x12_1x4 min_points_per_centroid=2",
        "RQ1x12_1x4 min_points_per_centroid=2 unit-decoded",
    }
    assert all(r["params"] == {"min_points_per_centroid": 2} and r["bytes_per_vector"] == 2 for r in wide)
    assert not plan["skipped"]
    assert "trained at 2 vectors per centroid (faiss asks 39)" in plan_report.markdown(plan)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"corpus_rows": 50_000}, "the plan's sample is not the whole corpus of 50,000 documents"),
        ({"trained_share": 0.5, "corpus_rows": 21_200}, "the run trains on 50.0% of the corpus"),
        ({"train_size": 10_000}, "the plan trains on a sub-sample of 10,000 (--train-size)"),
    ],
)
def test_a_wide_first_codebook_is_not_measured_where_it_would_be_overrated(
    big_corpus, monkeypatch, kwargs, reason
):
    _rq_only(monkeypatch)
    goal = planner.Goal(budget_bytes=2)
    plan = planner.plan(big_corpus, None, goal, n_queries=200, time_budget_s=60, **kwargs)
    assert {r["candidate"] for r in plan["candidates"]} == {"RQ2x8"}
    (skip,) = plan["skipped"]
    assert skip["codec"].startswith("RQ1x12_") and reason in skip["reason"]
    assert "a wide first codebook memorises its training vectors" in plan_report.markdown(plan)


def test_bytes_per_vector_read_as_whole_bytes_from_100_up():
    assert [plan_report.per_vector_text(x) for x in (1326.4, 100.0, 25.46, 0.83721)] == [
        "1,326",
        "100",
        "25.5",
        "0.837",
    ]

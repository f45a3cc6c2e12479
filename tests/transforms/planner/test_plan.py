"""The planner on synthetic clustered vectors: frontier, picks for each kind of goal, clear refusals."""

from dataclasses import asdict

import numpy as np
import pytest

from tests.conftest import clustered
from transforms import planner
from transforms.codec import codec
from transforms.planner import candidates
from transforms.planner import report as plan_report


@pytest.fixture(scope="module")
def corpus():
    return clustered(3000, 32, 8, seed=0)


@pytest.fixture(scope="module")
def budget_plan(corpus):
    x, labels = corpus
    return planner.plan(
        x, labels, planner.Goal(budget_bytes=8), planner.PlanOptions(n_queries=200, time_budget_s=60)
    )


def test_budget_pick_is_the_best_measured_codec_within_the_budget(budget_plan):
    plan = budget_plan
    pick, rows = plan.pick, plan.candidates
    assert pick.bytes_per_vector <= 8
    assert pick.recall_at_10 == max(r.recall_at_10 for r in rows if r.bytes_per_vector <= 8)
    for key in ("codec", "bytes_per_vector", "recall_at_10", "knn_accuracy"):
        assert getattr(pick, key) is not None
    assert plan.why.startswith("highest recall_at_10 of") and pick in rows
    assert pick.knn_loss_points == pytest.approx(100 * (plan.float_knn_accuracy - pick.knn_accuracy))
    written = plan.to_json()  # as plan.json holds it: the pick carries the float baseline and why
    assert written["pick"] == {
        **pick.to_json(),
        "float_knn_accuracy": plan.float_knn_accuracy,
        "why": plan.why,
    }
    assert not any(r.refine for r in rows)  # no stored budget: one tier only
    # the run trains on its whole 3,000-document corpus and this is it: in sample
    assert asdict(plan.sample) == {
        "vectors": 3000,
        "learn": 2800,
        "base": 2800,
        "queries": 200,
        "knn_probes": 3000,  # the queries and every base vector, left out in turn
        "out_of_sample": False,
        "eight_bit_codebooks": False,
        "corpus_rows": 3000,
        "codec_copies": 1,
        "sampled_from": 3000,
        "dim": 32,
        "seed": 0,
    }


def test_bytes_per_vector_are_real_the_codec_is_spread_over_the_corpus(budget_plan, corpus):
    rows = {r.codec: r for r in budget_plan.candidates}
    assert all(r.bytes_per_vector <= 8 for r in rows.values())  # sized so before anything was trained
    # over 3,000 documents a PCA rotation (5.6 KB) costs about 2 B a vector: PCAR8,SQ8 would not fit 8 B
    assert "PCAR8,SQ8" not in rows
    split = planner.Split.make(*corpus, n_queries=200, seed=0, out_of_sample=False)
    pca_sq = codec.train(split.learn, "PCAR10,SQ4")  # as the planner trained it (deterministic)
    row = rows["PCAR10,SQ4"]
    assert row.codec_bytes == codec.serialized_size(pca_sq) > 32 * 32 * 4
    assert row.code_bytes == 5 and row.bytes_per_vector == round(5 + row.codec_bytes / 3000, 2)
    assert row.compression == round(128 / row.bytes_per_vector, 2)
    assert budget_plan.pick.code_bytes < 8
    # planned for a far larger corpus, the same codecs are nearly free
    x, labels = corpus
    big = planner.plan(
        x,
        labels,
        planner.Goal(budget_bytes=8),
        planner.PlanOptions(n_queries=200, time_budget_s=60, corpus_rows=10**7),
    )
    assert big.pick.code_bytes == 8 and big.sample.out_of_sample
    assert "PCAR8,SQ8" in {r.codec for r in big.candidates}


def test_every_shard_s_codec_copy_counts_and_families_left_out_say_why(corpus, budget_plan):
    x, labels = corpus
    four = planner.plan(
        x,
        labels,
        planner.Goal(budget_bytes=8),
        planner.PlanOptions(n_queries=200, time_budget_s=60, codec_copies=4),
    )
    assert four.sample.codec_copies == 4
    for row in four.candidates:  # each of the 4 copies over the 3,000 rows, as the index files hold them
        assert row.bytes_per_vector == round(row.code_bytes + row.codec_bytes / (3000 // 4), 2) <= 8
    one = {r.codec for r in budget_plan.candidates}
    assert "PCAR10,SQ4" in one and "PCAR10,SQ4" not in {r.codec for r in four.candidates}
    said = {s.codec.split(",")[0][:3] for s in four.skipped}
    assert "PCA" in said and all("shard copies" in s.reason for s in four.skipped if "PCA" in s.codec)


def test_frontier_rows_are_not_beaten_on_both_bytes_and_quality(budget_plan):
    rows = budget_plan.candidates
    front = [r for r in rows if r.codec in budget_plan.frontier]
    for f in front:
        assert not any(
            r.bytes_per_vector <= f.bytes_per_vector and r.recall_at_10 > f.recall_at_10 for r in rows
        )


def test_target_and_loss_goals_pick_the_fewest_bytes(corpus):
    x, labels = corpus
    plan = planner.plan(
        x, labels, planner.Goal(target_recall=0.6), planner.PlanOptions(n_queries=200, time_budget_s=60)
    )
    ok = [r for r in plan.candidates if r.recall_at_10 >= 0.6]
    assert plan.pick.recall_at_10 >= 0.6
    assert plan.pick.bytes_per_vector == min(r.bytes_per_vector for r in ok)
    loss = planner.plan(
        x, labels, planner.Goal(max_loss_points=1.0), planner.PlanOptions(n_queries=200, time_budget_s=60)
    )
    assert loss.objective == "knn_accuracy" and loss.pick.knn_loss_bound <= 1.0
    assert loss.pick.knn_loss_points <= loss.pick.knn_loss_bound  # held to the upper bound
    cheaper = [r for r in loss.candidates if r.bytes_per_vector < loss.pick.bytes_per_vector]
    assert all(r.knn_loss_bound > 1.0 for r in cheaper)


def test_a_loss_bound_counts_the_noise_of_few_queries():
    from transforms.search import evaluation

    float_ok = np.array([True] * 90 + [False] * 10)
    index_ok = float_ok.copy()
    index_ok[:2] = False  # 2 of 100 queries lost: 2 points, give or take
    bound = evaluation.loss_upper_bound(float_ok, index_ok)
    assert 2.0 < bound < 4.5
    assert evaluation.loss_upper_bound(float_ok, float_ok) == 0.0


def test_a_stored_budget_adds_two_tier_pairs_within_it(corpus):
    x, labels = corpus
    goal = planner.Goal(budget_bytes=8, stored_budget_bytes=32)
    plan = planner.plan(x, labels, goal, planner.PlanOptions(n_queries=200, time_budget_s=60))
    two = [r for r in plan.candidates if r.refine]
    assert two and all(r.stored_bytes_per_vector <= 32 for r in two)
    assert {r.refine for r in two} == {"SQ4", "SQ6"}  # SQ8 of 32 dims + an 8-byte row id is 40 bytes
    assert {r.rerank for r in two} == {2, 4, 8, 16, 32}
    pick = plan.pick
    assert pick.refine and pick.recall_at_10 > 0.9  # the stored tier re-ranks what 8 bytes found
    one_tier = max(r.recall_at_10 for r in plan.candidates if not r.refine and r.bytes_per_vector <= 8)
    assert pick.recall_at_10 > one_tier + 0.3
    assert f"a stored tier of {pick.refine} codes" in plan_report.markdown(plan)


def test_a_spent_time_budget_skips_the_rest_and_says_so(corpus):
    x, labels = corpus
    plan = planner.plan(
        x, None, planner.Goal(budget_bytes=20), planner.PlanOptions(n_queries=200, time_budget_s=0.0)
    )
    assert len({r.factory for r in plan.candidates}) == 1  # the first is always measured
    timed_out = [s for s in plan.skipped if "time budget" in s.reason]
    left_out = [s for s in plan.skipped if "over the budget of 20" in s.reason]
    assert timed_out and len(timed_out) + len(left_out) == len(plan.skipped)
    assert plan.pick.knn_accuracy is None and plan.float_knn_accuracy is None


def test_goals_that_cannot_be_met_or_asked_are_refused(corpus, budget_plan):
    x, labels = corpus
    rows = budget_plan.candidates
    with pytest.raises(planner.PlanError, match="no candidate reached recall@10 >= 0.9999; the best was"):
        planner.pick(rows, planner.Goal(target_recall=0.9999), "recall_at_10")
    with pytest.raises(planner.PlanError, match="exactly one"):
        planner.plan(x, labels, planner.Goal(budget_bytes=8, target_recall=0.5))
    with pytest.raises(planner.PlanError, match="needs labels"):
        planner.plan(x, None, planner.Goal(max_loss_points=1.0))
    with pytest.raises(planner.PlanError, match="no candidate searched within 1e-09 ms"):
        planner.pick(rows, planner.Goal(budget_bytes=8, max_latency_ms=1e-9), "recall_at_10")
    with pytest.raises(
        planner.PlanError, match=r"no candidate fits in 0.5 bytes per vector .*the smallest was"
    ):
        planner.pick(rows, planner.Goal(budget_bytes=0.5), "recall_at_10")


def test_flat_codes_of_unit_vectors_are_also_measured_unit_decoded(budget_plan, corpus):
    rows = budget_plan.candidates
    unit = [r for r in rows if r.unit_decode]
    assert unit and all(r.codec.endswith(" unit-decoded") and r.nprobe is None for r in unit)
    for r in unit:  # beside the same candidate's plain search: same codes, same bytes
        plain = next(p for p in rows if p.candidate == r.candidate and not p.unit_decode)
        assert plain.bytes_per_vector == r.bytes_per_vector and plain.train_s == r.train_s
    x, _ = corpus
    scaled = x * np.linspace(0.5, 2.0, len(x), dtype="float32")[:, None]
    plan = planner.plan(
        scaled, None, planner.Goal(budget_bytes=4), planner.PlanOptions(n_queries=200, time_budget_s=5)
    )
    assert not any(r.unit_decode for r in plan.candidates)


def test_rabitq_is_measured_at_the_budget(corpus):
    # a code is its bits plus 8 bytes of factors (20 for several bits): as many PCA dimensions as fit
    assert [c.name for c in candidates.rabitq(384, 48, 20_000)] == [
        "PCAR320,RaBitQ", "PCAR112,RaBitQ2", "PCAR56,RaBitQ4"
    ]  # fmt: skip
    assert [c.name for c in candidates.rabitq(384, 24, 20_000)] == ["PCAR128,RaBitQ"]  # 2 bits: 16 dims
    assert [c.name for c in candidates.rabitq(384, 56, 20_000)][:2] == ["RaBitQ", "RR384,RaBitQ"]
    assert candidates.rabitq(32, 8, 3000) == []  # 1 bit on 8 dimensions is already 9 bytes
    x, labels = corpus
    plan = planner.plan(
        x, labels, planner.Goal(budget_bytes=24), planner.PlanOptions(n_queries=200, time_budget_s=60)
    )
    rows = {r.candidate: r for r in plan.candidates}
    assert {"RaBitQ", "RR32,RaBitQ", "IVF64,RaBitQ"} <= set(rows)
    # 12 bytes of code either way, and the IVF lists keep an 8-byte id beside each
    ivf, flat = rows["IVF64,RaBitQ"], rows["RaBitQ"]
    assert ivf.code_bytes == flat.code_bytes + 1  # the list number, which faiss's code counts
    assert ivf.bytes_per_vector == round(ivf.code_bytes + 8 + ivf.codec_bytes / 3000, 2)


def test_a_costly_variant_that_would_overrun_the_budget_is_skipped(corpus, monkeypatch):
    base = candidates.Candidate("RQ2x5", "rq")
    costly = candidates.Candidate("RQ2x5", "rq", params=(("max_beam_size", 4),), after="rq", cost=1e9)
    monkeypatch.setattr(candidates, "generate", lambda *a, **k: [base, costly])
    x, _ = corpus
    plan = planner.plan(
        x,
        None,
        planner.Goal(budget_bytes=2),
        planner.PlanOptions(n_queries=200, time_budget_s=60, corpus_rows=10**7),
    )
    assert {r.candidate for r in plan.candidates} == {"RQ2x5"}
    (skip,) = plan.skipped
    assert skip.codec == "RQ2x5 max_beam_size=4"
    assert "1e+09x RQ2x5), past the time budget" in skip.reason


def _rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


def test_out_of_sample_learn_base_and_queries_are_disjoint(corpus):
    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, out_of_sample=True)
    learn, base, queries = _rows(split.learn), _rows(split.base), _rows(split.queries)
    assert not (learn & base) and not (learn & queries) and not (base & queries)
    assert len(learn) == 1400 and len(base) == 1400 and len(queries) == 200  # half the rest learns
    assert split.truth.max() < len(base) and len(split.base_labels) == len(base)
    capped = planner.Split.make(x, labels, 200, 0, out_of_sample=True, train_size=500)
    assert len(capped.learn) == 500 and _rows(capped.base) == base  # fewer to learn, the same base
    with pytest.raises(planner.PlanError, match="at least 1 vector, got 0"):
        planner.Split.make(x, labels, 200, 0, train_size=0)


def test_knn_loss_is_measured_on_the_queries_and_base_vectors_left_out_in_turn(corpus, monkeypatch):
    import faiss

    from transforms.planner import split as split_mod
    from transforms.search import evaluation

    x, labels = corpus
    monkeypatch.setattr(split_mod, "MAX_PROBES", 700)
    split = planner.Split.make(x, labels, 200, 0, out_of_sample=True)
    nq = len(split.queries)
    assert len(split.searched) == 700 and np.array_equal(split.searched[:nq], split.queries)
    left_out = split.probe_self[nq:]
    assert (split.probe_self[:nq] == -1).all() and len(set(left_out.tolist())) == 500
    np.testing.assert_array_equal(split.searched[nq:], split.base[left_out])
    # each left-out vector's neighbours are the K nearest of the others, never itself
    others = np.delete(split.base, left_out[0], axis=0)
    _, want = faiss.knn(split.base[left_out[:1]], others, 10)
    want = np.where(want >= left_out[0], want + 1, want)
    assert np.array_equal(split.knn_truth[nq], want[0]) and left_out[0] not in split.knn_truth[nq]
    label_of = dict(enumerate(split.base_labels))
    assert split.float_knn == evaluation.knn_accuracy(split.knn_truth, split.probe_labels, label_of)
    # a lossless codec loses nothing on them, and its recall is the queries' alone
    (exact,) = planner.measure(candidates.Candidate("Flat", "flat"), split, corpus_rows=3000)
    assert exact.knn_loss_points == 0.0 and exact.knn_loss_bound == 0.0 and exact.recall_at_10 == 1.0
    # a codec's K + 1 nearest: a left-out vector's own code is dropped wherever it ranks, or the last one is
    found = np.tile(np.arange(100, 111), (len(split.searched), 1))
    found[nq, 3] = left_out[0]
    found[nq + 1, 0] = left_out[1]
    kept = split.neighbours(found)
    assert kept.shape == (len(split.searched), 10)
    assert kept[0].tolist() == list(range(100, 110))  # a query: its first K
    assert left_out[0] not in kept[nq] and left_out[1] not in kept[nq + 1]
    assert kept[nq].tolist() == [100, 101, 102, 104, 105, 106, 107, 108, 109, 110]


def test_in_sample_only_when_the_run_trains_on_its_whole_corpus_and_the_sample_is_it():
    assert not planner.out_of_sample(corpus_rows=3000, run_sample=100_000, sample=3000)
    assert planner.out_of_sample(corpus_rows=3000, run_sample=2000, sample=3000)  # the run trains on part
    assert planner.out_of_sample(corpus_rows=50_000, run_sample=100_000, sample=20_000)  # a sample of it


def test_codecs_train_on_learn_and_encode_the_base(corpus, monkeypatch):
    from transforms.index import encoding

    x, labels = corpus
    split = planner.Split.make(x, labels, 200, 0, out_of_sample=True)
    trained_on, encoded = [], []
    real_train, real_encode = codec.train, encoding.encode_vectors
    monkeypatch.setattr(codec, "train", lambda v, *a, **k: trained_on.append(v) or real_train(v, *a, **k))
    monkeypatch.setattr(encoding, "encode_vectors", lambda idx, v: encoded.append(v) or real_encode(idx, v))
    planner.measure(candidates.Candidate("PQ8x4", "pq"), split, corpus_rows=3000)
    assert _rows(trained_on[0]) == _rows(split.learn) and _rows(encoded[0]) == _rows(split.base)


def test_the_report_says_how_the_sample_was_cut(corpus):
    x, labels = corpus
    plan = planner.plan(
        x,
        labels,
        planner.Goal(budget_bytes=4),
        planner.PlanOptions(n_queries=200, time_budget_s=30, run_sample=1000),
    )
    text = plan_report.markdown(plan)
    assert (
        "Out of sample: 1,400 vectors to train on, 1,400 others to index, 200 queries, all disjoint" in text
    )
    assert "kNN accuracy is measured on the queries and 1,400 indexed vectors, each left out in turn" in text
    assert "kNN loss grows with the vectors searched" in text  # the base is smaller than the corpus
    assert "measured among 1,400, expect more among the corpus's 3,000." in text


def test_bytes_per_vector_read_as_whole_bytes_from_100_up():
    assert [plan_report.per_vector_text(x) for x in (1326.4, 100.0, 25.46, 0.83721)] == [
        "1,326",
        "100",
        "25.5",
        "0.837",
    ]


def test_a_small_sample_out_of_sample_searches_as_many_as_it_learns_and_still_measures_8_bit_codebooks(
    capfd, caplog
):
    x = np.random.default_rng(0).standard_normal((11_293, 16)).astype("float32")  # 20 Newsgroups' train
    split = planner.Split.make(x, None, 1000, 0, out_of_sample=True)
    assert (len(split.learn), len(split.base), len(split.queries)) == (5146, 5147, 1000)
    # 8-bit codebooks (256 centroids) need 9,984 points: the run's 11,293 hold them, the plan trains on 5,146
    options = planner.PlanOptions(n_queries=1000, time_budget_s=0, run_sample=11_293, corpus_rows=10**6)
    plan = planner.plan(x, None, planner.Goal(budget_bytes=8), options)
    assert plan.sample.learn == 5146 and plan.sample.eight_bit_codebooks
    assert "8-bit codebooks train on the 5,146 learn vectors, fewer than the 9,984" in plan_report.protocol(
        plan.sample
    )
    offered = {r.candidate for r in plan.candidates} | {s.codec for s in plan.skipped}
    assert {"PCAR14,PQ7", "OPQ7_14,PQ7"} <= offered  # PQ8's codebooks would not fit 8 B over 1M rows
    capfd.readouterr()
    with caplog.at_level("INFO", logger="transforms.codec.kmeans_warnings"):
        (pq,) = planner.measure(candidates.Candidate("PCAR14,PQ7", "pq"), split, corpus_rows=10**6)
    assert pq.code_bytes == 7 and pq.recall_at_10 > 0
    # faiss warns once per codebook trained short: the 7 warnings are one log line, not 7 on stderr
    assert "WARNING clustering" not in capfd.readouterr().err
    assert "PCAR14,PQ7: 7 k-means runs had fewer than 39 points per centroid" in caplog.text
    with pytest.raises(codec.CodecError, match="needs >= 9984"):
        codec.train(split.learn, "PQ8")  # a run is held to faiss's 39 points per centroid

"""Candidate codecs: sized to the budget, trainable on the sample, cheap families first."""

import faiss

from transforms.codec import codec
from transforms.planner import candidates


def test_budget_candidates_fit_the_budget_and_the_sample():
    cands = candidates.generate(384, 12_000, budget_bytes=24)
    names = [c.name for c in cands]
    assert {"PQ48x4fs", "RQ24x8", "PRQ2x12x8", "OPQ24,PQ24", "ITQ192,LSH", "LSQ24x8"} <= set(names)
    assert "PCAR128,RaBitQ" in names and not any("RaBitQ2" in n or "RaBitQ4" in n for n in names)
    assert "RQ24x8 max_beam_size=16" in names
    for c in cands:
        index = faiss.index_factory(384, c.factory)
        assert index.sa_code_size() <= 24, c.name
        codec.check_trainable(c.factory, 384, 12_000)
    ivf = [c for c in cands if c.family == "ivf-pq"]
    # an IVF list keeps each vector's 8-byte id beside its code: 16 code bytes fill a 24-byte budget
    assert ivf and ivf[0].nprobes and faiss.index_factory(384, ivf[0].factory).sa_code_size() == 16
    assert ivf[0].real_bytes(10**12) == 24  # no corpus size given: the codec is free
    # costlier variants come after every plain codec, each naming the family whose plain codec it must beat
    first_variant = next(i for i, c in enumerate(cands) if c.after)
    assert all(c.after for c in cands[first_variant:])
    assert all(c.after in {b.family for b in cands if not b.params} for c in cands if c.after)


def test_variants_come_after_every_plain_codec_the_cheapest_first():
    cands = candidates.generate(384, 12_000, budget_bytes=24)
    variants = [c.cost for c in cands if c.after]
    assert variants == sorted(variants) and variants


def test_small_samples_get_no_8_bit_codebooks():
    names = [c.name for c in candidates.generate(64, 2_000, budget_bytes=16)]
    assert "PQ32x4fs" in names and "PCAR16,SQ8" in names
    assert not any(n.startswith(("LSQ", "OPQ", "PRQ", "PQ16")) or "x8" in n for n in names)
    assert "RQ32x4" in names  # 16-entry codebooks train on 624 points


def test_8_bit_codebooks_are_measured_on_half_their_points_when_the_run_trains_them_on_enough():
    plan_only = {c.name for c in candidates.generate(64, 6_000, budget_bytes=16)}
    assert "PQ16" not in plan_only  # judged by the plan's 6,000 points: 8-bit codebooks need 9,984
    for_run = {c.name for c in candidates.generate(64, 6_000, budget_bytes=16, run_train=100_000)}
    assert {"PQ16", "OPQ16,PQ16"} <= for_run and plan_only <= for_run
    small_run = {c.name for c in candidates.generate(64, 6_000, budget_bytes=16, run_train=9_000)}
    assert "PQ16" not in small_run  # the run itself could not train them
    assert candidates.trains_on(6_000, 100_000) == 12_000 and candidates.trains_on(6_000, None) == 6_000
    assert candidates.trains_on(4_000, 9_984) == 8_000  # too few to measure 8-bit codebooks on
    # IVF lists stay as many as the plan's own points train
    ivf = [c for c in candidates.generate(64, 6_000, budget_bytes=16, run_train=10**6) if "IVF" in c.name]
    assert ivf and all(
        codec.MIN_POINTS_PER_CENTROID * int(c.factory.split("IVF")[1].split(",")[0]) <= 6_000 for c in ivf
    )


def test_without_a_budget_every_ladder_size_is_offered():
    sizes = {faiss.index_factory(128, c.factory).sa_code_size() for c in candidates.generate(128, 12_000)}
    assert {4, 8, 16, 32, 64, 128, 256} <= sizes


def test_a_time_budget_measures_the_cheap_families_and_plain_pq_before_the_slow_ones():
    cands = candidates.generate(384, 12_000, budget_bytes=48, corpus_rows=10**6)
    first = {}
    for i, c in enumerate(cands):
        first.setdefault(c.family, i)
    # full-width ITQ and the residual quantizers train for minutes: after PQ and OPQ
    for slow in ("itq", "rq", "prq"):
        assert first["pq"] < first["opq"] < first[slow]
    assert first["ivf-pq"] < first["pq"]


def test_each_family_comes_at_the_largest_code_whose_real_size_fits_the_budget():
    free = candidates.generate(384, 20_000, budget_bytes=48)  # no corpus given: the codec costs nothing
    big = {c.family: c for c in free if not c.params}
    assert big["pq"].name == "PQ48" and big["opq"].name == "OPQ48,PQ48" and big["rq"].name == "RQ48x8"
    cands = candidates.generate(384, 20_000, budget_bytes=48, corpus_rows=10**6)
    assert all(c.real_bytes(10**6) <= 48 for c in cands)
    by = {c.family: c for c in cands if not c.params}
    # PQ48 would be 48.39 B a vector over a million rows: the PQ that fits is on a PCA rotation, 46 B
    assert by["pq"].name == "PCAR368,PQ46" and by["pq"].code_bytes == 46
    assert by["pq4-fastscan"].name == "PCAR368,PQ92x4fs"
    # residual codebooks grow with every byte (98 KB each here): a smaller code is what fits
    assert by["rq"].code_bytes == 34 and by["rq"].real_bytes(10**6) > 47
    # 16-entry codebooks are a sixteenth of that: 4-bit RQ fits at 45 B (RQ96x4 would be 50.36 B)
    assert by["rq4"].name == "RQ90x4" and 47 < by["rq4"].real_bytes(10**6) <= 48


def test_the_codec_size_estimate_is_what_faiss_keeps():
    import numpy as np

    x = np.random.default_rng(0).standard_normal((12_000, 32)).astype("float32")
    for cand in candidates.generate(32, 12_000, budget_bytes=4, corpus_rows=10**9):
        if cand.after or cand.family == "opq+reduction":  # the same arrays as plain RQ, as OPQ
            continue
        real = codec.serialized_size(codec.train(x, cand.factory, dict(cand.params)))
        estimate = 4 * cand.codec_floats + candidates.CODEC_HEADER_BYTES
        assert 0.9 * 4 * cand.codec_floats <= real <= estimate, cand.name

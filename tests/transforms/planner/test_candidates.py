"""Candidate codecs: sized to the budget, trainable on the sample, cheap families first."""

import faiss

from transforms import codec
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
    assert ivf and ivf[0].nprobes and faiss.index_factory(384, ivf[0].factory).sa_code_size() == 24
    # costlier variants come after every plain codec, each naming the base it must beat
    first_variant = next(i for i, c in enumerate(cands) if c.after)
    assert all(c.after for c in cands[first_variant:])
    assert all(c.after in names for c in cands if c.after)


def test_variants_come_after_every_plain_codec_the_cheapest_first():
    cands = candidates.generate(384, 12_000, budget_bytes=24)
    variants = [c.cost for c in cands if c.after]
    assert variants == sorted(variants) and variants


def test_small_samples_get_no_8_bit_codebooks():
    names = [c.name for c in candidates.generate(64, 2_000, budget_bytes=16)]
    assert "PQ32x4fs" in names and "PCAR16,SQ8" in names
    assert not any(n.startswith(("RQ", "LSQ", "OPQ", "PRQ", "PQ16")) for n in names)


def test_without_a_budget_every_ladder_size_is_offered():
    sizes = {faiss.index_factory(128, c.factory).sa_code_size() for c in candidates.generate(128, 12_000)}
    assert {4, 8, 16, 32, 64, 128, 256} <= sizes


def test_a_time_budget_measures_the_cheap_families_and_plain_pq_before_the_slow_ones():
    from dataclasses import replace

    cands = candidates.generate(384, 12_000, budget_bytes=48)
    half = [replace(c, below_budget=True) for c in candidates.generate(384, 12_000, budget_bytes=24)]
    ordered = [c.name for c in sorted(cands + half, key=candidates.order_key)]
    # full-width ITQ and the residual quantizers train for minutes: after PQ and OPQ at the budget's size
    for slow in ("ITQ384,LSH", "RQ48x8", "PRQ2x24x8"):
        assert ordered.index("PQ48") < ordered.index("OPQ48,PQ48") < ordered.index(slow)
    # within a family, the budget's own size before the one below it
    assert ordered.index("PCAR188,IVF256,PQ47np") < ordered.index("PCAR92,IVF256,PQ23np")

"""Candidate codecs: sized to the budget, trainable on the sample, cheap families first."""

import faiss

from transforms import candidates, codec


def test_budget_candidates_fit_the_budget_and_the_sample():
    cands = candidates.generate(384, 12_000, budget_bytes=24)
    names = [c.name for c in cands]
    assert {"PQ48x4fs", "RQ24x8", "PRQ2x12x8", "OPQ24,PQ24", "ITQ192,LSH", "LSQ24x8"} <= set(names)
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


def test_a_wide_first_codebook_is_as_wide_as_two_vectors_per_centroid_allow_and_only_when_asked():
    wide = candidates.wide_rq(24, 10_293)
    assert wide.factory == "RQ1x12_22x8_1x4" and wide.family == "rq-wide" and wide.after == "RQ24x8"
    assert dict(wide.params) == {codec.SPARSE_PARAM: 2}
    assert candidates.wide_rq(2, 1_000_000).factory == "RQ1x16"  # at most 16 bits, and never past the size
    assert candidates.wide_rq(4, 600) is None
    for size, n in ((24, 10_293), (16, 20_000), (2, 1_000_000), (5, 3_000)):
        c = candidates.wide_rq(size, n)
        assert faiss.index_factory(384, c.factory).sa_code_size() == size, c.factory
    plain = candidates.generate(384, 12_000, budget_bytes=24)
    widened = candidates.generate(384, 12_000, budget_bytes=24, wide=True)
    assert not any(c.family == "rq-wide" for c in plain)
    (extra,) = set(widened) - set(plain)
    assert extra.name == "RQ1x12_22x8_1x4 min_points_per_centroid=2"
    assert widened.index(extra) > widened.index(candidates.Candidate("RQ24x8", "rq"))
    variants = [c.cost for c in widened if c.after]
    assert variants == sorted(variants)  # the cheapest variants first


def test_small_samples_get_no_8_bit_codebooks():
    names = [c.name for c in candidates.generate(64, 2_000, budget_bytes=16)]
    assert "PQ32x4fs" in names and "PCAR16,SQ8" in names
    assert not any(n.startswith(("RQ", "LSQ", "OPQ", "PRQ", "PQ16")) for n in names)


def test_without_a_budget_every_ladder_size_is_offered():
    sizes = {faiss.index_factory(128, c.factory).sa_code_size() for c in candidates.generate(128, 12_000)}
    assert {4, 8, 16, 32, 64, 128, 256} <= sizes

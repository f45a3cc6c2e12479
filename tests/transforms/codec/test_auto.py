from transforms.codec import auto, codec


def test_the_default_is_two_tiers_of_rabitq_and_sq8_at_any_size():
    for n in (1, 40, 140, 5000, 100_000):
        chosen = auto.auto_choice(n_train=n, n_total=n, dim=384)
        assert (chosen.factory, chosen.refine, chosen.rerank, chosen.nprobe) == ("RaBitQ", "SQ8", 10, None)
        codec.check_trainable(chosen.factory, 384, n)  # RaBitQ trains on the mean alone
    assert auto.auto_choice(100_000, 100_000, 32).factory == "RaBitQ8"  # 256 bits a code at least
    assert auto.auto_choice(100_000, 100_000, 64).factory == "RaBitQ4"


def test_the_default_searches_lists_above_two_million_vectors():
    chosen = auto.auto_choice(n_train=100_000, n_total=4_000_000, dim=384)
    assert chosen.factory == "IVF2048,RaBitQ" and chosen.nprobe == 256
    small = auto.auto_choice(n_train=20_000, n_total=4_000_000, dim=384)
    assert small.factory == "IVF512,RaBitQ" and any("nlist reduced from 4096" in r for r in small.reasons)
    codec.check_trainable(small.factory, 384, 20_000)

import dataclasses

from tests.conftest import small_config
from transforms.run.stage_keys import StageKeys

VERSIONS = [{"url": "in/a.parquet", "size": 10, "mtime": "1"}]


def _keys(**changes) -> StageKeys:
    return StageKeys.of(small_config("corpus", **{"model": "fake:8", **changes}), VERSIONS)


def _changed(a: StageKeys, b: StageKeys) -> set[str]:
    return {f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)}


def test_keys_chain_from_what_each_stage_depends_on():
    base = _keys()
    assert _keys() == base  # the same inputs, the same keys
    assert _changed(base, _keys(eval_queries=7)) == {"evaluate"}
    # each shard holds a copy of the codec, which a planned codec counts: fit depends on the shards too
    assert _changed(base, _keys(shards=3)) == {"fit", "encode", "build", "evaluate"}
    assert _changed(base, _keys(codec="PQ4")) == {"fit", "encode", "build", "evaluate"}
    assert _changed(base, _keys(model="fake:16")) == {"embed", "fit", "encode", "build", "evaluate"}
    assert _changed(base, _keys(output="elsewhere")) == {"embed", "fit", "encode", "build", "evaluate"}
    new_input = StageKeys.of(
        small_config("corpus", model="fake:8"),
        [{**VERSIONS[0], "mtime": "2"}],
    )
    assert _changed(base, new_input) == {"embed", "fit", "encode", "build", "evaluate"}


def test_how_the_model_runs_is_not_what_it_computes():
    """The device and the batch size change nothing the stages write: no key changes with them."""
    assert _keys(device="cpu", batch_size=7) == _keys()

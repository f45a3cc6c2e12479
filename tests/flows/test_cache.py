"""The stage cache: a hit copies the earlier run's files into the new run and checks them; damaged or gone
files are never reused, the stage runs again."""

from prefect import task

from flows import cache
from transforms.storage import integrity, io
from transforms.storage import layout as layout_mod
from transforms.storage.layout import RunLayout

CALLS: list[str] = []


@task(cache_key_fn=cache.by_key, persist_result=True)
def fit(layout: RunLayout, key: str) -> dict:
    """A stand-in stage with the real contract: writes its files under codec/, returns where and their
    records."""
    CALLS.append(layout.run_id)
    io.write_bytes(layout.dir("codec/codec.json"), f'{{"key": "{key}"}}'.encode())
    return {"root": layout.root, "files": integrity.describe(layout.root, layout_mod.STAGE_FILES["fit"])}


def test_a_hit_copies_and_checks_the_files_and_damage_recomputes(prefect_server, tmp_path):
    CALLS.clear()
    output = str(tmp_path / "out")
    storage = cache.result_storage(output)
    first = RunLayout(output, "run-1")
    result, source = cache.run_cached(fit, "fit", "k1", storage, layout=first)
    assert source is None and CALLS == ["run-1"] and result["root"] == first.root

    second = RunLayout(output, "run-2")
    result, source = cache.run_cached(fit, "fit", "k1", storage, layout=second)
    assert source == first.root and CALLS == ["run-1"]  # reused, not run
    assert result["root"] == second.root and not integrity.problems(second.root, result["files"])
    assert io.read_bytes(second.dir("codec/codec.json")) == b'{"key": "k1"}'

    io.write_bytes(first.dir("codec/codec.json"), b'{"key": "tampered"}')  # the cached run's file changes
    third = RunLayout(output, "run-3")
    result, source = cache.run_cached(fit, "fit", "k1", storage, layout=third)
    assert source is None and CALLS == ["run-1", "run-3"]  # run again instead
    assert io.read_bytes(third.dir("codec/codec.json")) == b'{"key": "k1"}'

    other = RunLayout(output, "run-4")
    cache.run_cached(fit, "fit", "k2", storage, layout=other)  # another key is another result
    assert CALLS == ["run-1", "run-3", "run-4"]


def test_the_key_is_the_one_the_flow_computed():
    assert cache.by_key(None, {"key": "abc", "layout": object()}) == "abc"

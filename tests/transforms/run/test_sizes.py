import pytest

from tests.conftest import make_manifest
from transforms.codec import codec_files
from transforms.run import sizes
from transforms.storage import io
from transforms.storage.layout import RunLayout


def test_sizes_count_every_byte_of_the_index_files_and_the_stored_tier(tmp_path):
    layout = RunLayout(str(tmp_path), "r", 2)
    io.write_bytes(io.join(layout.codec, codec_files.CODEC_INDEX), b"c" * 100)
    for i, n in enumerate((1000, 1400)):
        io.write_bytes(layout.shard("index", i), b"i" * n)
        io.write_bytes(layout.shard("refine", i), b"r" * 160)
    one = make_manifest(str(tmp_path), "r", 2).codec
    out = sizes.run_sizes(layout, one, 100)
    assert out["index_bytes"] == 2400 and out["index_bytes_per_vector"] == 24
    assert out["list_bytes_per_vector"] == (2400 - 2 * 100) / 100  # less each shard's codec copy
    assert out["stored_bytes"] == 0  # one tier: the refine files are not its
    assert out["compression_all_told"] == pytest.approx(4 * one.dim * 100 / 2400, abs=0.01)
    two = one.__class__(**{**one.to_json(), "refine": "SQ8", "refine_code_size": 8})
    stored = sizes.run_sizes(layout, two, 100)["stored_bytes"]
    assert stored == 2 * 160 + 100 * 8  # where the fine codes are, and the fine codes in the code files

from transforms.storage import io


def test_expand_sorts_globs_and_directories(tmp_path):
    for name in ("b.parquet", "a.parquet", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.rsplit("/", 1)[1] for p in io.expand(str(tmp_path))] == ["a.parquet", "b.parquet"]
    assert [p.rsplit("/", 1)[1] for p in io.expand(f"{tmp_path}/*.txt")] == ["notes.txt"]
    assert io.expand(f"{tmp_path}/missing.parquet") == []


def test_memory_urls_keep_their_protocol(memory_root):
    io.write_bytes(f"{memory_root}/in/x.parquet", b"abc")
    assert io.expand(f"{memory_root}/in/*.parquet") == [f"{memory_root}/in/x.parquet"]
    assert io.read_bytes(f"{memory_root}/in/x.parquet") == b"abc"


def test_atomic_write_replaces_without_leftovers(tmp_path):
    target = str(tmp_path / "CURRENT")
    io.atomic_write_bytes(target, b"one")
    io.atomic_write_bytes(target, b"two")
    assert io.read_bytes(target) == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT"]


def test_sha256_and_size(tmp_path):
    url = str(tmp_path / "f")
    io.write_bytes(url, b"hello")
    assert io.size(url) == 5
    assert io.sha256(url) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

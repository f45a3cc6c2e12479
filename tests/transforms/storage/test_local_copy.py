"""local_copy.LocalCopy: an object-store file copied to the local disk, checked there, removed with it."""

import os

import fsspec
import pytest

from transforms.storage import integrity, local_copy

URL = "memory://local-copy-test/shard-00000.arrow"


@pytest.fixture
def remote():
    fs = fsspec.filesystem("memory")
    data = os.urandom(100_000)
    fs.pipe(URL, data)
    yield fs, data
    if fs.exists(URL):
        fs.rm(URL)


def test_the_copy_holds_the_file_and_goes_with_the_object(remote):
    _, data = remote
    copy = local_copy.LocalCopy(URL, integrity.of_bytes(data).to_json())
    assert os.path.basename(copy.path) == "shard-00000.arrow"
    assert open(copy.path, "rb").read() == data
    path = copy.path
    del copy
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


def test_damage_is_named_by_the_object_not_the_copy(remote):
    fs, data = remote
    record = integrity.of_bytes(data).to_json()
    fs.pipe(URL, data[:-10])
    with pytest.raises(integrity.IntegrityError, match=f"{URL}: 99990 bytes where 100000 were written"):
        local_copy.LocalCopy(URL, record)
    fs.pipe(URL, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(integrity.IntegrityError, match=f"{URL}: content differs"):
        local_copy.LocalCopy(URL, record)
    fs.rm(URL)
    with pytest.raises(integrity.IntegrityError, match=f"{URL}: missing, although it was written"):
        local_copy.LocalCopy(URL, record)

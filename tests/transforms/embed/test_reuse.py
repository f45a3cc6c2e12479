"""Texts found again by their hash: read from the column's buffer, looked up without a Python loop."""

import numpy as np
import pyarrow as pa
import pytest

from transforms.embed.reuse import HASH, EarlierVectors, hash_prefix, hash_values, text_hash
from transforms.storage.schemas import TEXT_HASH


def test_hash_values_are_the_column_s_bytes_even_ending_in_zeros():
    hashes = [text_hash(t) for t in ("a", "b", "c")] + [b"\x01" * 8 + b"\x00" * 8]
    column = pa.chunked_array([pa.array(hashes[:2], TEXT_HASH), pa.array(hashes[2:], TEXT_HASH)])
    values = hash_values(column)
    assert values.dtype == HASH and [v.ljust(16, b"\x00") for v in values.tolist()] == hashes
    assert hash_values(pa.array(hashes, TEXT_HASH).slice(1, 2)).tolist() == hashes[1:3]
    assert hash_prefix(values).tolist() == [int.from_bytes(h[:8], "big") for h in hashes]
    with pytest.raises(ValueError, match="nulls"):
        hash_values(pa.array([hashes[0], None], TEXT_HASH))


def test_find_gives_the_first_earlier_row_of_each_text_or_minus_one():
    earlier = EarlierVectors([])  # no earlier chunks: nothing is found
    assert earlier.find([text_hash("a")]).tolist() == [-1]
    texts = ["b", "a", "b", "c"]  # "b" twice: the first row is the one reused
    keys = np.array([text_hash(t) for t in texts], HASH)
    order = np.argsort(keys, kind="stable")
    earlier.keys = keys[order]
    earlier.prefixes = hash_prefix(earlier.keys)
    found = earlier.find([text_hash(t) for t in ("a", "b", "z", "c")])
    assert [int(order[f]) if f >= 0 else -1 for f in found] == [1, 0, -1, 3]


def test_hashes_sharing_their_first_eight_bytes_are_told_apart():
    earlier = EarlierVectors([])
    same = b"\x07" * 8
    keys = np.array(sorted([same + b"\x01" * 8, same + b"\x02" * 8, same + b"\x03" * 8, b"\x09" * 16]), HASH)
    earlier.keys, earlier.prefixes = keys, hash_prefix(keys)
    found = earlier.find([same + b"\x03" * 8, same + b"\x02" * 8, same + b"\x04" * 8, b"\x09" * 16])
    assert found.tolist() == [2, 1, -1, 3]

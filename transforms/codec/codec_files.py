"""A codec's files in a run's ``codec/`` folder: the trained empty index (``codec.faiss``), its record
(``codec.json``) and, for two tiers, the stored tier's quantizer; each checked against its fingerprint, and
against its record in the run when one is given, before it is used."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from transforms.codec import refine as stored_tier
from transforms.codec.codec import CodecError, apply_params, fingerprint
from transforms.codec.info import CodecInfo
from transforms.storage import integrity, io

CODEC_INDEX = "codec.faiss"
CODEC_JSON = "codec.json"


def save(codec_url: str, index: Any, info: CodecInfo, refine_index: Any = None) -> None:
    """Write the trained codec (and the stored tier's quantizer, for two tiers) and its description."""
    import faiss

    io.write_bytes(io.join(codec_url, CODEC_INDEX), faiss.serialize_index(index).tobytes())
    if refine_index is not None:
        io.write_bytes(
            io.join(codec_url, stored_tier.REFINE_INDEX), faiss.serialize_index(refine_index).tobytes()
        )
    io.write_json(io.join(codec_url, CODEC_JSON), info.to_json())


def load(codec_url: str, expect: dict[str, Any] | None = None) -> tuple[Any, CodecInfo]:
    """Load the trained empty index and its description, checking the fingerprint matches; with ``expect``
    (the records of ``codec.faiss`` and ``codec.json`` by file name), both files are checked first."""
    import faiss

    expect = expect or {}
    json_url, index_url = io.join(codec_url, CODEC_JSON), io.join(codec_url, CODEC_INDEX)
    info = CodecInfo(**json.loads(integrity.read_verified(json_url, expect.get(CODEC_JSON))))
    index = faiss.deserialize_index(
        np.frombuffer(integrity.read_verified(index_url, expect.get(CODEC_INDEX)), np.uint8)
    )
    if fingerprint(index) != info.fingerprint:
        raise CodecError(f"{codec_url}: {CODEC_INDEX} does not match the fingerprint in {CODEC_JSON}")
    apply_params(index, info.params)
    return index, info


def load_refine(codec_url: str, info: CodecInfo, expect: dict[str, Any] | None = None) -> Any:
    """The stored tier's trained quantizer of a two-tier codec (None for one tier), checked against its
    fingerprint and, with ``expect``, its record."""
    import faiss

    if info.refine is None:
        return None
    url = io.join(codec_url, stored_tier.REFINE_INDEX)
    quantizer = faiss.deserialize_index(
        np.frombuffer(integrity.read_verified(url, (expect or {}).get(stored_tier.REFINE_INDEX)), np.uint8)
    )
    if fingerprint(quantizer) != info.refine_fingerprint:
        raise CodecError(f"{url} does not match the fingerprint in {CODEC_JSON}")
    return quantizer

"""What the exported backends need of a sentence-transformers folder, read from its files alone: the fast
tokenizer (``tokenizer.json``, through the Rust ``tokenizers`` library), the pooling mode, the output size,
the token limit and whether it normalizes. Loading these needs neither torch nor transformers (most of
what loading the model cost `vecpress search`), so a model already exported starts without them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOKENIZER = "tokenizer.json"


@dataclass(frozen=True)
class ModelFacts:
    dim: int
    pooling: str  # "mean" or "cls"
    normalize: bool  # the folder ends with a Normalize module
    max_length: int  # tokens read per text (sentence-transformers' max_seq_length)


def facts(folder: str, max_seq_length: int | None = None) -> ModelFacts:
    """The folder's pooling, size, normalization and token limit (``max_seq_length`` overrides the
    folder's, as ``SentenceTransformer.max_seq_length = ...`` does)."""
    root = Path(folder)
    modules = json.loads((root / "modules.json").read_text())
    pooling = json.loads((root / modules[1]["path"] / "config.json").read_text())
    mode = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
    normalize = any(m["type"].rsplit(".", 1)[-1] == "Normalize" for m in modules)
    return ModelFacts(int(pooling["word_embedding_dimension"]), mode, normalize,
                      max_seq_length or _max_length(root))  # fmt: skip


def _max_length(root: Path) -> int:
    config = root / "sentence_bert_config.json"
    if config.exists():
        found = json.loads(config.read_text()).get("max_seq_length")
        if found:
            return int(found)
    tokenizer = json.loads((root / "tokenizer_config.json").read_text())
    return int(min(tokenizer.get("model_max_length", 512), 512))


class Tokenizer:
    """The folder's fast tokenizer, padding to the longest text of a call and cutting at ``max_length``:
    the ids, mask and token types transformers' tokenizer gives for ``padding=True, truncation=True``. Its
    settings are fixed once here, so concurrent calls change nothing shared."""

    def __init__(self, folder: str, max_length: int):
        from tokenizers import Tokenizer as Rust

        root = Path(folder)
        self.rust = Rust.from_file(str(root / TOKENIZER))
        config = json.loads((root / "tokenizer_config.json").read_text())
        pad = config.get("pad_token", "[PAD]")
        pad = pad["content"] if isinstance(pad, dict) else pad
        self.rust.enable_truncation(max_length)
        self.rust.enable_padding(pad_id=self.rust.token_to_id(pad) or 0, pad_token=pad)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        encoded = self.rust.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encoded], np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], np.int64),
        }


def has_fast_tokenizer(folder: str) -> bool:
    return (Path(folder) / TOKENIZER).exists()

"""Content keys of the cached stages: each is its stage's name, the version of what it writes
(transforms.storage.formats, never a hash of source code: a refactor redoes nothing), and everything else
its output depends on. Keys chain, so a stage is redone when an earlier one is. The output is part of every
key: reused files are copied within one output, never across outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transforms.embed.chunks import embedding_identity
from transforms.storage.fingerprint import stage_key


@dataclass(frozen=True)
class StageKeys:
    embed: str
    fit: str
    encode: str
    build: str
    evaluate: str

    @classmethod
    def of(cls, config: Any, versions: list[dict[str, Any]]) -> StageKeys:
        """``config``: a ReindexConfig (read, not imported); ``versions``: each input file's version."""
        embed = stage_key(
            "embed", config.output, versions, config.columns(), embedding_identity(config.embedder()),
            config.on_bad_file,
        )  # fmt: skip
        fit = stage_key("fit", embed, config.fit_settings().key(), config.full)
        encode = stage_key("encode", fit, config.shards)
        build = stage_key("build", encode)
        evaluate = stage_key(
            "evaluate", build, config.eval_queries, config.k, config.seed, config.label_column
        )
        return cls(embed, fit, encode, build, evaluate)

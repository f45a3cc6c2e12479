"""Content keys of the cached stages: each is its stage's name, the version of the code that makes its
output (its modules, following their repository imports: editing the codec does not make the embeddings
stale), and everything else its output depends on. Keys chain, so a stage is redone when an earlier one is.
The output is part of every key: reused files are copied within one output, never across outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transforms.fingerprint import stage_key

STAGE_CODE = {
    "embed": ("pipelines.embed",),
    "fit": ("transforms.fit_stage", "transforms.planner.report"),
    "encode": ("pipelines.encode",),
    "build": ("pipelines.build",),
}


@dataclass(frozen=True)
class StageKeys:
    embed: str
    fit: str
    encode: str
    build: str

    @classmethod
    def of(cls, config: Any, versions: list[dict[str, Any]]) -> StageKeys:
        """``config``: a ReindexConfig (read, not imported); ``versions``: each input file's version."""
        embed = stage_key(
            "embed", STAGE_CODE["embed"], config.output, versions, config.columns(), config.embedder(),
            config.on_bad_file,
        )  # fmt: skip
        fit = stage_key("fit", STAGE_CODE["fit"], embed, config.fit_settings(), config.full)
        encode = stage_key("encode", STAGE_CODE["encode"], fit, config.shards)
        build = stage_key("build", STAGE_CODE["build"], encode)
        return cls(embed, fit, encode, build)

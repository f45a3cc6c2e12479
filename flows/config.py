"""The one typed configuration of a re-indexing run (pydantic at the Prefect/CLI boundary)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from transforms.choice import CodecSettings
from transforms.embedder import DEFAULT_MODEL, EmbedderSpec
from transforms.errors import VecpressError
from transforms.fit_stage import FitSettings
from transforms.planner import Goal
from transforms.reading import Columns


class ConfigError(VecpressError, ValueError):
    """An option or config key with a value vecpress cannot use; the message names the option."""


def explain(err: ValidationError, source: str = "") -> ConfigError:
    """One line per bad option, named as the flag and the config key: ``--shards (shards): ...``."""
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown config key {key!r} (see 'vecpress run --help' for the options)")
            continue
        flag = f"--{key.replace('_', '-')} ({key})" if key else "config"
        got = "" if e["type"] == "missing" else f", got {e.get('input')!r}"
        parts.append(f"{flag}: {e['msg'].removeprefix('Value error, ')}{got}")
    return ConfigError(f"{source}{'; '.join(parts)}")


class ReindexConfig(BaseModel):
    """Everything a run needs; also loadable from YAML. Unknown keys are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: str = Field(description="Parquet file, directory or glob; any fsspec URL")
    output: str = Field(description="output root; runs are written under <output>/runs/<run_id>/")
    id_column: str = "id"
    text_column: str = "text"
    label_column: str | None = None

    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or local path")
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    batch_size: int = Field(64, ge=1)
    normalize: bool = True
    max_seq_length: int | None = Field(None, ge=8, description="token limit; the model's own when unset")
    backend: Literal["torch", "onnx", "openvino"] = Field(
        "torch", description="run the model with torch, ONNX Runtime or OpenVINO (the last two on the CPU)"
    )
    precision: Literal["fp32", "fp16", "int8"] = Field(
        "fp32", description="fp16: halved weights, torch on CUDA; int8: 8-bit weights, onnx or openvino"
    )

    codec: str = Field("auto", description="faiss index_factory string, or 'auto'")
    budget_bytes: int | None = Field(
        None, ge=1, description="auto: the planner's best codec in this many bytes"
    )
    target_recall: float | None = Field(None, gt=0, le=1, description="auto: cheapest codec reaching it")
    max_loss_points: float | None = Field(None, ge=0, description="auto: cheapest within this kNN loss")
    max_latency_ms: float | None = Field(None, gt=0, description="planner: search latency limit per query")
    plan_time_budget_s: float = Field(600, gt=0, description="planner: measuring time budget")
    stored_budget_bytes: float | None = Field(
        None, gt=0, description="auto with a goal: also consider a stored tier of this many bytes/vector"
    )
    refine: str | None = Field(
        None,
        description="a stored tier for an explicit codec: SQ8, SQ6, SQ4, SQfp16 or SQbf16 codes kept on disk "
        "that re-rank the in-memory codes' candidates (--codec auto picks its own)",
    )
    rerank: int = Field(
        10, ge=1, description="two tiers: candidates per result re-ranked from the stored tier"
    )
    unit_decode: bool = Field(
        False, description="search a flat codec by unit-length reconstructions (normalized embeddings)"
    )
    shards: int = Field(4, ge=1, le=99999)
    on_bad_file: Literal["fail", "skip"] = Field(
        "fail",
        description="a Parquet file (or row group) that cannot be decoded fails the run, or its rows go to "
        "rejects.arrow and the run goes on",
    )
    sample_size: int = Field(100_000, ge=1, description="training sample for the codec")
    seed: int = 0
    nprobe: int = Field(16, ge=1)
    eval_queries: int = Field(1000, ge=1)
    k: int = Field(10, ge=1)

    runner: str = Field("DirectRunner", description="Beam runner for the embed/encode/build pipelines")
    pipeline_args: list[str] = Field(default_factory=list, description="extra Beam pipeline options")
    run_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    full: bool = Field(
        False,
        description="re-index from scratch: embed every document and train the codec again, reusing nothing "
        "from earlier runs",
    )
    lock_lease_s: float = Field(
        300, ge=5, description="the output lock frees itself this long after its holder's last heartbeat"
    )

    @classmethod
    def from_yaml(cls, *paths: str | Path, **overrides: Any) -> ReindexConfig:
        """Merge YAML files left to right (e.g. a run config, then a runner profile), then ``overrides``."""
        data: dict[str, Any] = {}
        for path in paths:
            try:
                layer = yaml.safe_load(Path(path).read_text()) or {}
            except (OSError, yaml.YAMLError) as err:
                raise ConfigError(f"{path}: cannot read this config file ({err})".replace("\n", " ")) from err
            if not isinstance(layer, dict):
                raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
            data.update(layer)
        return cls.build(**{**data, **{k: v for k, v in overrides.items() if v is not None}})

    @classmethod
    def build(cls, **values: Any) -> ReindexConfig:
        """The config, or a ConfigError naming every bad option in one line."""
        try:
            return cls(**values)
        except ValidationError as err:
            raise explain(err) from None

    @model_validator(mode="after")
    def _goal_needs_auto(self) -> ReindexConfig:
        if self.codec != "auto" and self.plan_goal() is not None:
            raise ValueError(
                "--budget-bytes/--target-recall/--max-loss-points choose the codec: use --codec auto"
            )
        if self.refine is not None and self.codec == "auto":
            raise ValueError("--refine adds a stored tier to an explicit codec; --codec auto chooses its own")
        if self.unit_decode and (self.codec == "auto" or not self.normalize):
            raise ValueError(
                "--unit-decode needs normalized embeddings and an explicit flat codec (e.g. --codec RQ24x8); "
                "with --codec auto and a goal the planner measures it and decides"
            )
        return self

    def plan_goal(self) -> Goal | None:
        """The planner's goal when the codec is to be planned, else None (auto sizing without measuring)."""
        goal = Goal(
            self.budget_bytes, self.target_recall, self.max_loss_points, self.max_latency_ms,
            self.stored_budget_bytes,
        )  # fmt: skip
        if (goal.budget_bytes, goal.target_recall, goal.max_loss_points) == (None, None, None):
            return None
        return goal

    def codec_settings(self) -> CodecSettings:
        return CodecSettings(
            codec=self.codec,
            refine=self.refine,
            rerank=self.rerank,
            unit_decode=self.unit_decode,
            nprobe=self.nprobe,
            goal=self.plan_goal(),
            plan_time_budget_s=self.plan_time_budget_s,
            seed=self.seed,
        )

    def fit_settings(self) -> FitSettings:
        return FitSettings(
            codec=self.codec_settings(),
            sample_size=self.sample_size,
            model=self.model,
            normalize=self.normalize,
            max_seq_length=self.max_seq_length,
            labels=self.label_column is not None,
            backend=self.backend,
            precision=self.precision,
        )

    def columns(self) -> Columns:
        return Columns(id=self.id_column, text=self.text_column, label=self.label_column)

    def embedder(self) -> EmbedderSpec:
        return EmbedderSpec(
            self.model, self.device, self.batch_size, self.normalize, self.max_seq_length, self.precision,
            self.backend,
        )  # fmt: skip

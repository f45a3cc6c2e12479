"""The typed configuration of vecpress's commands (pydantic at the Prefect/CLI boundary). ``ReindexConfig``
(a run) and ``PlanConfig`` (a plan) share their embedding and goal options, so each option has one default,
which the command line shows in ``--help``. Over 300 lines because every option is declared here once with
its type, bounds, default and description (the CLI's help and the YAML config both read them); split, the
options of one command would be spread over files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from transforms.codec.choice import CodecSettings
from transforms.embedders.spec import DEFAULT_MODEL, EmbedderSpec
from transforms.fit.fit_stage import FitSettings
from transforms.planner import Goal
from transforms.read.reading import Columns
from transforms.run import gc
from transforms.storage.errors import VecpressError

SAMPLE_SIZE = 100_000  # a run's codec training sample; a plan measures for a run of this sample by default


class ConfigError(VecpressError, ValueError):
    """An option or config key with a value vecpress cannot use; the message names the option."""


# options whose flag is not the field's name with dashes
FLAGS = {
    "plan_time_budget_s": "--time-budget",
    "lock_lease_s": "--lock-lease",
    "gc_grace_s": "--gc-grace",
    "pipeline_args": "--pipeline-arg",
}


def flag(key: str) -> str:
    return FLAGS.get(key, "--" + key.replace("_", "-"))


def explain(err: ValidationError, source: str = "") -> ConfigError:
    """One line per bad option, named as the flag and the config key: ``--shards (shards): ...``."""
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown config key {key!r} (see 'vecpress run --help' for the options)")
            continue
        message = e["msg"].removeprefix("Value error, ")
        if not key:  # a rule across options: its message names them
            parts.append(message)
            continue
        got = "" if e["type"] == "missing" else f", got {e.get('input')!r}"
        parts.append(f"{flag(key)} ({key}): {message}{got}")
    return ConfigError(f"{source}{'; '.join(parts)}")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def build(cls, **values: Any):
        """The config, or a ConfigError naming every bad option in one line."""
        try:
            return cls(**values)
        except ValidationError as err:
            raise explain(err) from None


class EmbedOptions(_Options):
    """How documents are read and embedded: the same for a run and for the plan made for it."""

    id_column: str = Field("id", description="column holding each document's unique id")
    text_column: str = Field("text", description="column holding the text to embed")
    label_column: str | None = Field(
        None, description="optional column of labels: kNN-10 accuracy is measured on them"
    )
    model: str = Field(DEFAULT_MODEL, description="sentence-transformers model name or local path")
    device: str = Field("auto", description="auto (CUDA when present, else CPU), cpu, cuda, cuda:N")
    batch_size: int = Field(64, ge=1, description="documents per model call")
    normalize: bool = Field(True, description="scale embeddings to unit length (cosine similarity)")
    max_seq_length: int | None = Field(None, ge=8, description="token limit; the model's own when unset")
    backend: Literal["auto", "torch", "onnx", "openvino"] = Field(
        "auto",
        description="run the model with torch, ONNX Runtime or OpenVINO (the last two on the CPU); auto: "
        "OpenVINO on the CPU (README: Faster embedding), torch on CUDA",
    )
    precision: Literal["auto", "fp32", "fp16", "int8"] = Field(
        "auto",
        description="fp16: halved weights, torch on CUDA; int8: 8-bit weights (openvino: and activations), "
        "onnx or openvino; auto: int8 on openvino, else fp32",
    )
    seed: int = Field(0, description="seed of every sample and split")

    @model_validator(mode="after")
    def _resolve_backend(self):
        """``auto`` becomes the backend and precision that will run (transforms.embedders.backends.choose),
        so the codec, the manifest and the stage keys record what embedded, never ``auto``."""
        from transforms.embedders import backends

        backend = backends.choose(self.backend, self.precision, self.device, self.model)
        object.__setattr__(self, "backend", backend)  # frozen: set once, while validating
        object.__setattr__(self, "precision", backends.choose_precision(self.precision, backend))
        return self

    def columns(self) -> Columns:
        return Columns(id=self.id_column, text=self.text_column, label=self.label_column)

    def embedder(self) -> EmbedderSpec:
        return EmbedderSpec(
            self.model, self.device, self.batch_size, self.normalize, self.max_seq_length, self.precision,
            self.backend,
        )  # fmt: skip


class GoalOptions(_Options):
    """The planner's goal: one of the first three, optionally a latency limit and a stored tier."""

    budget_bytes: int | None = Field(None, ge=1, description="best quality within this many bytes per vector")
    target_recall: float | None = Field(None, gt=0, le=1, description="fewest bytes reaching this recall@10")
    max_loss_points: float | None = Field(
        None, ge=0, description="fewest bytes within this many points of kNN-10 accuracy loss (needs labels)"
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="only codecs searching within this per query"
    )
    stored_budget_bytes: float | None = Field(
        None,
        gt=0,
        description="also consider two tiers: finer codes of up to this many bytes per vector stored on "
        "disk, read only to re-rank the in-memory codes' candidates (without it, plans are one tier)",
    )
    plan_time_budget_s: float = Field(600, gt=0, description="seconds the planner spends measuring codecs")

    def goal(self) -> Goal | None:
        """The goal, or None when none of budget, recall and loss is given."""
        goal = Goal(
            self.budget_bytes, self.target_recall, self.max_loss_points, self.max_latency_ms,
            self.stored_budget_bytes,
        )  # fmt: skip
        if (goal.budget_bytes, goal.target_recall, goal.max_loss_points) == (None, None, None):
            return None
        return goal


class ReindexConfig(EmbedOptions, GoalOptions):
    """Everything a run needs; also loadable from YAML. Unknown keys are an error, not ignored."""

    input: str = Field(description="Parquet file, directory or glob; any fsspec URL")
    output: str = Field(description="output root; runs are written under <output>/runs/<run_id>/")

    codec: str = Field(
        "auto",
        description="faiss index_factory string, or 'auto': sized to the corpus, or planned for a goal",
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
        False,
        description="search a flat codec by its reconstructions scaled to unit length (what a plan's "
        "'unit-decoded' rows measured); --codec auto with a goal decides this itself",
    )
    shards: int = Field(
        4, ge=1, le=99999, description="index shards (and code files) the corpus is split into"
    )
    on_bad_file: Literal["fail", "skip"] = Field(
        "fail",
        description="a Parquet file or row group that cannot be decoded fails the run, or is skipped with "
        "its rows in rejects.arrow (files whose footer or schema is unreadable: listed in the manifest)",
    )
    sample_size: int = Field(SAMPLE_SIZE, ge=1, description="embeddings the codec is trained on")
    nprobe: int = Field(16, ge=1, description="IVF lists searched per query")
    eval_queries: int = Field(1000, ge=1, description="held-out documents the run's evaluation queries with")
    k: int = Field(10, ge=1, description="neighbours the evaluation compares")

    runner: str = Field(
        "DirectRunner",
        description="Beam runner for the embed/encode/build pipelines (DirectRunner, DaskRunner, "
        "FlinkRunner, DataflowRunner, ...)",
    )
    pipeline_args: list[str] = Field(
        default_factory=list,
        description="an extra Beam pipeline option (repeat), e.g. --pipeline-arg=--foo=1",
    )
    run_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="name of the run's folder under runs/ (default: the UTC time)",
    )
    full: bool = Field(
        False,
        description="re-index from scratch: embed every document and train the codec again (a nightly run "
        "reuses the embeddings of unchanged documents and keeps a codec that still fits)",
    )
    lock_lease_s: float = Field(
        300,
        ge=5,
        description="seconds after its holder's last heartbeat that the output lock frees itself (a holder "
        "on this host whose process is gone frees it at once)",
    )
    embed_cache: str | None = Field(
        None,
        description="a folder or object-store URL where embed chunks are kept for several outputs of one "
        "corpus to share (a second output embeds nothing the first did); runs list their chunks there by "
        "URL, and gc leaves it alone",
    )
    keep_runs: int = Field(
        gc.KEEP_RUNS,
        ge=1,
        description="published runs kept after this one publishes (the newest, the current one always, and "
        "any replaced within --gc-grace); older runs and the chunks only they used are removed",
    )
    gc_grace_s: float = Field(
        gc.GRACE_S,
        ge=0,
        description="seconds a replaced run (and a chunk no kept run lists) is kept all the same: servers "
        "still swapping off it, runs not yet published",
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

    @model_validator(mode="after")
    def _goal_needs_auto(self) -> ReindexConfig:
        if self.codec != "auto" and self.goal() is not None:
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

    def codec_settings(self) -> CodecSettings:
        return CodecSettings(
            codec=self.codec,
            refine=self.refine,
            rerank=self.rerank,
            unit_decode=self.unit_decode,
            nprobe=self.nprobe,
            goal=self.goal(),
            plan_time_budget_s=self.plan_time_budget_s,
            seed=self.seed,
            shards=self.shards,
        )

    def fit_settings(self) -> FitSettings:
        return FitSettings(
            codec=self.codec_settings(),
            sample_size=self.sample_size,
            embedder=self.embedder(),
            labels=self.label_column is not None,
        )


class PlanConfig(EmbedOptions, GoalOptions):
    """What ``vecpress plan`` measures on and for: a sample of Parquet input or a run's embeddings."""

    input: str | None = Field(None, description="Parquet file, directory or glob: embed a sample of it")
    embeddings: str | None = Field(
        None, description="a vecpress output: reuse its published run's embeddings"
    )
    sample: int = Field(20_000, ge=2, description="vectors to plan on")
    objective: Literal["recall", "knn"] = Field("recall", description="what a budget maximises")
    queries: int = Field(1000, ge=1, description="held-out query vectors")
    train_size: int = Field(
        20_000,
        ge=1,
        description="codec training sub-sample (database vectors left out of it count as unseen in "
        "recall@10)",
    )
    run_sample_size: int = Field(
        SAMPLE_SIZE,
        ge=1,
        description="the training sample of the run the plan is for (run's --sample-size): when the corpus "
        "is bigger, the plan measures codecs on vectors they were not trained on (out of sample)",
    )
    corpus_rows: int | None = Field(
        None,
        ge=1,
        description="the documents the index will hold, over which the codec's own bytes are spread in each "
        "candidate's bytes per vector (default: the input's rows)",
    )
    shards: int = Field(
        4,
        ge=1,
        le=99999,
        description="index shards of the run the plan is for (run's --shards): each holds a copy of the "
        "codec, and every copy counts in the bytes per vector",
    )
    out: str = Field("plan", description="folder for plan.json, plan.md, plan.png")

    @model_validator(mode="after")
    def _one_source(self) -> PlanConfig:
        if (self.input is None) == (self.embeddings is None):
            raise ValueError(
                "give --input (Parquet to embed a sample of) or --embeddings (a vecpress output)"
            )
        return self

"""Which codec a run trains: planned for a goal, the default, or the one asked for; then train it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transforms import planner
from transforms.codec import auto, codec, refine
from transforms.codec.auto import DEFAULT_RERANK
from transforms.planner import Goal, Plan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodecSettings:
    """The run's codec options (ReindexConfig's, without Prefect or pydantic)."""

    codec: str = "auto"
    refine: str | None = None  # a stored tier for an explicit codec
    rerank: int = DEFAULT_RERANK
    unit_decode: bool = False
    nprobe: int = 16
    goal: Goal | None = None
    plan_time_budget_s: float = 600.0
    seed: int = 0
    shards: int = 1  # each index shard holds a copy of the codec: a plan counts every one


@dataclass
class Chosen:
    factory: str
    nprobe: int
    params: dict[str, int] = field(default_factory=dict)
    unit_decode: bool = False
    refine: str | None = None
    rerank: int = 1
    reasons: list[str] = field(default_factory=list)
    plan: Plan | None = None  # the full plan when the planner chose


def choose(
    vectors: np.ndarray, labels: list[str | None] | None, n_total: int, settings: CodecSettings
) -> Chosen:
    """The codec for a run whose training sample is ``vectors`` (of ``n_total`` documents)."""
    if settings.goal is not None:
        plan = planner.plan(
            vectors,
            labels,
            settings.goal,
            planner.PlanOptions(
                time_budget_s=settings.plan_time_budget_s,
                seed=settings.seed,
                corpus_rows=n_total,
                run_sample=len(vectors),
                codec_copies=settings.shards,
            ),
        )
        pick = plan.pick
        logger.info("plan: %s (%s)", pick.codec, plan.why)
        return Chosen(
            pick.factory,
            pick.nprobe or settings.nprobe,
            dict(pick.params),
            pick.unit_decode,
            pick.refine,
            pick.rerank or 1,
            plan=plan,
        )
    if settings.codec == "auto":
        default = auto.auto_choice(len(vectors), n_total, vectors.shape[1])
        return Chosen(
            default.factory, default.nprobe or settings.nprobe, refine=default.refine, rerank=default.rerank,
            reasons=default.reasons,
        )  # fmt: skip
    rerank = settings.rerank if settings.refine else 1
    return Chosen(settings.codec, settings.nprobe, {}, settings.unit_decode, settings.refine, rerank)


def train(vectors: np.ndarray, chosen: Chosen) -> tuple[Any, Any]:
    """The trained codec and, for two tiers, the stored tier's trained quantizer (else None)."""
    index = codec.train(vectors, chosen.factory, chosen.params)
    quantizer = refine.train(vectors, chosen.refine) if chosen.refine else None
    return index, quantizer

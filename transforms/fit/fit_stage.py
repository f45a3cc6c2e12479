"""The fit stage: keep the last run's codec when it still fits the corpus, else choose and train one on a
seeded sample of the run's embeddings; either way, describe it in a CodecInfo."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from transforms.codec import codec, codec_files, drift
from transforms.codec.choice import Chosen, CodecSettings, choose, train
from transforms.codec.info import CodecInfo
from transforms.embed import sampling
from transforms.embed.embeddings import Embeddings, unchanged
from transforms.embedders.spec import EmbedderSpec
from transforms.planner import Plan
from transforms.planner import report as plan_report
from transforms.run.last_run import LastRun
from transforms.storage import integrity, io
from transforms.storage.layout import CODEC, RunLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """What the codec depends on besides the embeddings (ReindexConfig's, without pydantic)."""

    codec: CodecSettings
    sample_size: int
    embedder: EmbedderSpec
    labels: bool

    def key(self) -> str:
        """Two runs with the same key would choose the same kind of codec: one may keep the other's. It reads
        the embedder's identity only (not its device or batch size), in the shape codecs were first keyed by,
        so a codec made before the embedder was nested here is still kept."""
        blob = {
            "codec": asdict(self.codec),
            "sample_size": self.sample_size,
            "labels": self.labels,
            **self.embedder.recorded(),
        }
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass
class Fitted:
    info: CodecInfo
    plan: Plan | None = None  # the full plan, when the planner chose
    kept: dict[str, Any] | None = None  # when the last run's codec was kept: from which run, and why
    source: str | None = None  # the kept codec's folder, copied as it is
    not_kept: str | None = None  # why the last run's codec, made for the same settings, was not kept


def fit(
    emb: Embeddings,
    n_total: int,
    settings: FitSettings,
    dim: int,
    previous: LastRun | None = None,
) -> tuple[Any, Any, Fitted]:
    """(trained codec, stored-tier quantizer or None, what was fitted and why)."""
    not_kept = None
    if previous is not None:
        kept = _keep(emb, settings, previous)
        if not isinstance(kept, str | None):
            return kept
        not_kept = kept
    sample = emb.sample(settings.sample_size, settings.codec.seed)
    chosen = choose(sample.vectors, sample.labels if settings.labels else None, n_total, settings.codec)
    for reason in chosen.reasons:
        logger.info("codec: %s", reason)
    index, quantizer = train(sample.vectors, chosen)
    cutoff = sampling.cutoff(sample, settings.codec.seed)
    reference = _reference(emb, index, quantizer, sample, settings.codec.seed, cutoff)
    info = _info(chosen, index, quantizer, settings, dim, TrainedOn(len(sample.row_ids), cutoff, reference))
    return index, quantizer, Fitted(info, chosen.plan, not_kept=not_kept)


def _reference(
    emb: Embeddings, index: Any, quantizer: Any, sample: Any, seed: int, cutoff: int
) -> dict[str, float]:
    """The reconstruction errors a later run's new documents are held to: on documents the codec did not
    train on when there are any (as new documents will be), else on its training sample."""
    keep = sampling.unseen(seed, cutoff)
    try:
        vectors = emb.sample(drift.SAMPLE, seed + 2, keep).vectors
    except ValueError:
        vectors = np.zeros((0, sample.vectors.shape[1]), np.float32)
    if not len(vectors):  # the codec trained on every document
        vectors = sample.vectors[: drift.SAMPLE]
    return drift.errors(index, quantizer, vectors)


class TrainedOn(NamedTuple):
    """What the codec was trained on: how many rows, the sample's cutoff (sampling.cutoff), and the
    reconstruction errors a later run's new documents are held to (drift)."""

    size: int
    cutoff: int
    reference: dict[str, float]


def _info(
    chosen: Chosen, index: Any, quantizer: Any, settings: FitSettings, dim: int, trained: TrainedOn
) -> CodecInfo:
    plan_summary = None if chosen.plan is None else chosen.plan.summary()
    return CodecInfo(
        **settings.embedder.recorded(),
        dim=dim,
        factory=chosen.factory,
        metric="L2",
        sample_size=trained.size,
        sample_cutoff=trained.cutoff,
        seed=settings.codec.seed,
        nprobe=chosen.nprobe,
        code_size=int(index.sa_code_size()),
        fingerprint=codec.fingerprint(index),
        reductions=chosen.reasons,
        params=chosen.params,
        plan=plan_summary,
        unit_decode=chosen.unit_decode,
        refine=chosen.refine,
        rerank=chosen.rerank,
        refine_code_size=0 if quantizer is None else int(quantizer.sa_code_size()),
        refine_fingerprint="" if quantizer is None else codec.fingerprint(quantizer),
        settings_key=settings.key(),
        drift_reference=trained.reference,
    )


def _keep(emb: Embeddings, settings: FitSettings, previous: LastRun) -> tuple[Any, Any, Fitted] | str | None:
    """The last run's codec, when it was made for the same settings and still encodes the new and changed
    documents about as well as unseen ones when it was trained (drift.check); why not, when it was made for
    the same settings but no longer fits; None when it was made for others."""
    layout, manifest, before = previous
    if manifest.codec.settings_key != settings.key():
        return None
    records = integrity.under(manifest.records(), CODEC)  # its files must be what that run published
    try:
        index, info = codec_files.load(layout.codec, records)
        quantizer = codec_files.load_refine(layout.codec, info, records)
    except integrity.IntegrityError as err:
        logger.warning("codec: not keeping the codec of run %s: %s", manifest.run_id, err)
        return f"the codec of run {manifest.run_id} was not kept: {err}"
    same = unchanged(emb, before)
    keep = sampling.outside(same)  # the documents new or changed since then
    try:
        fresh = emb.sample(drift.SAMPLE, settings.codec.seed + 3, keep).vectors
    except ValueError:  # no embeddings at all
        fresh = np.zeros((0, info.dim), np.float32)
    if not len(fresh):  # (an empty sample's error would be NaN, and NaN fails the check)
        ok, why, measured = True, "no document is new or changed since it was trained", {}
    else:
        measured = drift.errors(index, quantizer, fresh)
        ok, why = drift.check(info.drift_reference, measured)
    if not ok:
        logger.warning("codec: not keeping the codec of run %s: %s", manifest.run_id, why)
        return f"the codec of run {manifest.run_id} was not kept: {why}"
    logger.info("codec: keeping the codec of run %s: %s", manifest.run_id, why)
    kept = {"from_run": manifest.run_id, "why": why, "errors": measured}
    return index, quantizer, Fitted(info, kept=kept, source=layout.codec)


def save(layout: RunLayout, index: Any, quantizer: Any, fitted: Fitted) -> None:
    """The codec files, and the plan beside them when the planner chose."""
    if fitted.source is not None:
        io.copy_tree(fitted.source, layout.codec)
        return
    if fitted.plan is not None:
        plan_report.write(fitted.plan, layout.plan)
    codec_files.save(layout.codec, index, fitted.info, quantizer)

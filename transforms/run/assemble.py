"""A run's manifest, assembled from what its stages returned; publish then adds the run's files to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transforms.embed.embeddings import Embeddings
from transforms.run import sizes
from transforms.run.last_run import LastRun
from transforms.run.manifest import Counts, Manifest
from transforms.storage.layout import RunLayout

Result = dict[str, Any]  # what a stage task returned (flows.tasks)


@dataclass(frozen=True)
class Stages:
    """What each stage of a run returned, how long each took, and where cached stages' files came from."""

    embedded: Result
    fitted: Result
    encoded: Result
    built: Result
    evaluated: Result
    timings_s: dict[str, float]
    reused: dict[str, str]  # stage -> the run folder its cached files were copied from


@dataclass(frozen=True)
class Inputs:
    """The input files as read: each file's version, and the unreadable ones left out."""

    versions: list[dict[str, Any]]
    skipped: list[dict[str, str]]


def counts(stages: Stages) -> Counts:
    e = stages.embedded
    return Counts(
        read=e["read"],
        embedded=e["embedded"],
        rejected=e["rejected"],
        indexed=stages.built["rows"],
        encoded=stages.encoded["rows"],
    )


def reuse(stages: Stages, previous: LastRun | None) -> dict[str, Any]:
    """What the run took from earlier work: embeddings by text, code files, index shards and the codec."""
    return {
        **stages.embedded["reuse"],
        "code_files_reused": stages.encoded.get("files_reused", 0),
        "code_files_encoded": stages.encoded.get("encoded_files", 0),
        "index_shards_reused": stages.built.get("shards_reused", 0),
        "codec_kept": stages.fitted.get("kept"),
        "codec_not_kept": stages.fitted.get("not_kept"),
        "previous_run": None if previous is None else previous.manifest.run_id,
    }


def manifest(
    layout: RunLayout, parameters: dict[str, Any], stages: Stages, inputs: Inputs, previous: LastRun | None
) -> Manifest:
    """The manifest of the run at ``layout``, before publish lists its files. ``parameters``: the run's
    configuration as JSON."""
    info = stages.fitted["info"]
    n = counts(stages)
    return Manifest(
        run_id=layout.run_id,
        output=layout.output,
        parameters=parameters,
        counts=n,
        reuse=reuse(stages, previous),
        codec=info,
        evaluation=stages.evaluated["figures"],
        sizes=sizes.run_sizes(layout, info, n.indexed),
        timings_s=stages.timings_s,
        shards={kind: layout.shard_names(kind) for kind in layout.shard_kinds(bool(info.refine))},
        chunks=list(Embeddings.load(layout).chunks),  # the embed chunks, from the output root, with records
        inputs=inputs.versions,  # each input file's version as read: search shows texts only from these
        skipped_files=inputs.skipped,
        reused=stages.reused,
    )

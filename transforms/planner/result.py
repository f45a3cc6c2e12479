"""A plan as one typed record: how the sample was cut, every measurement, the frontier, the pick and why, and
every codec left out and why. It becomes JSON only where it is written (plan.json, the codec's record)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from transforms.planner.goal import Goal
from transforms.planner.measure import Measurement


@dataclass(frozen=True)
class PlanSample:
    """The sample a plan measured on and how it was cut (see split.Split)."""

    vectors: int  # measured on (sub-sampled from ``sampled_from`` when larger than the planner takes)
    learn: int
    base: int
    queries: int
    knn_probes: int  # the queries and base vectors left out in turn that kNN accuracy is measured on
    out_of_sample: bool
    eight_bit_codebooks: bool  # the run trains on enough points for 256-centroid codebooks
    corpus_rows: int  # over which each codec copy's bytes are spread
    codec_copies: int  # one per index shard
    sampled_from: int
    dim: int
    seed: int


@dataclass(frozen=True)
class Skipped:
    """A codec not measured, and why (over the budget as written, or the time budget spent)."""

    codec: str
    reason: str


@dataclass
class Plan:
    goal: Goal
    objective: str  # the Measurement field the frontier and pick optimise
    sample: PlanSample
    float_knn_accuracy: float | None
    pick: Measurement
    why: str  # a sentence: why the pick
    frontier: list[str]  # codec names
    candidates: list[Measurement]
    skipped: list[Skipped] = field(default_factory=list)
    elapsed_s: float = 0.0
    source: str | None = None  # where the sample came from, when the plan command read it

    def pick_json(self) -> dict[str, Any]:
        return {**self.pick.to_json(), "float_knn_accuracy": self.float_knn_accuracy, "why": self.why}

    def summary(self) -> dict[str, Any]:
        """What a fitted codec's record keeps of its plan: all but the measurements and what was left out."""
        return {
            "goal": asdict(self.goal),
            "objective": self.objective,
            "sample": asdict(self.sample),
            "frontier": list(self.frontier),
            "elapsed_s": self.elapsed_s,
            "pick": self.pick_json(),
        }

    def to_json(self) -> dict[str, Any]:
        out = {
            "goal": asdict(self.goal),
            "objective": self.objective,
            "sample": asdict(self.sample),
            "float_knn_accuracy": self.float_knn_accuracy,
            "pick": self.pick_json(),
            "frontier": list(self.frontier),
            "candidates": [
                {**r.to_json(), "float_knn_accuracy": self.float_knn_accuracy} for r in self.candidates
            ],
            "skipped": [asdict(s) for s in self.skipped],
            "elapsed_s": self.elapsed_s,
        }
        return out if self.source is None else {**out, "source": self.source}

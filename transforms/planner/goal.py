"""What a plan optimises, and the error for a goal that cannot be met or asked."""

from __future__ import annotations

from dataclasses import dataclass

from transforms.storage.errors import VecpressError


class PlanError(VecpressError, ValueError):
    """A goal no candidate can meet, or a plan that cannot be made as asked."""


@dataclass(frozen=True)
class Goal:
    """The best quality within ``budget_bytes`` of memory per vector, or the fewest memory bytes that reach
    ``target_recall`` / stay within ``max_loss_points`` of float32 kNN accuracy; optionally under a latency
    limit. Memory bytes are real: code bytes plus the codec's own bytes spread over the corpus.
    ``stored_budget_bytes`` allows a second, stored tier (finer codes on disk that re-rank the in-memory
    codes' candidates) of up to that many bytes per vector; without it, plans are one tier."""

    budget_bytes: float | None = None
    target_recall: float | None = None
    max_loss_points: float | None = None
    max_latency_ms: float | None = None
    stored_budget_bytes: float | None = None

    def check(self, has_labels: bool) -> None:
        chosen = [v is not None for v in (self.budget_bytes, self.target_recall, self.max_loss_points)]
        if sum(chosen) != 1:
            raise PlanError("give exactly one of --budget-bytes, --target-recall, --max-loss-points")
        if self.max_loss_points is not None and not has_labels:
            raise PlanError(
                "--max-loss-points needs labels (--label-column): kNN accuracy is measured on them"
            )
        if self.stored_budget_bytes is not None and self.stored_budget_bytes <= 0:
            raise PlanError(f"--stored-budget-bytes must be above 0, got {self.stored_budget_bytes}")


def quality_key(goal: Goal, objective: str) -> str:
    """kNN accuracy for a loss target; otherwise what the user asked to maximise (recall@10 by default)."""
    if goal.max_loss_points is not None or objective == "knn":
        return "knn_accuracy"
    return "recall_at_10"

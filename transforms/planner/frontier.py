"""The quality frontier of the measurements, and the pick for a goal."""

from __future__ import annotations

from collections.abc import Sequence

from transforms.planner.goal import Goal, PlanError
from transforms.planner.measure import Measurement


def frontier(rows: Sequence[Measurement], key: str) -> list[Measurement]:
    """Rows no other row beats on both memory bytes (fewer or equal) and ``key`` (higher or equal)."""
    best: list[Measurement] = []
    for r in sorted(rows, key=lambda r: (r.bytes_per_vector, -getattr(r, key), r.stored_bytes_per_vector)):
        if not best or getattr(r, key) > getattr(best[-1], key):
            best.append(r)
    return best


def allowed(rows: Sequence[Measurement], goal: Goal) -> list[Measurement]:
    """Rows within the latency limit and, for two tiers, the stored budget."""
    stored = goal.stored_budget_bytes
    return [
        r
        for r in rows
        if (goal.max_latency_ms is None or r.search_ms_per_query <= goal.max_latency_ms)
        and (r.refine is None or (stored is not None and r.stored_bytes_per_vector <= stored))
    ]


def pick(rows: Sequence[Measurement], goal: Goal, key: str) -> tuple[Measurement, str]:
    """The chosen row and a sentence saying why."""
    fast = allowed(rows, goal)
    if not fast:
        raise PlanError(f"no candidate searched within {goal.max_latency_ms} ms per query")
    lat = "" if goal.max_latency_ms is None else f", searching within {goal.max_latency_ms} ms/query"
    if goal.stored_budget_bytes is not None:
        lat += f", with up to {goal.stored_budget_bytes:g} stored bytes/vector to re-rank from"
    if goal.budget_bytes is not None:
        fits = [r for r in fast if r.bytes_per_vector <= goal.budget_bytes]
        if not fits:
            least = min(fast, key=lambda r: r.bytes_per_vector)
            raise PlanError(
                f"no candidate fits in {goal.budget_bytes:g} bytes per vector{lat} (codec included); the "
                f"smallest was {least.codec} at {least.bytes_per_vector:g}"
            )
        best = max(
            fits,
            key=lambda r: (
                getattr(r, key),
                r.knn_accuracy or 0.0,
                -r.stored_bytes_per_vector,
                -r.search_ms_per_query,
            ),
        )
        return best, (
            f"highest {key} of {len(fits)} measured codecs within {goal.budget_bytes:g} bytes/vector in "
            f"memory{lat}"
        )
    if goal.target_recall is not None:
        ok = [r for r in fast if r.recall_at_10 >= goal.target_recall]
        what = f"recall@10 >= {goal.target_recall}"
    else:  # held to the loss's upper bound: a few hundred queries leave a point or more of noise
        ok = [r for r in fast if r.knn_loss_bound is not None and r.knn_loss_bound <= goal.max_loss_points]
        what = f"kNN-10 loss <= {goal.max_loss_points} points (95% upper bound)"
    if not ok:
        best = max(fast, key=lambda r: getattr(r, key))
        raise PlanError(
            f"no candidate reached {what}{lat}; the best was {best.codec} ({key} {getattr(best, key)})"
        )
    best = min(
        ok,
        key=lambda r: (
            r.bytes_per_vector,
            r.stored_bytes_per_vector,
            -getattr(r, key),
            r.search_ms_per_query,
        ),
    )
    return best, f"fewest bytes/vector in memory of {len(ok)} measured codecs with {what}{lat}"

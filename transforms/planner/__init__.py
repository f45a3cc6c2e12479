"""The compression planner: measure candidate codecs on a sample of the corpus, keep the frontier, pick one.

goal (what to optimise), candidates (what to measure), split (learn / base / queries), measure (one
candidate, in real bytes, one or two tiers), frontier (frontier and pick), plan (all of it within a time
budget), result (the Plan record), sample (the embeddings to plan on), report (plan.json, plan.md, plan.png).
"""

from transforms.planner.frontier import frontier, pick
from transforms.planner.goal import Goal, PlanError, quality_key
from transforms.planner.measure import Measurement, measure, search_variants, variant_suffix
from transforms.planner.plan import PlanOptions, out_of_sample, plan
from transforms.planner.result import Plan, PlanSample, Skipped
from transforms.planner.split import Split, is_unit_norm

__all__ = [
    "Goal",
    "Measurement",
    "Plan",
    "PlanError",
    "PlanOptions",
    "PlanSample",
    "Skipped",
    "Split",
    "frontier",
    "is_unit_norm",
    "measure",
    "out_of_sample",
    "pick",
    "plan",
    "quality_key",
    "search_variants",
    "variant_suffix",
]

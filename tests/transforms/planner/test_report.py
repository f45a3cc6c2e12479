"""A plan as files: every measured codec in plan.md, the pick first, plan.json as planned."""

import json

import pytest

from tests.conftest import clustered
from transforms import planner
from transforms.planner import report as plan_report


@pytest.fixture(scope="module")
def plan():
    x, labels = clustered(1500, 16, 4, seed=1)
    return planner.plan(
        x, labels, planner.Goal(budget_bytes=8), planner.PlanOptions(n_queries=100, time_budget_s=20)
    )


def test_sizes_read_as_people_write_them():
    assert (plan_report.size_text(None), plan_report.size_text(0)) == ("", "")
    assert plan_report.size_text(1536) == "1.5 kB" and plan_report.size_text(15_300_000) == "15.30 MB"
    assert plan_report.per_vector_text(1326.4) == "1,326" and plan_report.per_vector_text(0.8372) == "0.837"


def test_markdown_lists_every_measured_codec_and_says_why_the_pick(plan):
    text = plan_report.markdown(plan)
    pick = plan.pick
    assert f"**Pick: `{pick.codec}`**" in text and plan.why in text
    assert plan_report.protocol(plan.sample) in text
    for row in plan.candidates:
        assert row.codec in text


def test_write_puts_the_plan_its_table_and_its_plot_in_one_folder(plan, tmp_path):
    plan_report.write(plan, str(tmp_path / "plan"))
    assert json.loads((tmp_path / "plan" / "plan.json").read_text()) == json.loads(json.dumps(plan.to_json()))
    assert (tmp_path / "plan" / "plan.md").read_text() == plan_report.markdown(plan)
    assert (tmp_path / "plan" / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

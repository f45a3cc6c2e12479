"""The command line's help: every command listed, every option described with its default and an example."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from flows import cli, cli_args
from flows.config import PlanConfig, ReindexConfig


def _help(monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping: each option's help on one line
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        cli_args.parser().parse_args([*argv, "--help"])
    assert stop.value.code == 0
    return out.getvalue()


def _entry(text: str, name: str) -> str:
    """An option's entry in a help text: its line and the help argparse moved to the next one."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith(name))
    follows = lines[at + 1] if at + 1 < len(lines) else ""
    moved = follows.startswith(" " * 8) and not follows.lstrip().startswith("-")
    return lines[at] + (" " + follows.strip() if moved else "")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    top = cli_args.parser()
    action = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_top_level_help_lists_every_command_with_one_line(monkeypatch):
    text = _help(monkeypatch)
    assert set(_subparsers()) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        line = next(line for line in text.splitlines() if line.split()[:1] == [name])
        assert len(line.split()) > 3, line  # a summary, not just the name
    assert "examples:" in text and "vecpress serve --index" in text


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_option_says_what_it_does_its_default_and_has_an_example(monkeypatch, command):
    text = _help(monkeypatch, command)
    assert "examples:" in text and f"vecpress {command}" in text.split("examples:")[1]
    model = {"run": ReindexConfig, "plan": PlanConfig}.get(command)
    for action in _subparsers()[command]._actions:
        name = action.option_strings[0] if action.option_strings else action.dest
        assert action.help and len(action.help) > 10, f"{command} {name}: no help"
        line = _entry(text, name)
        if model is not None and action.dest in model.model_fields:
            field = model.model_fields[action.dest]
            default = None if field.is_required() else field.get_default(call_default_factory=True)
            if field.is_required():
                assert "(required)" in line, line
            elif default is not None and default is not False and default != []:
                assert f"(default: {default})" in line, line
        elif action.default not in (None, False, argparse.SUPPRESS):
            assert "(default: " in line, line


def test_flags_map_to_config_keys():
    args = cli_args.parser().parse_args(
        ["run", "--input", "in", "--output", "out", "--time-budget", "5", "--pipeline-arg=--a=1", "--full"]
    )
    values = cli_args.config_values(args, ReindexConfig)
    assert values == {
        "input": "in", "output": "out", "plan_time_budget_s": 5.0, "pipeline_args": ["--a=1"], "full": True,
    }  # fmt: skip
    config = ReindexConfig.build(**values)
    assert config.batch_size == 64 and config.goal() is None  # the config's defaults fill the rest
    plan = cli_args.parser().parse_args(["plan", "--embeddings", "out", "--budget-bytes", "16"])
    assert PlanConfig.build(**cli_args.config_values(plan, PlanConfig)).goal().budget_bytes == 16

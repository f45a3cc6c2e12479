"""`vecpress search` prints corpus data as data: rich markup, hyperlinks and control characters in texts,
ids and queries are shown literally; k is clamped to the index; a bad queries file is one line."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.faults.conftest import error_line, vecpress

TEXTS = [
    "nasa orbit shuttle [/quote] launch",
    "rocket moon [link=https://evil.example]click here[/link] mission",
    "satellite astronaut \x1b[31mred\x1b[0m orbit \x07 bell",
    "engine car wheel :smile: brake",
    "puck goal ice [bold]team[/bold] season",
]


@pytest.fixture(scope="module")
def index(tmp_path_factory, cli_env):
    root = tmp_path_factory.mktemp("markup")
    table = pa.table(
        {
            "doc_id": ["plain", "[red]id[/red]", "esc\x1b]8;;http://x\x1b\\id", "d3", "d4"],
            "body": TEXTS,
            "topic": ["space", "space", "space", "cars", "hockey"],
        }
    )
    (root / "in").mkdir()
    pq.write_table(table, root / "in" / "a.parquet")
    args = ["--id-column", "doc_id", "--text-column", "body", "--label-column", "topic", "--model", "fake:32"]
    args += ["--codec", "Flat", "--shards", "1", "--eval-queries", "2"]
    res = vecpress("run", "--input", str(root / "in"), "--output", str(root / "index"), *args, env=cli_env)
    assert res.returncode == 0, res.stderr[-3000:]
    return root


def test_markup_and_control_characters_are_printed_inertly(index, cli_env):
    wide = {**cli_env, "COLUMNS": "400"}  # no cell folded across lines
    res = vecpress("search", "--index", str(index / "index"), "-k", "1000000000", "[/quote] \x1b[2J orbit",
                   env=wide)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "\x1b" not in out and "\x07" not in out  # nothing reaches the terminal raw
    assert "[/quote]" in out and "[link=https://evil.example]click here[/link]" in out
    assert "\\x1b[31mred\\x1b[0m" in out and "\\x07" in out and ":smile:" in out
    assert "[red]id[/red]" in out and "esc\\x1b]8;;http://x\\x1b\\id" in out
    assert "[bold]team[/bold]" in out
    assert out.count("│ 5 ") == 1  # k clamped to the 5 documents held: ranks 1..5, no more


def test_a_queries_file_that_is_not_text_is_one_line(index, cli_env, tmp_path):
    bad = tmp_path / "queries.txt"
    bad.write_bytes(b"orbit launch\nok\n\xff\xfe broken\n")
    res = vecpress("search", "--index", str(index / "index"), "--queries-file", str(bad), env=cli_env)
    line = error_line(res)
    assert (
        res.returncode == 2
        and f"--queries-file {bad}: line 3 is not valid UTF-8 (byte 1 of the line)" in line
    )
    missing = vecpress("search", "--index", str(index / "index"), "--queries-file", str(tmp_path / "no"),
                       env=cli_env)  # fmt: skip
    assert missing.returncode == 2 and "No such file or directory" in error_line(missing)

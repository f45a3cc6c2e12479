"""The README's stage map names only things that exist."""

import importlib
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _stage_rows() -> list[list[str]]:
    text = README.read_text()
    table = text[text.index("## Stage map") :].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| ")]
    return rows[1:]  # the header


def _resolve(module: str, name: str) -> object:
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_name_in_the_stage_map_exists():
    rows = _stage_rows()
    assert [r[0].strip() for r in rows] == ["read", "embed", "fit", "encode", "build", "evaluate", "publish"]
    checked = 0
    for _, tasks, pipelines, functions, _ in rows:
        for name in re.findall(r"`(\w+)`", tasks):
            assert callable(_resolve("flows.tasks", name)), name
            checked += 1
        module = None
        for ref in re.findall(r"`([\w/.:]+)`", pipelines):  # `pipelines/x.py:name`, then `other_name`
            file, _, name = ref.rpartition(":")
            module = file.removesuffix(".py").replace("/", ".") if file else module
            assert callable(_resolve(module, name)), (module, name)
            checked += 1
        for ref in re.findall(r"`(\w+)\.([\w.]+)`", functions):
            assert _resolve(f"transforms.{ref[0]}", ref[1]) is not None, ref
            checked += 1
    assert checked >= 25

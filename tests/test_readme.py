"""The README's stage map names only things that exist."""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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


def _resolve_path(dotted: str) -> object:
    """``pkg.module.name`` below ``transforms``: the longest prefix that imports, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            return _resolve("transforms." + ".".join(parts[:cut]), ".".join(parts[cut:]))
        except ModuleNotFoundError:
            continue
    raise AssertionError(f"{dotted}: no such module below transforms")


def test_every_name_in_the_stage_map_exists():
    rows = _stage_rows()
    assert [r[0].strip() for r in rows] == ["read", "embed", "fit", "encode", "build", "evaluate", "publish"]
    checked = 0
    for stage, folder, tasks, pipelines, functions, _ in rows:
        package = re.findall(r"`(\w+)/`", folder)
        assert len(package) == 1 and (ROOT / "transforms" / package[0] / "__init__.py").exists(), stage
        first = re.findall(r"`(\w+)\.", functions)[0]
        assert first == package[0], (stage, "its first function is not in its folder")
        for name in re.findall(r"`(\w+)`", tasks):
            assert callable(_resolve("flows.tasks", name)), name
            checked += 1
        module = None
        for ref in re.findall(r"`([\w/.:]+)`", pipelines):  # `pipelines/x.py:name`, then `other_name`
            file, _, name = ref.rpartition(":")
            module = file.removesuffix(".py").replace("/", ".") if file else module
            assert callable(_resolve(module, name)), (module, name)
            checked += 1
        for ref in re.findall(r"`(\w+\.[\w.]+)`", functions):
            assert _resolve_path(ref) is not None, ref
            checked += 1
    assert checked >= 25

"""The layer contracts of CONVENTIONS.md, checked by import-linter on the real import graph."""

import ast
import re
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    # 0 = every contract in pyproject.toml kept; the report names the broken import otherwise.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_import_cycle_between_labctl_modules():
    """A cycle means a module is in the wrong place; nothing may hide one either."""
    graph = grimp.build_graph("labctl")
    cycles = sorted({tuple(sorted((m, i))) for m in graph.modules if m.startswith("labctl")
                     for i in graph.find_modules_directly_imported_by(m)
                     if i.startswith("labctl") and i != m
                     and graph.chain_exists(importer=i, imported=m)})
    assert cycles == []


def test_no_labctl_import_inside_a_function_below_the_entry_points():
    """An import of labctl inside a function is how a cycle hides from import-linter (which
    sees it, but as if at module level, so a contract can hold while the module needs the
    trick). The entry points (CLI, API) may defer imports to keep start-up cheap."""
    found = []
    for path in sorted((ROOT / "labctl").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("labctl/cli/", "labctl/api.py")) or "/migrations/" in rel:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("labctl"):
                    found.append(f"{rel}:{node.lineno} from {node.module}")
                elif isinstance(node, ast.Import) and any(
                        a.name.startswith("labctl") for a in node.names):
                    found.append(f"{rel}:{node.lineno}")
    assert found == []


def test_the_platform_readme_maps_every_module_and_only_real_ones():
    """The map at the top of ``labctl/platform/README.md`` names each module of the platform
    (package rows, then their modules) and nothing that is not there."""
    platform = ROOT / "labctl" / "platform"
    text = (platform / "README.md").read_text(encoding="utf-8")
    table = text.split("## Map of the modules", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    package = ""
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or (cells[0] and set(cells[0]) <= set("-")):
            continue  # not a row, or the header's rule
        first = [n.strip("`") for n in re.findall(r"`[\w./]+`", cells[0])]
        if first and first[0].endswith(".py"):  # top-level modules: each its own row
            for name in first:
                rows.setdefault(name.removesuffix(".py"), set()).add(name)
            continue
        if first:
            package = first[0].rstrip("/")
        rows.setdefault(package, set()).update(
            n.strip("`") for n in re.findall(r"`[\w./]+`", cells[1]))
    mapped = {(p, n) for p, ns in rows.items() for n in ns}
    actual = set()
    for path in platform.rglob("*.py"):
        rel = path.relative_to(platform)
        if rel.parts[0] == "migrations" or path.name.startswith("_") or len(rel.parts) > 2:
            continue
        actual.add((rel.parts[0], rel.name) if len(rel.parts) == 2 else (rel.stem, rel.name))
    assert actual - mapped == set()
    for p, n in mapped:
        if n.endswith(".py"):
            assert (platform / p / n).exists() or (platform / n).exists(), (p, n)
        else:
            assert (platform / p / n).is_dir(), (p, n)

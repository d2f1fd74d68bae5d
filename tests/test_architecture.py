"""The layer contracts of CONVENTIONS.md, checked by import-linter on the real import graph."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    # 0 = every contract in pyproject.toml kept; the report names the broken import otherwise.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0

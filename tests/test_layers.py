"""The layers are a contract (pyproject's [tool.importlinter]), and SQL stays in warehouse/."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = (
    "core",
    "collectors",
    "transforms",
    "checks",
    "alerts",
    "reports",
    "pipeline",
    "flows",
    "audience",
)  # not drills/: they read the warehouse as the tests do (counting rows to prove nothing was lost)
# a statement that reads or changes the warehouse, at the start of a string or after a newline
SQL = re.compile(
    r"(^|\n)\s*(SELECT\s.+\sFROM|WITH\s+\w+\s+AS\s*\(|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+)?(TABLE|VIEW|INDEX)|DROP\s+(TABLE|VIEW)|ALTER\s+TABLE|"
    r"BEGIN(\s+TRANSACTION)?;?\s*$|COMMIT;?\s*$|ROLLBACK;?\s*$|CHECKPOINT|ATTACH\s|COPY\s)",
    re.DOTALL,
)


def _lint(config: Path, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    script = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_import_points_down_the_layers() -> None:
    result = _lint(ROOT / "pyproject.toml", ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contract_catches_a_lazy_upward_import(tmp_path: Path) -> None:
    """The same contracts on a tree of our package names where the ground floor imports the
    commands inside a function: import-linter must refuse it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for name in config["tool"]["importlinter"]["root_packages"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "audience" / "cli.py").write_text("", encoding="utf-8")
    (tmp_path / "core" / "errors.py").write_text(
        "def f() -> None:\n    import audience.cli  # noqa\n", encoding="utf-8"
    )
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = _lint(pyproject, tmp_path, tmp_path)
    assert result.returncode != 0
    assert "core.errors -> audience.cli" in result.stdout


def _sql_outside_warehouse() -> list[str]:
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                text = node.value if isinstance(node, ast.Constant) else None
                if isinstance(text, str) and SQL.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:60]!r}")
    return found


def test_sql_lives_in_the_warehouse_package() -> None:
    assert _sql_outside_warehouse() == []


def test_the_sql_check_sees_a_query() -> None:
    assert SQL.search("SELECT day FROM snapshots")
    assert SQL.search("\n  INSERT INTO runs VALUES (?)")
    assert SQL.search("BEGIN TRANSACTION")
    assert not SQL.search("Select the accounts to track from the list")

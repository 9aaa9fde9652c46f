"""The code-quality gates run with the tests, so the README's one test command enforces them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["ruff", "check", "."], id="ruff-lint"),
        pytest.param(["ruff", "format", "--check", "."], id="ruff-format"),
        pytest.param(["mypy"], id="mypy-strict"),
    ],
)
def test_quality_gate(command: list[str]) -> None:
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


QUICK = """
import sys
from audience.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("prefect", "great_expectations", "pandas") if m in sys.modules)
print("heavy:", ",".join(heavy) or "none", "code:", code)
"""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["import", "history.csv"], id="import"),
        pytest.param(["anomalies"], id="anomalies"),
        pytest.param(["query", "SELECT count(*) FROM snapshots"], id="query"),
        pytest.param(["accounts", "list"], id="accounts-list"),
    ],
)
def test_quick_commands_never_load_prefect_or_great_expectations(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "history.csv").write_text(
        "platform,handle,date,followers\ngithub,octocat,2024-01-01,1\ngithub,octocat,2024-01-02,2\n"
    )
    subprocess.run(
        [sys.executable, "-c", QUICK, "import", "history.csv"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    done = subprocess.run(
        [sys.executable, "-c", QUICK, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "heavy: none code: 0" in done.stdout, done.stdout + done.stderr

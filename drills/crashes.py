"""Hard kills (SIGKILL) of an import or an analysis at random moments, and what they leave."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from drills.cli import clean_environ, cli_command, remove_warehouse
from drills.contents import content_digest, integrity
from warehouse.db import open_warehouse

ANALYSE = (
    "import sys, datetime as dt; from pathlib import Path; from pipeline.analyse import run_analysis; "
    "from core.settings import load_settings; "
    "run_analysis(Path(sys.argv[1]), load_settings(None, environ={}), dt.date.fromisoformat(sys.argv[2]), full=True)"
)


@dataclass
class CrashResult:
    kind: str
    attempts: int = 0
    killed_while_running: int = 0
    finished_before_kill: int = 0
    problems: list[str] = field(default_factory=list)
    partial_states: int = 0  # a crash that left half of a write visible
    recovered_identical: int = 0


def _kill_after(command: list[str], delay: float, env: dict[str, str]) -> bool:
    """Run `command`, SIGKILL it after `delay` seconds; True if it was still running."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        return True


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def crash_runs(
    kind: str, workdir: Path, history: Path, as_of: date, times: int, seed: int = 1
) -> CrashResult:
    """SIGKILL an import (kind "import") or a full analysis ("analysis") at random moments.

    Each time: kill, check the warehouse, run the same job again to the end, and compare the
    result with a warehouse that was never interrupted.
    """
    rng = random.Random(seed)
    env = clean_environ(AUDIENCE_CONFIG=str(workdir / "none.toml"))
    (workdir / "none.toml").write_text("", encoding="utf-8")
    base = workdir / "base.duckdb"
    if kind == "analysis" and not base.exists():
        subprocess.run(
            cli_command(base, "import", str(history)), env=env, check=True, capture_output=True
        )

    def command(target: Path) -> list[str]:
        if kind == "import":
            return cli_command(target, "import", str(history))
        return [sys.executable, "-c", ANALYSE, str(target), as_of.isoformat()]

    def fresh(target: Path) -> None:
        remove_warehouse(target)
        if kind == "analysis":
            target.write_bytes(base.read_bytes())

    reference = workdir / f"reference-{kind}.duckdb"
    fresh(reference)
    duration = _timed(command(reference), env)
    expected = content_digest(reference)
    before_digest = content_digest(base) if kind == "analysis" else None
    result = CrashResult(kind)
    target = workdir / f"crash-{kind}.duckdb"
    for _ in range(times):
        fresh(target)
        result.attempts += 1
        if _kill_after(command(target), rng.uniform(0.05, duration), env):
            result.killed_while_running += 1
        else:
            result.finished_before_kill += 1
        problems = integrity(target) if target.exists() else []
        result.problems += problems
        if target.exists() and not problems:
            state = content_digest(target)
            untouched = before_digest if kind == "analysis" else _empty_digest(workdir)
            if state not in (untouched, expected):
                result.partial_states += 1
        subprocess.run(command(target), env=env, check=True, capture_output=True)
        if content_digest(target) == expected and not integrity(target):
            result.recovered_identical += 1
    return result


def _empty_digest(workdir: Path) -> str:
    empty = workdir / "empty.duckdb"
    if not empty.exists():
        with open_warehouse(empty):
            pass
    return content_digest(empty)

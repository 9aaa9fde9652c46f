"""Looking at a warehouse file from a test."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from audience.cli import SAMPLE, main
from core.settings import load_settings
from drills.contents import table_rows
from pipeline.analyse import run_analysis
from transforms.judging import MarginChecker

# the tables and columns analysts rely on (docs/DESIGN.md, "The warehouse contract")
CONTRACT = {
    "accounts": {
        "platform",
        "handle",
        "platform_id",
        "display_name",
        "tags",
        "first_seen",
        "last_seen",
        "status",
    },
    "snapshots": {
        "platform",
        "handle",
        "day",
        "followers",
        "following",
        "posts",
        "observed_at",
        "source",
        "payload",
    },
    "daily_metrics": {
        "platform",
        "handle",
        "day",
        "daily_gain",
        "growth_rel_7",
        "growth_rel_28",
        "growth_rel_90",
        "baseline_median",
        "robust_z",
    },
    "anomalies": {
        "platform",
        "handle",
        "day",
        "kind",
        "attribution",
        "suspected_purchase",
        "severity",
        "score",
        "explanation",
        "detected_at",
    },
    "runs": {"run_id", "started_at", "finished_at", "status"},
    "collection_log": {"run_id", "platform", "handle", "outcome", "reason"},
}


def file_digest(path: Path) -> str:
    """The file's bytes, hashed: a refusal that "changed nothing" leaves them as they were."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table_digest(path: Path) -> str:
    """A digest of every user table's content, to prove a refused command changed nothing."""
    digest = hashlib.sha256()
    for table, rows in table_rows(path):
        digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()


def build_warehouse(path: Path) -> Path:
    """A warehouse as a user makes one: `audience import` of the sample (2,983 rows), analysed."""
    assert main(["-q", "--warehouse", str(path), "import", str(SAMPLE)]) == 0
    run_analysis(path, load_settings(None), checker=MarginChecker())
    return path


def readme_tables() -> list[str]:
    """The tables of the README's warehouse table (section "The warehouse")."""
    section = (
        (Path(__file__).resolve().parents[2] / "README.md")
        .read_text(encoding="utf-8")
        .split("\n## The warehouse\n")[1]
    )
    section = section.split("\n## ")[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)


def analysed_sample(folder: Path) -> Path:
    """The bundled sample imported and analysed through its last day, in `folder`."""
    from pipeline.import_history import import_history
    from tests.support.cli import SAMPLE_AS_OF

    path = folder / "audience.duckdb"
    import_history([SAMPLE], path, SAMPLE_AS_OF)
    run_analysis(path, load_settings(None, environ={}), SAMPLE_AS_OF)
    return path

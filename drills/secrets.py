"""Secrets: a greppable sentinel for every secret, and where any of them turns up."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.settings import SECRET_ENV
from drills.contents import table_rows


def sentinel_secrets() -> dict[str, str]:
    """A distinct, greppable value for every secret variable."""
    return {
        var: f"SENTINEL{i:02d}{hashlib.sha256(var.encode()).hexdigest()[:16]}"
        for i, var in enumerate(SECRET_ENV.values())
    }


def find_sentinels(
    sentinels: dict[str, str], texts: dict[str, str], paths: list[Path]
) -> list[str]:
    """Where any sentinel appears: in the given texts, or in any file under `paths`."""
    found = []
    values = list(sentinels.values())
    for where, text in texts.items():
        found += [f"{where}: {v[:10]}" for v in values if v in text]
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for file in files:
            data = file.read_bytes()
            found += [
                f"{file}: {v[:10]}"
                for v in values
                if v.encode() in data or v.encode("utf-16-le") in data
            ]
    return found


def warehouse_text(warehouse: Path) -> str:
    """Every value of every table, as text (the file itself may be compressed)."""
    return "\n".join(repr(rows) for _, rows in table_rows(warehouse))

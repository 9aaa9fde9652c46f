"""What the code reads from the environment is documented where users look for settings."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "audience",
    "alerts",
    "checks",
    "collectors",
    "flows",
    "reports",
    "transforms",
    "warehouse",
)


def test_every_environment_variable_read_is_documented() -> None:
    read = {
        name
        for package in PACKAGES
        for source in (ROOT / package).rglob("*.py")
        for name in re.findall(r'"(AUDIENCE_[A-Z0-9_]+)"', source.read_text(encoding="utf-8"))
        if name != "AUDIENCE_"
    }
    assert "AUDIENCE_SMTP_CAFILE" in read
    example = (ROOT / "audience.example.toml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(n for n in read if n not in example and n not in readme) == []
    # settings a user may set for alerts: in the example's list and the README's settings text
    assert "AUDIENCE_SMTP_CAFILE" in example
    assert "AUDIENCE_SMTP_CAFILE" in readme

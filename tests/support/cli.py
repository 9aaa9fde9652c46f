"""What a test needs around the CLI's real entry point: its result, and the sample's last day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SAMPLE_AS_OF = dt.date(2024, 12, 31)  # the bundled sample's last day


@dataclass
class Result:
    """One `audience ...` run in-process: its exit code, standard output and standard error."""

    code: int
    out: str
    err: str

"""Types shared by the simulator's modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    """What a simulated platform says: a status, a JSON-able body (or text), headers."""

    status: int
    body: Any  # JSON-able, or str for a plain-text or HTML body
    headers: dict[str, str] = field(default_factory=dict)

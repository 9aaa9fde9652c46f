"""Records the warehouse's reads share: what every read of an anomaly carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class AnomalyFacts:
    """An anomaly's day, kind, attribution, severity and explanation (a row of `anomalies`)."""

    day: date
    kind: str
    attribution: str
    suspected_purchase: bool
    severity: str
    explanation: str

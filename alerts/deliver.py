"""Sending the alerts of a run: one email per recipient, by SMTP or into the outbox folder.

Each (anomaly, recipient) pair is queued in the `alerts` table first and marked sent only when
the server (or the outbox file) has the message, so an outage loses nothing and a later run
sends what is still queued, once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import duckdb

from alerts.chart import sparkline
from alerts.message import Card, build_message
from core.settings import Settings
from warehouse.alert_log import (
    NewAnomaly,
    Pending,
    QueuedAlert,
    alertable,
    count_queued,
    follow_ups,
    followers_between,
    queue,
    queued,
    record,
)
from warehouse.db import open_warehouse

SmtpFactory = Callable[..., smtplib.SMTP]
CHART_BEFORE, CHART_AFTER = 45, 14
REJUDGED_DAYS = 31  # the nightly analysis re-judges the anomalies of the last 31 days
AlertKey = tuple[str, str, date, str, str, str | None]  # the anomaly, the stage, the verdict told


@dataclass
class AlertSummary:
    recipients: int = 0
    sent: int = 0  # messages delivered (SMTP or outbox)
    anomalies: int = 0  # (anomaly, recipient) pairs marked sent
    still_queued: int = 0
    errors: list[str] = field(default_factory=list)


def recipients_for(row: NewAnomaly, settings: Settings) -> list[str]:
    """Default recipients, the account's own, and those of its tags (settings and warehouse)."""
    wanted = list(settings.alerts.recipients)
    tags = set(row.tags or [])
    for account in settings.accounts:
        if (account.platform, account.handle) == (row.platform, row.handle):
            wanted += account.recipients
            tags |= set(account.tags)
    for tag in sorted(tags):
        wanted += settings.alerts.tag_recipients.get(tag, ())
    return list(dict.fromkeys(wanted))


def _chart(con: duckdb.DuckDBPyConnection, row: QueuedAlert) -> bytes | None:
    day = row.day
    series = followers_between(
        con,
        row.platform,
        row.handle,
        day - timedelta(days=CHART_BEFORE),
        day + timedelta(days=CHART_AFTER),
    )
    if len(series) < 2:
        return None
    days = [d for d, _ in series]
    marked = [days.index(day)] if day in days else []
    return sparkline([f for _, f in series], marked, row.verdict or "unexplained")


def _card(con: duckdb.DuckDBPyConnection, row: QueuedAlert) -> Card:
    figures = {
        "followers before": _round(row.followers_before),
        "followers after": _round(row.followers),
        # the change between the two counts shown (a drip's gain is its gain above normal)
        "change": _round(
            row.followers - row.followers_before
            if row.followers is not None and row.followers_before is not None
            else row.gain
        ),
        "usual daily change": _round(row.baseline_median),
        "above normal": _round(row.excess),
        "score": _round(row.score, 1),
        "kept after 7 days": _share(row.retention_7),
        "kept after 30 days": _share(row.retention_30),
        "expectation": row.check_name,
    }
    return Card(
        day=row.day,
        kind=row.kind,
        attribution=row.attribution,
        suspected_purchase=bool(row.suspected_purchase),
        severity=row.severity,
        explanation=row.explanation,
        platform=row.platform,
        handle=row.handle,
        display_name=row.display_name,
        figures=figures,
        thresholds=str(row.thresholds or ""),
        chart=_chart(con, row),
        verdict_code=row.verdict or "unexplained",
        confidence=row.confidence or "low",
        stage=row.stage or "first",
    )


def _round(value: float | None, digits: int = 0) -> str | None:
    return None if value is None else f"{value:,.{digits}f}"


def _share(value: float | None) -> str | None:
    return None if value is None else f"{value:.0%}"


def _outbox_write(outbox: Path, recipient: str, message: EmailMessage) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    tag = hashlib.sha256(f"{recipient}{message['Message-ID']}".encode()).hexdigest()[:10]
    target = outbox / f"{stamp}-{tag}.eml"
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(message.as_bytes())
    os.replace(temporary, target)  # a reader never sees half a message
    return target


def _smtp(settings: Settings, factory: SmtpFactory) -> smtplib.SMTP:
    a = settings.alerts
    server = factory(a.smtp_host, a.smtp_port, timeout=a.smtp_timeout_s)
    server.ehlo()
    if a.smtp_starttls:
        server.starttls(
            context=ssl.create_default_context(cafile=os.environ.get("AUDIENCE_SMTP_CAFILE"))
        )
        server.ehlo()
    if a.smtp_user:
        password = settings.secrets.smtp_password
        server.login(a.smtp_user, password.get_secret_value() if password else "")
    return server


def send_alerts(
    warehouse: Path,
    settings: Settings,
    as_of: date,
    *,
    smtp_factory: SmtpFactory = smtplib.SMTP,
    lookback_days: int = 14,
) -> AlertSummary:
    """Queue what is new, then send everything queued; record each outcome."""
    summary = AlertSummary()
    with open_warehouse(warehouse, timeout_s=settings.warehouse.lock_timeout_s) as con:
        _enqueue(con, settings, as_of, lookback_days)
        outgoing = _outgoing(con)
        summary.recipients = len(outgoing)
        server = _connect(settings, smtp_factory, summary) if outgoing else None
        for recipient, items in outgoing.items():
            _deliver(con, settings, server, recipient, items, summary)
        if server is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                server.quit()
        summary.still_queued = count_queued(con)
    return summary


Outgoing = list[tuple[AlertKey, Card]]  # one recipient's alerts: which anomaly, and its card


def _enqueue(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, lookback_days: int
) -> None:
    """Queue a first alert per new anomaly and recipient, and the follow-ups of re-judged ones."""
    pairs = [
        Pending(r.platform, r.handle, r.day, r.kind, who, "first", r.verdict)
        for r in alertable(con, as_of, lookback_days, artifacts=False)
        for who in recipients_for(r, settings)
    ]
    queue(con, pairs)
    queue(con, follow_ups(con, as_of, max(lookback_days, REJUDGED_DAYS)))


def _outgoing(con: duckdb.DuckDBPyConnection) -> dict[str, Outgoing]:
    """Everything queued, by recipient; one card (and chart) per anomaly and stage."""
    cards: dict[AlertKey, Card] = {}
    outgoing: dict[str, Outgoing] = {}
    for r in queued(con):
        key: AlertKey = (r.platform, r.handle, r.day, r.kind, r.stage, r.verdict)
        if key not in cards:
            cards[key] = _card(con, r)
        outgoing.setdefault(r.recipient, []).append((key, cards[key]))
    return outgoing


def _connect(
    settings: Settings, smtp_factory: SmtpFactory, summary: AlertSummary
) -> smtplib.SMTP | None:
    """The SMTP connection when a server is set and answers; its error goes to the summary."""
    if not settings.alerts.smtp_host:
        return None
    try:
        return _smtp(settings, smtp_factory)
    except (OSError, smtplib.SMTPException) as exc:
        summary.errors.append(
            f"SMTP {settings.alerts.smtp_host}:{settings.alerts.smtp_port}: {type(exc).__name__}: {exc}"
        )
        return None


def _deliver(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    server: smtplib.SMTP | None,
    recipient: str,
    items: Outgoing,
    summary: AlertSummary,
) -> None:
    """One recipient's message, by SMTP or into the outbox; the outcome recorded either way."""
    keys = [k for k, _ in items]
    message = build_message(
        [c for _, c in items], settings.alerts.sender, recipient, datetime.now(UTC)
    )
    try:
        if settings.alerts.smtp_host:
            if server is None:  # why: the connection's own error, said first in the summary
                why = f" ({summary.errors[0]})" if summary.errors else ""
                raise smtplib.SMTPServerDisconnected(f"no connection to the SMTP server{why}")
            server.send_message(message)
            channel = "smtp"
        else:
            channel = f"outbox:{_outbox_write(settings.alerts.outbox, recipient, message).name}"
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
        record(con, recipient, keys, sent=False, error=error)
        if not summary.errors:
            summary.errors.append(f"{recipient}: {error}")
        return
    record(con, recipient, keys, sent=True, channel=channel, message_id=message["Message-ID"])
    summary.sent += 1
    summary.anomalies += len(keys)

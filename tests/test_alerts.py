"""Alert emails against a real SMTP server on loopback (aiosmtpd, STARTTLS, login)."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

from alerts.chart import sparkline
from alerts.deliver import send_alerts
from audience.cli import SAMPLE
from core.settings import load_settings
from pipeline.analyse import run_analysis
from pipeline.import_history import import_history
from tests.support.smtp import PASSWORD, Inbox, free_port, smtp_settings

AS_OF = dt.date(2024, 12, 31)


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    warehouse = tmp_path / "w.duckdb"
    import_history([SAMPLE], warehouse, dt.date(2026, 11, 22))
    run_analysis(warehouse, load_settings(None, environ={}), AS_OF)
    with duckdb.connect(
        str(warehouse)
    ) as con:  # an account-supplied name that must not become HTML
        con.execute(
            "UPDATE accounts SET display_name = '<script>alert(1)</script>\u202eevil' WHERE handle = 'growthguru'"
        )
    return warehouse


settings = smtp_settings


def test_one_email_per_recipient_with_evidence_sent_once(
    smtp: tuple[Controller, Inbox], analysed: Path, tmp_path: Path
) -> None:
    controller, inbox = smtp
    s = settings(controller.port, tmp_path)
    first = send_alerts(analysed, s, AS_OF, lookback_days=366)
    assert (first.sent, first.still_queued, first.errors) == (1, 0, [])
    [message] = inbox.messages
    assert message["To"] == "analyst@example.org"
    # 15 of the sample's 17 anomalies (its 2 data artifacts are not alerted): with the
    # big-account floors (5 and 6 robust sigmas), the news account's viral days and blips of
    # 0.3-0.4% are flagged too (organic or unexplained), never suspected
    assert message["Subject"] == "[audience] 15 new anomalies, 3 suspected purchases"
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "x:growthguru spike on 2024-09-09 (suspected purchase, high severity)" in plain
    # the counts first, for anyone; the score, the expectation and the thresholds last, named
    # as what they are (a recipient saw raw JSON and a GX expectation among the figures)
    assert "\n  followers before: " in plain
    assert "\n  for analysts: score " in plain
    assert "thresholds: {" in plain
    assert "\n  -\n" not in plain.replace("\r", "")  # an account without a name: no bare '-'
    assert ">expectation<" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "\u202e" not in html
    assert "\u202e" not in plain
    assert parsedate_to_datetime(message["Date"]) is not None  # RFC 5322: every message dated
    # each card's change is the difference of the two counts it shows (a drip's was its gain
    # above normal, under the name "change")
    cells = dict.fromkeys(("followers before", "followers after", "change"))
    checked = 0
    for name, value in re.findall(r"<td[^>]*>([^<]+)</td><td>([^<]+)</td>", html):
        if name in cells:
            cells[name] = int(value.replace(",", ""))
        if name == "change" and None not in cells.values():
            assert cells["change"] == cells["followers after"] - cells["followers before"]
            checked += 1
            cells = dict.fromkeys(cells)
    assert checked >= 10
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 15
    assert images[0].get_payload(decode=True).startswith(b"\x89PNG")
    assert all(f"cid:{p['Content-ID'][1:-1]}" in html for p in images)
    again = send_alerts(analysed, s, AS_OF, lookback_days=366)
    assert (again.sent, len(inbox.messages)) == (0, 1)  # each anomaly is alerted once
    with duckdb.connect(str(analysed), read_only=True) as con:
        assert con.execute("SELECT DISTINCT status, channel FROM alerts").fetchall() == [
            ("sent", "smtp")
        ]
        stored = con.execute("SELECT * FROM alerts").fetchall()
    assert PASSWORD not in repr(stored)


def test_an_smtp_outage_loses_nothing_and_sends_nothing_twice(
    smtp: tuple[Controller, Inbox], analysed: Path, tmp_path: Path
) -> None:
    controller, inbox = smtp
    down = settings(free_port(), tmp_path)  # nothing listens there
    outage = send_alerts(analysed, down, AS_OF, lookback_days=366)
    assert (outage.sent, outage.still_queued) == (0, 15)
    assert "Connection refused" in outage.errors[0] or "ConnectionRefused" in outage.errors[0]
    assert PASSWORD not in " ".join(outage.errors)
    with duckdb.connect(str(analysed), read_only=True) as con:  # the stored reason says why
        [(why,)] = con.execute("SELECT DISTINCT last_error FROM alerts").fetchall()
    assert str(why).startswith("SMTPServerDisconnected: no connection to the SMTP server (SMTP ")
    assert "ConnectionRefusedError" in str(why)
    back = send_alerts(analysed, settings(controller.port, tmp_path), AS_OF, lookback_days=366)
    assert (back.sent, back.anomalies, back.still_queued) == (1, 15, 0)
    assert (
        send_alerts(analysed, settings(controller.port, tmp_path), AS_OF, lookback_days=366).sent
        == 0
    )
    assert len(inbox.messages) == 1
    with duckdb.connect(str(analysed), read_only=True) as con:
        assert con.execute("SELECT min(attempts), max(attempts) FROM alerts").fetchall() == [(2, 2)]


def test_a_wrong_password_keeps_the_alerts_queued(
    smtp: tuple[Controller, Inbox], analysed: Path, tmp_path: Path
) -> None:
    controller, inbox = smtp
    wrong = settings(controller.port, tmp_path, AUDIENCE_SMTP_PASSWORD="not-it")
    result = send_alerts(analysed, wrong, AS_OF, lookback_days=366)
    assert (result.sent, result.still_queued, inbox.messages) == (0, 15, [])
    assert result.errors[0].startswith(f"SMTP localhost:{controller.port}: SMTP")
    assert "not-it" not in result.errors[0]


def test_recipients_by_account_and_tag(
    smtp: tuple[Controller, Inbox], analysed: Path, tmp_path: Path
) -> None:
    controller, inbox = smtp
    with duckdb.connect(str(analysed)) as con:
        con.execute("UPDATE accounts SET tags = ['clients'] WHERE handle = 'carol@hachyderm.io'")
    s = settings(
        controller.port,
        tmp_path,
        AUDIENCE_ALERTS__TAG_RECIPIENTS='{clients = ["client-team@example.org"]}',
    )
    send_alerts(analysed, s, AS_OF, lookback_days=366)
    by_recipient = {m["To"]: m for m in inbox.messages}
    assert set(by_recipient) == {"analyst@example.org", "client-team@example.org"}
    client = by_recipient["client-team@example.org"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "carol@hachyderm.io" in client
    assert "growthguru" not in client


def test_without_smtp_messages_go_to_the_outbox(analysed: Path, tmp_path: Path) -> None:
    s = load_settings(
        None,
        environ={
            "AUDIENCE_ALERTS__RECIPIENTS": '["a@example.org", "b@example.org"]',
            "AUDIENCE_ALERTS__OUTBOX": str(tmp_path / "outbox"),
        },
    )
    result = send_alerts(analysed, s, AS_OF, lookback_days=366)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert (result.sent, len(files)) == (2, 2)
    parsed = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert {m["To"] for m in parsed} == {"a@example.org", "b@example.org"}
    assert not list((tmp_path / "outbox").glob("*.tmp"))


def test_sparkline_is_a_valid_png() -> None:
    png = sparkline([1.0, 2.0, None, 4.0, 50.0], marked=[4])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png[12:16] == b"IHDR"
    assert sparkline([]).startswith(b"\x89PNG")


def _pixels(png: bytes) -> set[tuple[int, int, int]]:
    """Every colour of an 8-bit RGB PNG of ours (one IDAT, filter 0 on every row)."""
    import struct
    import zlib

    width, height = struct.unpack(">II", png[16:24])
    start = png.index(b"IDAT") + 4
    (length,) = struct.unpack(">I", png[start - 8 : start - 4])
    raw = zlib.decompress(png[start : start + length])
    stride = 1 + 3 * width
    return {
        tuple(raw[r * stride + 1 + 3 * x : r * stride + 4 + 3 * x])  # type: ignore[misc]
        for r in range(height)
        for x in range(width)
    }


def test_sparkline_marks_a_flagged_day_in_its_verdicts_colour() -> None:
    """The email's chart marks as the report's does: each verdict in its own colour."""
    from core.verdict_marks import VERDICT_MARKS, rgb

    values = [float(v) for v in range(30)]
    for verdict, mark in VERDICT_MARKS.items():
        colours = _pixels(sparkline(values, marked=[20], verdict=verdict))
        assert rgb(mark.colour) in colours, verdict
        others = {rgb(m.colour) for v, m in VERDICT_MARKS.items() if v != verdict}
        assert not colours & others, verdict
    assert rgb("#dc2626") in _pixels(sparkline(values, marked=[20]))  # no verdict given: red

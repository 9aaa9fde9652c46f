"""Evidence cards and the email that carries them (plain text and HTML, charts inline).

The HTML part is the jinja2 template `alerts/templates/email.html` with autoescape on, so
everything an account supplies (handles, display names) is escaped; it is also cleaned of
control and direction-override characters (`clean`) in both parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import PackageLoader

from transforms.verdicts import verdict_words
from transforms.wording import clean, html_templates
from warehouse.records import AnomalyFacts

EMAILS = html_templates(PackageLoader("alerts", "templates"))
TECHNICAL = frozenset({"score", "expectation"})  # figures shown with the thresholds, for analysts


@dataclass(frozen=True)
class Card(AnomalyFacts):
    """One anomaly, with what a person needs to judge it."""

    platform: str
    handle: str
    display_name: str | None = None
    figures: dict[str, str | None] = field(default_factory=dict)
    thresholds: str = ""
    chart: bytes | None = None  # PNG
    verdict_code: str = "unexplained"  # the anomaly's verdict (see transforms.verdicts)
    confidence: str = "low"
    stage: str = "first"  # first, verdict (upgraded to a suspected purchase), closed (watch over)

    @property
    def verdict(self) -> str:
        return verdict_words(self.verdict_code)

    @property
    def title(self) -> str:
        lead = {"verdict": "NOW A SUSPECTED PURCHASE: ", "closed": "watch ended: "}.get(
            self.stage, ""
        )
        return f"{lead}{self.platform}:{clean(self.handle)} {self.kind} on {self.day} ({self.verdict}, {self.severity} severity)"

    @property
    def plain_figures(self) -> dict[str, str]:
        """The figures a recipient reads (counts, changes, what was kept)."""
        return {k: v for k, v in self.figures.items() if v is not None and k not in TECHNICAL}

    @property
    def technical(self) -> str:
        """For an analyst checking the flag: the score, the GX expectation, the thresholds."""
        parts = [f"{k} {v}" for k, v in self.figures.items() if v is not None and k in TECHNICAL]
        return "; ".join([*parts, f"thresholds: {self.thresholds}"])

    @property
    def next_step(self) -> str | None:
        """What will decide a watched anomaly, or what changed since the first alert."""
        if self.stage == "first" and self.verdict_code == "pending":
            return (
                "Under watch: too recent to judge. What decides it is whether the new audience "
                "stays: bought audiences decay within weeks as platforms purge them, organic "
                "reach keeps what it brought and keeps growing. It is re-judged every night for "
                "30 days; one more email follows if it becomes a suspected purchase."
            )
        if self.stage == "verdict":
            return "First reported as under watch or unexplained; the evidence now points to a purchase."
        if self.stage == "closed":
            return f"First reported as under watch; the watch ended: {self.verdict}."
        return None


def subject(cards: list[Card]) -> str:
    new = [c for c in cards if c.stage == "first"]
    bought = sum(c.verdict_code == "suspected_purchase" for c in cards)
    watched = sum(c.verdict_code == "pending" for c in new)
    parts = [f"{len(new)} new anomal{'y' if len(new) == 1 else 'ies'}"] if new else []
    if bought:
        parts.append(f"{bought} suspected purchase{'s' if bought != 1 else ''}")
    if watched:
        parts.append(f"{watched} under watch")
    closed = sum(c.stage == "closed" for c in cards)
    if closed:
        parts.append(f"{closed} watch{'es' if closed != 1 else ''} ended")
    return "[audience] " + ", ".join(parts or ["no news"])


def plain_text(cards: list[Card]) -> str:
    lines = [subject(cards).removeprefix("[audience] ").capitalize() + ".", ""]
    for card in cards:
        lines += [
            card.title,
            *([f"  {clean(card.display_name)}"] if clean(card.display_name) else []),
            f"  verdict: {card.verdict} ({card.confidence} confidence)",
            *([f"  {card.next_step}"] if card.next_step else []),
            f"  {clean(card.explanation, 2000)}",
            *[f"  {name}: {value}" for name, value in card.plain_figures.items()],
            f"  for analysts: {card.technical}",
            "",
        ]
    lines.append(
        "Sent by the audience growth tracker. Each anomaly is sent once, and once more if its "
        "verdict becomes a suspected purchase (or its watch ends); the warehouse keeps them all."
    )
    return "\n".join(lines)


def html_body(cards: list[Card], chart_ids: dict[int, str]) -> str:
    """The HTML part (template `email.html`); `chart_ids` are the charts' Content-IDs by card."""
    return EMAILS.get_template("email.html").render(
        heading=subject(cards).removeprefix("[audience] "),
        cards=[
            (card, chart_ids[i][1:-1] if i in chart_ids else None) for i, card in enumerate(cards)
        ],
    )


def build_message(
    cards: list[Card], sender: str, recipient: str, sent_at: datetime
) -> EmailMessage:
    """One email for one recipient: a plain-text part, and an HTML part with its charts inline;
    dated `sent_at` (RFC 5322 requires a Date; a mail reader shows it)."""
    message = EmailMessage()
    message["Subject"] = subject(cards)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain="audience.local")
    message.set_content(plain_text(cards))
    chart_ids = {i: make_msgid(domain="audience.local") for i, c in enumerate(cards) if c.chart}
    message.add_alternative(html_body(cards, chart_ids), subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for i, cid in chart_ids.items():
        html_part.add_related(cards[i].chart, maintype="image", subtype="png", cid=cid)
    return message

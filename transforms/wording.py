"""Account-supplied text made safe to show, shared by the alert emails and the report pages.

`clean` drops control and direction-override characters and bounds the length.
`html_templates` configures jinja2 the one way both use (autoescape for HTML, strict undefined,
a `clean` filter); it reads nothing itself: the caller's loader does, when a template is asked for.
"""

from __future__ import annotations

import re

from jinja2 import BaseLoader, Environment, StrictUndefined, select_autoescape

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None, limit: int = 200) -> str:
    """Account-supplied text made safe to show: no control or direction-override characters, bounded."""
    text = _CONTROL.sub("", text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def html_templates(loader: BaseLoader, limit: int = 200) -> Environment:
    """Templates from `loader`, autoescaped when they are HTML, with a `clean` filter:
    `clean(value, limit)`, None shown as nothing."""
    templates = Environment(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def clean_filter(value: object, n: int = limit) -> str:
        return clean(None if value is None else str(value), n)

    templates.filters["clean"] = clean_filter
    return templates

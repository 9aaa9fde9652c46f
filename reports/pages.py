"""What the report and the audit page share: the templates, the wording of a percentile, the
writing.

The pages are jinja2 templates (`reports/templates/`) with autoescape on, and everything an
account supplies also goes through the `clean` filter (no control or direction-override
characters, bounded). Charts are inline SVG drawn by the template `chart.html` from the
geometry of `reports/charts.py`, so a page opens anywhere with no network.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from jinja2 import PackageLoader

from core.errors import AudienceError, os_reason, plural, shown
from transforms.wording import html_templates
from warehouse.report_reads import MIN_PEER_GROUP


def _num(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "" if value is None else pattern.format(value)


PAGES = html_templates(PackageLoader("reports", "templates"), limit=2000)
PAGES.filters["num"] = _num


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percentile_text(
    percentile: float | None, platform: str, tier: str | None, group: int | None
) -> str:
    """The 28-day growth percentile with its comparison group (platform, size tier, how many),
    or why there is none: a group under MIN_PEER_GROUP accounts says little."""
    if tier is None or not group:
        return "no comparison group"
    where = f"{platform} {tier}, {plural(group, 'account')}"
    if group < MIN_PEER_GROUP or percentile is None:
        return f"too few to compare ({where}; needs {MIN_PEER_GROUP})"
    return f"{ordinal(round(percentile))} percentile ({where})"


MARK = "Made by the audience growth tracker"  # the footer of every page this tool writes


def ours(path: Path) -> bool:
    """Whether the file at `path` is a page this tool wrote (its footer says so)."""
    try:
        with path.open("rb") as page:
            head = page.read(64).lstrip().lower()
            page.seek(0, 2)
            page.seek(max(page.tell() - 4096, 0))
            tail = page.read()
    except OSError:
        return False
    return head.startswith(b"<!doctype html") and MARK.encode() in tail


def write_page(
    path: Path, text: str, *, written_before: bool = False, mode: int | None = None
) -> Path:
    """Write atomically (a reader never sees half of it), and never over a file this tool did
    not write: a settings file or a note given by mistake is refused (exit 2), not replaced.
    `written_before`: the caller knows it wrote this path (the report's digest beside it).
    `mode`: the file's mode (default: the page's own when it exists, else a plain file's)."""
    if path.exists() and (not path.is_file() or not (written_before or ours(path))):
        raise AudienceError(
            f"{shown(str(path))} exists and is not a page this tool wrote: not replaced "
            "(choose another path, or remove it first)"
        )
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as temporary:
            temporary.write(text)
        # the mode a plain write would give (the temporary file is private: 0600), or the page's
        if mode is None:
            mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else _plain_mode()
        os.chmod(temporary.name, mode)
        Path(temporary.name).replace(path)
    except OSError as exc:
        if temporary is not None:
            Path(temporary.name).unlink(missing_ok=True)
        raise AudienceError(
            f"cannot write {shown(str(path))}: {os_reason(exc)} (choose another path)"
        ) from None
    return path


def _plain_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask

"""A small PNG chart of an account's audience around a flagged day, with no imaging library.

Email clients show inline PNGs reliably (not SVG), and a few hundred pixels need no more than
a bitmap, Bresenham lines and zlib. A flagged day is marked as on the report's charts: a
vertical line and a dot on the audience line in its verdict's colour (core.verdict_marks).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

from core.verdict_marks import rgb, verdict_mark

WIDTH, HEIGHT, MARGIN = 320, 90, 6
BACKGROUND, LINE, MARK, GRID = (255, 255, 255), (37, 99, 235), (220, 38, 38), (229, 231, 235)


def _png(pixels: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _dot(pixels: list[bytearray], x: int, y: int, colour: tuple[int, int, int]) -> None:
    if 0 <= x < WIDTH and 0 <= y < HEIGHT:
        pixels[y][3 * x : 3 * x + 3] = bytes(colour)


def _line(
    pixels: list[bytearray], a: tuple[int, int], b: tuple[int, int], colour: tuple[int, int, int]
) -> None:
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        for ox in (0, 1):  # two pixels thick
            _dot(pixels, x0 + ox, y0, colour)
        if (x0, y0) == (x1, y1):
            return
        twice = 2 * error
        if twice >= dy:
            error += dy
            x0 += sx
        if twice <= dx:
            error += dx
            y0 += sy


def sparkline(
    values: Sequence[float | None], marked: Sequence[int] = (), verdict: str | None = None
) -> bytes:
    """A line of `values` (None: unknown) with marks at the `marked` indexes, in the colour of
    `verdict` (a code of transforms.verdicts.VERDICTS; red, a suspected purchase's, when None)."""
    colour = MARK if verdict is None else rgb(verdict_mark(verdict).colour)
    pixels = [bytearray(BACKGROUND * WIDTH) for _ in range(HEIGHT)]
    known = [v for v in values if v is not None]
    for y in (MARGIN, HEIGHT - MARGIN - 1):
        for x in range(WIDTH):
            _dot(pixels, x, y, GRID)
    if len(known) >= 2:
        low, high = min(known), max(known)
        span = (high - low) or 1.0
        step = (WIDTH - 2 * MARGIN) / max(len(values) - 1, 1)

        def point(i: int, v: float) -> tuple[int, int]:
            return round(MARGIN + i * step), round(
                HEIGHT - MARGIN - 1 - (v - low) / span * (HEIGHT - 2 * MARGIN - 1)
            )

        for i in marked:
            if 0 <= i < len(values):
                x = round(MARGIN + i * step)
                for y in range(MARGIN, HEIGHT - MARGIN, 2):  # dotted, as on the report
                    _dot(pixels, x, y, colour)
        previous = None
        for i, v in enumerate(values):
            if v is None:
                continue
            here = point(i, v)
            if previous is not None:
                _line(pixels, previous, here, LINE)
            previous = here
        for i in marked:  # the dot on the line, over it
            value = values[i] if 0 <= i < len(values) else None
            if value is not None:
                cx, cy = point(i, value)
                for dx in range(-3, 4):
                    for dy in range(-3, 4):
                        if dx * dx + dy * dy <= 10:
                            _dot(pixels, cx + dx, cy + dy, colour)
    return _png(pixels)

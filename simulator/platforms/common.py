"""What every platform's handlers share: the handler type and the bearer token of a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request

from simulator.types import Answer

if TYPE_CHECKING:
    from simulator.server import Simulator

Handler = Callable[["Simulator", Request], Awaitable[Answer]]


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    value = request.headers.get("authorization", "")
    return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else None

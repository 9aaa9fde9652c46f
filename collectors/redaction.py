"""Keeping secrets out of what is stored, shown and logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class Redactor:
    """Scrubs known secret values from any text before it is stored or shown."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


class RedactingFilter(logging.Filter):
    """Scrubs secrets from log records: httpx logs each request's URL, and some platforms
    (YouTube's key, Instagram's token) take their credential in the query string."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        return True


@contextmanager
def redacted_logs(
    redact: Redactor,
    loggers: Sequence[str] = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2"),
) -> Iterator[None]:
    """While collecting, the HTTP libraries' log records carry no secret."""
    log_filter = RedactingFilter(redact)
    for name in loggers:
        logging.getLogger(name).addFilter(log_filter)
    try:
        yield
    finally:
        for name in loggers:
            logging.getLogger(name).removeFilter(log_filter)

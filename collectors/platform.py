"""The common shape of a platform collector."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import httpx

from collectors.base import USER_AGENT, CollectorError, generic_status
from collectors.rate_gate import Clock, HeaderParser, no_headers
from collectors.redaction import Redactor
from collectors.requester import Requester, open_requester
from core.fetched import Fetched, Outcome
from core.settings import PlatformSettings, Secrets


class Collector(ABC):
    """Fetches one batch of handles from one platform; every handle gets one Fetched."""

    platform: ClassVar[str]
    base_url: ClassVar[str]
    batch_size: ClassVar[int] = 1
    rate_headers: ClassVar[HeaderParser] = staticmethod(no_headers)
    needs: ClassVar[tuple[str, ...]] = ()  # secret names that must be set

    def __init__(
        self, requester: Requester, settings: PlatformSettings, secrets: Secrets, redact: Redactor
    ) -> None:
        self.requester = requester
        self.settings = settings
        self.secrets = secrets
        self.redact = redact

    @classmethod
    def root(cls, settings: PlatformSettings) -> str:
        return (settings.base_url or cls.base_url).rstrip("/")

    @classmethod
    def default_headers(cls, secrets: Secrets) -> dict[str, str]:
        return {"User-Agent": USER_AGENT, "Accept": "application/json"}

    @staticmethod
    def classify(response: httpx.Response) -> None:
        generic_status(response)

    @classmethod
    def open_requester(
        cls,
        settings: PlatformSettings,
        secrets: Secrets,
        *,
        classify: Callable[[httpx.Response], None] | None = None,
        concurrency: int,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        pooled: bool = False,
        share: int = 1,
    ) -> AbstractAsyncContextManager[Requester]:
        """collectors.requester.open_requester with this platform's headers, rate headers and
        answer classification (`classify` instead, for a route that answers otherwise)."""
        return open_requester(
            settings,
            cls.default_headers(secrets),
            cls.rate_headers,
            classify or cls.classify,
            concurrency=concurrency,
            clock=clock,
            transport=transport,
            pooled=pooled,
            share=share,
        )

    def missing_credentials(self) -> list[str]:
        return [name for name in self.needs if getattr(self.secrets, name) is None]

    def secret(self, name: str) -> str:
        value = getattr(self.secrets, name)
        return "" if value is None else str(value.get_secret_value())

    @abstractmethod
    async def fetch(self, handles: Sequence[str]) -> list[Fetched]:
        """Fetch a batch of at most `batch_size` canonical handles."""

    # helpers for subclasses

    def ok(self, handle: str, status: int, attempts: int, payload: Any, **figures: Any) -> Fetched:
        return Fetched(
            self.platform,
            handle,
            Outcome.OK,
            http_status=status,
            attempts=attempts,
            payload=payload,
            **figures,
        )

    def failed(self, handle: str, error: CollectorError) -> Fetched:
        return Fetched(
            self.platform,
            handle,
            error.outcome,
            reason=self.redact(error.reason),
            http_status=error.status,
            attempts=error.attempts,
        )

    def outcome(
        self,
        handle: str,
        outcome: Outcome,
        reason: str,
        status: int | None = None,
        attempts: int = 0,
        payload: Any = None,
    ) -> Fetched:
        return Fetched(
            self.platform,
            handle,
            outcome,
            reason=self.redact(reason),
            http_status=status,
            attempts=attempts,
            payload=payload,
        )

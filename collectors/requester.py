"""The retrying request: one logical request through the platform's gate, with retries and
the classification of its answer."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from collectors.base import CollectorError, Malformed, RateLimited, Unavailable
from collectors.rate_gate import Clock, HeaderParser, RateGate, SystemClock
from core.settings import PlatformSettings

MAX_ATTEMPTS = 50  # a backstop: a request that was refused this often is given up

Classifier = Callable[[httpx.Response], None]  # raises a CollectorError for a non-usable answer
# a query: a mapping, or a list of pairs when a key repeats (forms httpx accepts)
Query = Mapping[str, str] | list[tuple[str, str | int | float | bool | None]]


@dataclass(frozen=True)
class Request:
    """One logical request, sent again as it is on each attempt."""

    method: str
    url: str
    params: Query | None = None
    headers: Mapping[str, str] | None = None
    data: Mapping[str, str] | None = None  # a form body (Reddit's token request)
    auth: tuple[str, str] | None = None  # HTTP basic credentials


@dataclass
class Requester:
    """Sends one logical request with the platform's gate, retries and classification.

    Gates are kept per API root (`gate_key`): each Mastodon server has its own limit.
    """

    client: httpx.AsyncClient
    make_gate: Callable[[], RateGate]
    classify: Classifier
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    semaphore: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    clock: Clock = field(default_factory=SystemClock)
    gates: dict[str, RateGate] = field(default_factory=dict)

    def gate(self, key: str) -> RateGate:
        if key not in self.gates:
            self.gates[key] = self.make_gate()
        return self.gates[key]

    async def get_json(
        self,
        url: str,
        *,
        params: Query | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        gate_key: str = "",
    ) -> tuple[Any, int, int]:
        """Return (parsed JSON, status, attempts) or raise a CollectorError.

        The JSON is typed Any: each collector checks the shape its platform documents.

        Transient faults (5xx, timeouts, resets, bad bodies) spend the retry budget; a rate
        limit does not (it is the platform asking us to wait, and the gate waits, up to
        max_wait_s); final answers (not found, refused credentials) are never retried.
        """
        response, body, attempts = await self.get_response(
            url,
            params=params,
            headers=headers,
            method=method,
            data=data,
            auth=auth,
            gate_key=gate_key,
        )
        return body, response.status_code, attempts

    async def get_response(
        self,
        url: str,
        *,
        params: Query | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        gate_key: str = "",
    ) -> tuple[httpx.Response, Any, int]:
        """As get_json, with the response itself (its headers: pagination links, limits)."""
        gate = self.gate(gate_key)
        request = Request(method, url, params, headers, data, auth)
        attempt = faults = 0
        while True:
            attempt += 1
            try:
                response = await self._send(gate, request)
                self.classify(response)
                try:
                    return response, response.json(), attempt
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise Malformed(
                        f"HTTP {response.status_code} with a body that is not JSON ({type(exc).__name__})",
                        response.status_code,
                    ) from None
            except RateLimited as exc:
                exc.attempts = attempt
                if exc.final or attempt > MAX_ATTEMPTS:
                    raise
                gate.spent(exc.wait_s)  # the next acquire waits for the reset
            except (Unavailable, Malformed) as exc:
                # a malformed body is often a truncated one: worth another look, like a 5xx
                faults += 1
                if faults > self.max_retries:
                    exc.reason = f"{exc.reason} (gave up after {attempt} attempts)"
                    exc.attempts = attempt
                    raise
                await self.clock.sleep(self._backoff(faults))
            except CollectorError as exc:  # final answers (not found, auth ...): never retried
                exc.attempts = attempt
                raise

    async def _send(self, gate: RateGate, request: Request) -> httpx.Response:
        await gate.acquire()
        headers_seen: httpx.Headers | None = None
        try:
            async with self.semaphore:
                response = await self.client.request(
                    request.method,
                    request.url,
                    params=request.params,
                    headers=request.headers,
                    data=request.data,
                    auth=request.auth,
                )
                await response.aread()
                headers_seen = response.headers
                return response
        except httpx.TimeoutException:
            raise Unavailable("timed out") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Unavailable(f"connection failed ({type(exc).__name__})") from None
        except httpx.DecodingError:
            raise Malformed("body could not be decoded") from None
        finally:
            gate.release(headers_seen)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS architecture blog's recommendation)."""
        return random.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


@asynccontextmanager
async def open_requester(
    options: PlatformSettings,
    headers: Mapping[str, str],
    rate_headers: HeaderParser,
    classify: Callable[[httpx.Response], None],
    *,
    concurrency: int,
    clock: Clock,
    transport: httpx.AsyncBaseTransport | None = None,
    pooled: bool = False,
    share: int = 1,
) -> AsyncIterator[Requester]:
    """A Requester over its own HTTP client for one platform, as its settings say: timeout,
    retries, backoff, `concurrency` requests at a time behind a rate gate that reads the
    platform's headers. `pooled`: the connection pool sized to `concurrency` too. `share`: the
    gates' part of each window when `share` collectors spend the same budget at once."""
    client = (
        httpx.AsyncClient(
            headers=dict(headers),
            timeout=options.timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        if pooled
        else httpx.AsyncClient(
            headers=dict(headers), timeout=options.timeout_s, transport=transport
        )
    )
    async with client:
        yield Requester(
            client,
            lambda: RateGate(rate_headers, options.max_wait_s, clock, share),
            classify,
            max_retries=options.max_retries,
            backoff_s=options.backoff_s,
            semaphore=asyncio.Semaphore(concurrency),
            clock=clock,
        )

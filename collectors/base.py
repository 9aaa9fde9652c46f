"""What every collector shares: outcomes, the retrying request, rate-limit gates, redaction.

CollectorError                 a request ended without a usable answer
├── RateLimited                the platform said slow down (429, or its own 403 form)
├── AuthFailed                 credentials missing, wrong or not allowed (never retried)
├── NotFound                   the account does not exist (never retried)
├── Malformed                  the answer could not be read as the documented shape
└── Unavailable                5xx, timeouts, resets: retried, then given up
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx

from core.fetched import Outcome

USER_AGENT = "audience-growth-tracker/0.1 (+https://github.com/audience-growth-tracker)"
TRANSIENT_STATUS = frozenset({408, 425, 500, 502, 503, 504, 520, 521, 522, 524})
MAX_ATTEMPTS = 50  # a backstop: a request that was refused this often is given up


class CollectorError(Exception):
    outcome: ClassVar[Outcome] = Outcome.UNAVAILABLE

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.attempts = 0  # set by the Requester when it gives the error up


class RateLimited(CollectorError):
    outcome = Outcome.RATE_LIMITED

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        wait_s: float | None = None,
        final: bool = False,
    ) -> None:
        super().__init__(reason, status)
        self.wait_s = wait_s
        self.final = final  # waiting would take longer than allowed: give up now


class AuthFailed(CollectorError):
    outcome = Outcome.AUTH_FAILED


class NotFound(CollectorError):
    outcome = Outcome.NOT_FOUND


class Malformed(CollectorError):
    outcome = Outcome.MALFORMED


class Unavailable(CollectorError):
    outcome = Outcome.UNAVAILABLE


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


# --- rate limits ----------------------------------------------------------------------------


@dataclass
class RateState:
    """What the platform last said about its limit."""

    remaining: int | None = None
    reset_at: float | None = None  # wall-clock epoch seconds
    limit: int | None = None  # the size of a window, when the platform says

    @property
    def informative(self) -> bool:
        return self.remaining is not None or self.reset_at is not None


HeaderParser = Callable[[httpx.Headers, float], RateState]


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None and value.strip() != "" else None
    except ValueError:
        return None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def epoch_reset(prefix: str) -> HeaderParser:
    """`<prefix>-limit/-remaining/-reset`, reset in UTC epoch seconds (GitHub, X, Twitch, Bluesky)."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        return RateState(
            _int(_number(headers.get(f"{prefix}-remaining"))),
            _number(headers.get(f"{prefix}-reset")),
            _int(_number(headers.get(f"{prefix}-limit"))),
        )

    return parse


def iso_reset(prefix: str) -> HeaderParser:
    """Mastodon: reset is an ISO-8601 time with microseconds, not an epoch."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        raw = headers.get(f"{prefix}-reset")
        reset = None
        if raw:
            try:
                reset = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
            except ValueError:
                reset = None
        return RateState(
            _int(_number(headers.get(f"{prefix}-remaining"))),
            reset,
            _int(_number(headers.get(f"{prefix}-limit"))),
        )

    return parse


def seconds_left_reset(prefix: str) -> HeaderParser:
    """Reddit: reset is the number of seconds left in the window (may be fractional)."""

    def parse(headers: httpx.Headers, now: float) -> RateState:
        remaining, left = (
            _number(headers.get(f"{prefix}-remaining")),
            _number(headers.get(f"{prefix}-reset")),
        )
        used = _number(headers.get(f"{prefix}-used"))
        limit = _int(used + remaining) if used is not None and remaining is not None else None
        return RateState(_int(remaining), None if left is None else now + left, limit)

    return parse


def no_headers(headers: httpx.Headers, now: float) -> RateState:
    return RateState()


class Clock(Protocol):
    """Where the gates and the retries read the time and wait: the wall clock, or a test's."""

    def now(self) -> float:
        """Epoch seconds (rate-limit headers state their resets in epoch time)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock and asyncio's sleep: what production runs."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


_SAME_WINDOW_S = (
    1.0  # resets closer than this are the same window (Reddit's drift with each answer)
)


class RateGate:
    """Holds requests back while the platform's window is spent, as its headers said.

    Requests in flight are counted against `remaining`, so concurrent tasks do not all spend
    the last slot. A new window starts with the platform's stated limit; while nothing is
    known yet, one request at a time probes. A platform that sends no such headers is not
    held back at all, except after a 429.
    """

    def __init__(self, parse: HeaderParser, max_wait_s: float, clock: Clock | None = None) -> None:
        self._parse = parse
        self._max_wait_s = max_wait_s
        self._clock = clock or SystemClock()
        self._state = RateState()
        self._headerless: bool | None = None if parse is not no_headers else True
        self._in_flight = 0
        self._lock = asyncio.Lock()

    def _allowed(self) -> bool:
        state = self._state
        if state.remaining is None:
            return bool(self._headerless) or self._in_flight < 1
        return state.remaining - self._in_flight > 0

    async def acquire(self) -> None:
        while True:
            async with self._lock:
                now = self._clock.now()
                state = self._state
                if state.reset_at is not None and now >= state.reset_at:  # the window rolled over
                    self._state = state = RateState(remaining=state.limit, limit=state.limit)
                if self._allowed():
                    self._in_flight += 1
                    return
                wait = (state.reset_at - now) if state.reset_at is not None else None
            if wait is not None and wait > self._max_wait_s:
                raise RateLimited(
                    f"rate limit spent; it resets in {wait:.0f} s, more than the {self._max_wait_s:.0f} s allowed to wait",
                    final=True,
                )
            await self._clock.sleep(wait + 0.01 if wait is not None else 0.005)

    def release(self, headers: httpx.Headers | None) -> None:
        self._in_flight -= 1
        if headers is None:
            return
        parsed = self._parse(headers, self._clock.now())
        if not parsed.informative:
            if self._headerless is None:
                self._headerless = True
            return
        self._headerless = False
        state = self._state
        limit = parsed.limit if parsed.limit is not None else state.limit
        if state.reset_at is not None and parsed.reset_at is not None:
            if parsed.reset_at < state.reset_at - _SAME_WINDOW_S:
                return  # a late answer from a window that is over
            same_window = abs(parsed.reset_at - state.reset_at) < _SAME_WINDOW_S
            if same_window and state.remaining is not None and parsed.remaining is not None:
                # answers arrive out of order: the smallest remaining is the truest
                self._state = RateState(
                    min(state.remaining, parsed.remaining), state.reset_at, limit
                )
                return
        self._state = RateState(parsed.remaining, parsed.reset_at, limit)

    def spent(self, wait_s: float | None) -> None:
        """A 429 arrived: nothing left until the reset (or Retry-After)."""
        now = self._clock.now()
        reset = now + wait_s if wait_s is not None else self._state.reset_at
        self._state = RateState(
            0, reset if reset is not None and reset > now else now + 1.0, self._state.limit
        )


# --- requests -------------------------------------------------------------------------------


Classifier = Callable[[httpx.Response], None]  # raises a CollectorError for a non-usable answer


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
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Any = None,
        auth: Any = None,
        gate_key: str = "",
    ) -> tuple[Any, int, int]:
        """Return (parsed JSON, status, attempts) or raise a CollectorError.

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
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Any = None,
        auth: Any = None,
        gate_key: str = "",
    ) -> tuple[httpx.Response, Any, int]:
        """As get_json, with the response itself (its headers: pagination links, limits)."""
        gate = self.gate(gate_key)
        attempt = faults = 0
        while True:
            attempt += 1
            try:
                response = await self._send(
                    gate, method, url, params=params, headers=headers, data=data, auth=auth
                )
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

    async def _send(self, gate: RateGate, method: str, url: str, **kwargs: Any) -> httpx.Response:
        await gate.acquire()
        headers_seen: httpx.Headers | None = None
        try:
            async with self.semaphore:
                response = await self.client.request(method, url, **kwargs)
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


def bearer(secret: Any) -> dict[str, str]:
    """The Authorization header for a SecretStr token, or nothing when it is not set."""
    return {} if secret is None else {"Authorization": f"Bearer {secret.get_secret_value()}"}


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (numeric form; the HTTP-date form is read too)."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        from email.utils import parsedate_to_datetime

        return max((parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def generic_status(response: httpx.Response, wait_s: float | None = None) -> None:
    """Classification every platform shares for statuses it does not treat specially."""
    status = response.status_code
    if status == 429:
        raise RateLimited(
            "HTTP 429 too many requests",
            status,
            wait_s if wait_s is not None else retry_after(response),
        )
    if status in TRANSIENT_STATUS or status >= 500:
        raise Unavailable(f"HTTP {status} from the platform", status)
    if status in (401, 403):
        raise AuthFailed(f"HTTP {status}: not authorised", status)
    if status == 404:
        raise NotFound("HTTP 404", status)
    if status >= 400:
        raise Malformed(f"HTTP {status}: the platform refused the request", status)


def as_count(value: Any) -> int | None:
    """A non-negative count from an int or a numeric string (YouTube sends strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def require_count(value: Any, what: str) -> int:
    count = as_count(value)
    if count is None:
        raise Malformed(f"{what} is missing or not a non-negative integer: {str(value)[:40]!r}")
    return count

"""A local HTTP server that answers like each platform's API (docs/platform-apis.md).

Paths are the real ones under a per-platform prefix, so a collector's base_url points here:
    /mastodon/{host}/api/v1/accounts/lookup      /bluesky/xrpc/app.bsky.actor.getProfile(s)
    /github/users/{user}, /github/repos/{o}/{r}  /youtube/youtube/v3/channels
    /github/repos/{o}/{r}/stargazers (simulator.stargazers)
    /github/repos/{o}/{r}/releases, /youtube/youtube/v3/playlistItems, /youtube/youtube/v3/videos
        (simulator.uploads)
    /x/2/users/by, /x/2/users/by/username/{u}    /twitch/helix/users, /twitch/helix/channels/followers
    /x/2/users/{id}/tweets (simulator.feeds)
    /reddit/api/v1/access_token, /reddit/r/{s}/about, /reddit/user/{u}/about
    /instagram/{ig-user-id}?fields=business_discovery.username(...)
Control (tests, demo): POST /_sim/clock {"day": "YYYY-MM-DD"}, POST /_sim/faults/{platform},
POST /_sim/limits/{platform} {"limit": N, "window_s": S}, GET /_sim/stats.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.audience_api import AUDIENCE_ROUTES, AudienceState
from simulator.faults import Dice, Faults, Limit, Limiter, Window
from simulator.platforms import ROUTES, Handler
from simulator.stargazers import ROUTES as STARGAZER_ROUTES
from simulator.styles import not_enrolled, rate_headers, server_error, too_many
from simulator.types import Answer
from simulator.uploads import ROUTES as UPLOAD_ROUTES
from simulator.world import Figures, World


class _Reset(Exception):
    """Raised mid-response to drop the connection."""


class _Dropped(Response):
    """Starts an answer, then drops the connection before the body (a reset, to the client)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"4096")],
            }
        )
        raise _Reset  # after the start, Starlette re-raises and uvicorn closes the connection


# --- the server -------------------------------------------------------------------------------


class Simulator:
    """The platforms' behaviour over a World: faults, limits, credentials, statistics."""

    def __init__(
        self, world: World, *, seed: int = 0, credentials: dict[str, str] | None = None
    ) -> None:
        self.world = world
        self.faults: dict[str, Faults] = {}
        self.limits: dict[str, Limit] = {}
        self.credentials = credentials or {}  # expected secret values; unset: any non-empty value
        self.stats: Counter[str] = Counter()
        self.served: Counter[tuple[str, str]] = (
            Counter()
        )  # (platform, handle) -> counts served with 200
        self._dice = Dice(seed)
        self._now: Callable[[], float] = time.time
        self._limiter = Limiter(self._now)
        self.audiences = AudienceState(world, clock=lambda: self._now())
        self.app = Starlette(routes=self._routes())

    @property
    def today(self) -> date:
        assert self.world.today is not None
        return self.world.today

    def state(self, platform: str, handle: str) -> Figures | None:
        faults = self.faults.get(platform)
        if faults and handle in faults.missing:
            return None
        figures = self.world.figures(platform, handle)
        if figures is not None and faults and handle in faults.suspended:
            figures.status = "suspended"
        if figures is not None and figures.status == "active":
            self.served[(platform, handle)] = figures.followers
        return figures

    def display_name(self, platform: str, handle: str) -> str:
        return self.world.display_names.get(
            (platform, handle), handle.split("@")[0].split("/")[-1].title()
        )

    def reset(self) -> None:
        """No faults, no limits, no statistics, and the world back to its last day."""
        self.faults.clear()
        self.limits.clear()
        self.stats.clear()
        self.served.clear()
        self.use_clock(time.time)
        self.world.reset()
        self.audiences.reset()

    def use_clock(self, now: Callable[[], float]) -> None:
        """Count the rate windows on `now` (epoch seconds): a test's virtual clock, or the wall's."""
        self._now = now
        self._limiter = Limiter(now)

    def set_faults(self, platform: str, **settings: Any) -> None:
        faults = Faults.from_dict(settings)
        if faults.tier_forbidden and platform != "x":
            raise ValueError("tier_forbidden: only X answers a tier without access (403)")
        self.faults[platform] = faults

    def set_limit(self, platform: str, limit: int, window_s: int) -> None:
        self.limits[platform] = Limit(limit, window_s)

    def _routes(self) -> list[Route]:
        # the audience routes (simulator/audience_api.py) answer where both name a path
        taken = {(path, method) for _, path, _, method in AUDIENCE_ROUTES}
        routes = [
            Route(path, self._wrap(platform, handler), methods=[method])
            for platform, path, handler, method in AUDIENCE_ROUTES
            + [r for r in [*ROUTES, *STARGAZER_ROUTES, *UPLOAD_ROUTES] if (r[1], r[3]) not in taken]
        ]
        routes += [
            Route("/_sim/audience-limits/{platform}", self.audiences.control, methods=["POST"]),
            Route("/_sim/clock", self._clock, methods=["GET", "POST"]),
            Route("/_sim/faults/{platform}", self._set_faults, methods=["POST"]),
            Route("/_sim/limits/{platform}", self._set_limits, methods=["POST"]),
            Route("/_sim/stats", self._stats, methods=["GET"]),
        ]
        return routes

    def _wrap(self, platform: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.stats[f"{platform}:requests"] += 1
            # requests being answered at once, and the most seen (a client's concurrency)
            self.stats[f"{platform}:in_flight"] += 1
            peak = f"{platform}:in_flight_max"
            self.stats[peak] = max(self.stats[peak], self.stats[f"{platform}:in_flight"])
            try:
                answer, limit_headers = await self._answer(platform, handler, request)
            finally:
                self.stats[f"{platform}:in_flight"] -= 1
            self.stats[f"{platform}:{answer.status}"] += 1
            return self._render(platform, answer, limit_headers)

        return endpoint

    async def _answer(
        self, platform: str, handler: Handler, request: Request
    ) -> tuple[Answer, dict[str, str]]:
        faults = self.faults.get(platform, Faults())
        if faults.paths and not any(part in request.url.path for part in faults.paths):
            faults = Faults()  # this request's path is spared
        limit = self.limits.get(platform)
        headers: dict[str, str] = {}
        if limit is not None:
            key = f"{platform}:{request.path_params.get('host', '')}"  # each Mastodon server counts alone
            now = self._now()
            allowed, window = self._limiter.take(key, limit)
            headers = rate_headers(platform, limit, window, now)
            if not allowed:
                self.stats[f"{platform}:limited"] += 1
                return too_many(platform, window, now), headers
        if faults.tier_forbidden:
            self.stats[f"{platform}:fault:tier_forbidden"] += 1
            return not_enrolled(), headers
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if self._dice.roll(faults.timeout_rate):
            self.stats[f"{platform}:fault:timeout"] += 1
            await asyncio.sleep(faults.timeout_s)
        if self._dice.in_burst(platform, faults):
            self.stats[f"{platform}:fault:burst_429"] += 1
            return too_many(platform, Window(0, time.time() + 1), time.time()), headers
        if self._dice.roll(faults.error_rate):
            self.stats[f"{platform}:fault:error"] += 1
            return server_error(
                platform, [500, 502, 503][self.stats[f"{platform}:requests"] % 3]
            ), headers
        if self._dice.roll(faults.reset_rate):
            self.stats[f"{platform}:fault:reset"] += 1
            return Answer(-1, None), headers  # rendered as a dropped connection
        answer = await handler(self, request)
        if self._dice.roll(faults.malformed_rate):
            self.stats[f"{platform}:fault:malformed"] += 1
            answer = Answer(
                answer.status, "<html><body>upstream error</body></html>", answer.headers
            )
        elif self._dice.roll(faults.truncated_rate) and not isinstance(answer.body, str):
            self.stats[f"{platform}:fault:truncated"] += 1
            answer = Answer(
                answer.status,
                json.dumps(answer.body)[: max(len(json.dumps(answer.body)) // 2, 1)],
                answer.headers,
            )
        return answer, headers

    @staticmethod
    def _render(platform: str, answer: Answer, limit_headers: dict[str, str]) -> Response:
        if answer.status == -1:
            return _Dropped()
        headers = limit_headers | answer.headers
        if isinstance(answer.body, str):
            media = (
                "text/html; charset=utf-8" if answer.body.startswith("<") else "application/json"
            )
            if platform == "github" and answer.status == 403 and not answer.body.startswith("<"):
                media = "text/plain; charset=utf-8"
            return Response(
                answer.body, status_code=answer.status, headers=headers, media_type=media
            )
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    async def _clock(self, request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            self.world.set_today(date.fromisoformat(body["day"]))
        return JSONResponse({"day": self.today.isoformat()})

    async def _set_faults(self, request: Request) -> Response:
        try:
            self.set_faults(request.path_params["platform"], **(await request.json()))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _set_limits(self, request: Request) -> Response:
        body = await request.json()
        self.set_limit(request.path_params["platform"], int(body["limit"]), int(body["window_s"]))
        return JSONResponse({"ok": True})

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(dict(self.stats))


class SimulatorServer:
    """Runs a Simulator on 127.0.0.1 in a background thread: `with SimulatorServer(sim) as url:`."""

    def __init__(self, simulator: Simulator, port: int = 0) -> None:
        self.simulator = simulator
        # proto must say TCP, or asyncio skips TCP_NODELAY on accepted connections and every
        # keep-alive answer waits ~40 ms for a delayed ACK
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            simulator.app,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_urls(self) -> dict[str, str]:
        """base_url of every platform, for the settings' [platforms.*] tables."""
        urls = {p: f"{self.url}/{p}" for p, *_ in ROUTES}
        urls["mastodon"] = f"{self.url}/mastodon/{{host}}"
        return urls

    def environ(self, backoff_s: float = 0.01, **per_platform: str) -> dict[str, str]:
        """AUDIENCE_* settings pointing every collector at this server, with fast retries;
        `per_platform` adds a setting for every platform (e.g. timeout_s="0.5")."""
        settings = {"base_url": None, "backoff_s": str(backoff_s), **per_platform}
        return {
            f"AUDIENCE_PLATFORMS__{p.upper()}__{key.upper()}": url if value is None else value
            for p, url in self.base_urls().items()
            for key, value in settings.items()
        }

    def start(self) -> SimulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

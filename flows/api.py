"""Which Prefect API a command's flow runs are recorded in.

In order: the API Prefect's settings name (PREFECT_API_URL, from the environment or the active
Prefect profile); else a local API kept from an earlier command (`audience run --keep-api`
starts one with Prefect's own `prefect server start --background`; `audience serve` records
its server while it serves), found through a state file in PREFECT_HOME beside Prefect's
`server.pid`; else Prefect's temporary API for the life of this process (no server needed,
but it costs most of a run's start-up: about 6 s to import Prefect's server, then as long
again for the subprocess to answer).

A kept API is stopped with `prefect server stop` (the same PREFECT_HOME).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from core.errors import AudienceError, is_interrupt

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

STATE_FILE = "audience-api.json"  # {"url": ..., "pid": ...}, beside Prefect's server.pid
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Api:
    """The API a flow run goes to: url None is Prefect's temporary one for this process."""

    url: str | None
    how: str  # "configured", "kept", "started" or "temporary"

    def describe(self) -> str:
        if self.how == "configured":
            return f"recording the run in the Prefect API at {self.url} (PREFECT_API_URL)"
        if self.how == "kept":
            return f"recording the run in the kept local Prefect API at {self.url}"
        if self.how == "started":
            return (
                f"started a local Prefect API at {self.url}, kept for the next runs "
                f"(stop it with: PREFECT_HOME={prefect_home()} prefect server stop)"
            )
        return (
            "Prefect starts a temporary API in this process (none set, none kept; "
            "`audience run --keep-api` keeps one for the next runs)"
        )

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Prefect's settings point at this API meanwhile (Prefect's own temporary_settings)."""
        if self.url is None:
            server = _temporary_server_deaf_to_ctrl_c()
            try:
                yield
            except BaseException as exc:
                if is_interrupt(exc):  # the command then leaves without running atexit, where
                    server.stop()  # Prefect stops it (after its log and event workers are done)
                raise
            return
        if self.how == "configured":
            yield
            return
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.url}):
            yield


def _temporary_server_deaf_to_ctrl_c() -> SubprocessASGIServer:
    """Prefect's temporary API server, started (by Prefect, when the flow first needs it) deaf
    to a Ctrl-C at the terminal, which then reaches this command only.

    In the terminal's process group the server got the Ctrl-C too and died at once; the flow
    run, interrupted, then kept trying to record its crash in it (about 150 s) and the command
    ended as an internal error (ConnectError). Prefect finds its temporary server as the
    instance registered under no port (its test harness registers its own the same way); the
    one registered here runs Prefect's own command with SIGINT blocked, a mask the process
    inherits (uvicorn's handlers do not unblock it). Stopped (SIGTERM) when the flow is done."""
    from prefect.server.api.server import SubprocessASGIServer

    class DeafToCtrlC(SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                return super()._run_uvicorn_command()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    registered = SubprocessASGIServer._instances.get(None)
    if registered is not None and registered.running:
        return registered
    SubprocessASGIServer._instances.pop(None, None)
    return DeafToCtrlC()


def prefect_home() -> Path:
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home).expanduser().resolve()


def configured_url() -> str | None:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def answers(url: str, timeout_s: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kept_url(home: Path | None = None) -> str | None:
    """The kept local API's URL when it is running and answers; a stale record is removed."""
    state = (home or prefect_home()) / STATE_FILE
    try:
        recorded = json.loads(state.read_text(encoding="utf-8"))
        url, pid = str(recorded["url"]), int(recorded["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _alive(pid) and answers(url):
        return url
    state.unlink(missing_ok=True)
    return None


def record(url: str, pid: int, home: Path | None = None) -> Path:
    """Say where a kept API answers, for the next commands."""
    state = (home or prefect_home()) / STATE_FILE
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"url": url, "pid": pid}), encoding="utf-8")
    return state


def forget(pid: int, home: Path | None = None) -> None:
    """Remove the record of the API run by `pid` (and only of that one)."""
    state = (home or prefect_home()) / STATE_FILE
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(state.read_text(encoding="utf-8"))["pid"]) == pid:
            state.unlink()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_kept(home: Path | None = None, timeout_s: float = START_TIMEOUT_S) -> str:
    """`prefect server start --background` on loopback; its URL once it answers."""
    home = home or prefect_home()
    port = _free_port()
    env = os.environ | {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": os.environ.get("PREFECT_SERVER_UI_ENABLED", "false"),
    }
    env.pop("PREFECT_API_URL", None)
    started = subprocess.run(
        [
            *(sys.executable, "-m", "prefect", "server", "start", "--background"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    pid_file = home / "server.pid"
    if started.returncode != 0 or not pid_file.exists():
        said = " ".join((started.stdout + started.stderr).split())[-300:]
        raise AudienceError(
            f"could not start a local Prefect API in {home}: {said or 'no reason given'}"
        )
    pid = int(pid_file.read_text(encoding="utf-8"))
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if answers(url, timeout_s=1.0):
            record(url, pid, home)
            return url
        if not _alive(pid):
            break
        time.sleep(0.25)
    raise AudienceError(
        f"the local Prefect API started in {home} did not answer on port {port} "
        f"within {timeout_s:.0f} s (stop it with: PREFECT_HOME={home} prefect server stop)"
    )


def choose(keep: bool) -> Api:
    """The configured API, else a kept one, else (keep) a new kept one, else the temporary."""
    configured = configured_url()
    if configured:
        return Api(configured, "configured")
    home = prefect_home()
    kept = kept_url(home)
    if kept:
        return Api(kept, "kept")
    if keep:
        return Api(start_kept(home), "started")
    return Api(None, "temporary")

"""Shared fixtures: a real DuckDB file per test, CSV writers, and the CLI's real entry point."""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audience.cli import main

# Prefect's console handler keeps the stream it was set up with, and pytest's capture closes
# that stream after the test that first ran a flow; runs still log to the Prefect API.
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
from simulator.server import Simulator, SimulatorServer
from simulator.world import World
from warehouse.db import open_warehouse


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "audience.duckdb"


@pytest.fixture
def con(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with open_warehouse(warehouse_path) as connection:
        yield connection


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """write_csv("name.csv", "header\\nrow\\n") -> path"""

    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Result]:
    """Run `audience ARGS` in-process through main(), from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    for name in ("AUDIENCE_WAREHOUSE", "AUDIENCE_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> Result:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def table_digest(path: Path) -> str:
    """A digest of every user table's content, to prove a refused command changed nothing."""
    with duckdb.connect(str(path), read_only=True) as c:
        tables = [
            r[0]
            for r in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            ).fetchall()
        ]
        digest = hashlib.sha256()
        for table in tables:
            rows = c.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            digest.update(f"{table}:{rows!r}".encode())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the whole session (starting one costs about 12 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


# --- the platform simulator, over real HTTP on loopback ----------------------------------------

SIM_SECRETS = {
    "AUDIENCE_YOUTUBE_API_KEY": "sim-youtube-key",
    "AUDIENCE_X_BEARER_TOKEN": "sim-x-bearer",
    "AUDIENCE_TWITCH_CLIENT_ID": "sim-twitch-id",
    "AUDIENCE_TWITCH_TOKEN": "sim-twitch-token",
    "AUDIENCE_REDDIT_CLIENT_ID": "sim-reddit-id",
    "AUDIENCE_REDDIT_CLIENT_SECRET": "sim-reddit-secret",
    "AUDIENCE_INSTAGRAM_TOKEN": "sim-ig-token",
    "AUDIENCE_PLATFORMS__INSTAGRAM__ACCOUNT_ID": "1784140",
}


def _test_world() -> World:
    from simulator.audiences import AccountSpec
    from simulator.sample import SAMPLE_DAYS, SAMPLE_EVENTS, SAMPLE_SEED, SAMPLE_SPECS, SAMPLE_START

    extra = [
        AccountSpec(platform, handle.format(i), 500 + 37 * i, 3 + i % 7)
        for i in range(25)
        for platform, handle in (
            ("mastodon", "user{}@sim" + str(i % 3) + ".social"),
            ("bluesky", "user{}.bsky.social"),
            ("github", "user{}"),
            ("x", "user_{}"),
            ("youtube", "@chan{}"),
            ("twitch", "streamer{}"),
            ("reddit", "r/sub{}"),
            ("instagram", "insta.{}"),
        )
    ]
    return World([*SAMPLE_SPECS, *extra], SAMPLE_START, SAMPLE_DAYS, SAMPLE_SEED, SAMPLE_EVENTS)


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimulatorServer]:
    server = SimulatorServer(
        Simulator(
            _test_world(),
            seed=7,
            credentials={
                "youtube_api_key": SIM_SECRETS["AUDIENCE_YOUTUBE_API_KEY"],
                "x_bearer_token": SIM_SECRETS["AUDIENCE_X_BEARER_TOKEN"],
                "twitch_token": SIM_SECRETS["AUDIENCE_TWITCH_TOKEN"],
                "reddit_client_id": SIM_SECRETS["AUDIENCE_REDDIT_CLIENT_ID"],
                "reddit_client_secret": SIM_SECRETS["AUDIENCE_REDDIT_CLIENT_SECRET"],
                "instagram_token": SIM_SECRETS["AUDIENCE_INSTAGRAM_TOKEN"],
            },
        )
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sim(sim_server: SimulatorServer) -> Iterator[SimulatorServer]:
    """The shared simulator with no faults, no limits and the last simulated day."""
    yield sim_server
    sim_server.simulator.reset()


def sim_environ(server: SimulatorServer, **extra: str) -> dict[str, str]:
    """Environment that points every collector at the simulator, with fast retries."""
    return server.environ() | SIM_SECRETS | extra


# --- a real SMTP server on loopback (aiosmtpd, STARTTLS, login) ---------------------------------

PASSWORD = "smtp-sentinel-password-0009"


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[attr-defined]
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:  # Controller(port=0) self-connects to port 0 (stack-notes S1)
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Controller, Inbox]]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, auth: object
    ) -> AuthResult:
        ok = (
            isinstance(auth, LoginPassword)
            and auth.login == b"alerts"
            and auth.password == PASSWORD.encode()
        )
        return AuthResult(success=ok)

    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        server_hostname="localhost",
    )
    controller.start()
    monkeypatch.setenv("AUDIENCE_SMTP_CAFILE", str(cert))
    yield controller, inbox
    controller.stop()


SAMPLE_AS_OF = dt.date(2024, 12, 31)  # the bundled sample's last day

"""A real SMTP server on loopback (aiosmtpd): STARTTLS with a self-signed certificate, login."""

from __future__ import annotations

import datetime as dt
import email
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.settings import Settings, load_settings

USER = "alerts"
PASSWORD = "smtp-sentinel-password-0009"


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, valid from yesterday to tomorrow: (cert, key)."""
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
    """The messages the server accepted, parsed."""

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


def _authenticate(
    server: object, session: object, envelope: object, mechanism: str, auth: object
) -> AuthResult:
    ok = (
        isinstance(auth, LoginPassword)
        and auth.login == USER.encode()
        and auth.password == PASSWORD.encode()
    )
    return AuthResult(success=ok)


@contextmanager
def smtp_server(cert: Path, key: Path) -> Iterator[tuple[Controller, Inbox]]:
    """A running server that requires STARTTLS and the login USER / PASSWORD."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def smtp_settings(port: int, tmp_path: Path, **alerts: str) -> Settings:
    """Settings that send alerts to the test SMTP server on `port` (login, STARTTLS), to one
    recipient; `alerts` overrides any AUDIENCE_* variable."""
    env = {
        "AUDIENCE_ALERTS__SMTP_HOST": "localhost",
        "AUDIENCE_ALERTS__SMTP_PORT": str(port),
        "AUDIENCE_ALERTS__SMTP_USER": USER,
        "AUDIENCE_SMTP_PASSWORD": PASSWORD,
        "AUDIENCE_ALERTS__RECIPIENTS": '["analyst@example.org"]',
        "AUDIENCE_ALERTS__OUTBOX": str(tmp_path / "outbox"),
        "AUDIENCE_ALERTS__SMTP_TIMEOUT_S": "3",  # aiosmtpd leaves a refused login unanswered
    }
    return load_settings(None, environ=env | alerts)

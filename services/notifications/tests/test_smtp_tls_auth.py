"""SMTP as a production relay wants it (NTF-03): STARTTLS or implicit TLS
with a verified certificate and a login, all from settings; against a real
aiosmtpd server that refuses mail without them."""
from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from manager_shared.testing.ports import free_port
from notifications.config import Settings
from notifications.mailer import SmtpMailer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the test's private CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


class Relay:
    """A relay that needs TLS and a login before it takes any mail."""

    def __init__(self, certificate, implicit_tls: bool) -> None:
        cert, key = certificate
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.received: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        relay = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                relay.received.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (auth_data.login, auth_data.password) == (b"manager", b"relay-secret")
            relay.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self.port = free_port()
        # (aiosmtpd only knows STARTTLS as "TLS" for auth_require_tls; the implicit one is TLS from the start)
        tls = ({"ssl_context": context, "auth_require_tls": False} if implicit_tls
               else {"tls_context": context, "require_starttls": True, "auth_require_tls": True})
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                                     auth_required=True, **tls)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def _settings(relay: Relay, certificate, implicit_tls: bool, password: str = "relay-secret") -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=relay.port, smtp_username="manager",
                    smtp_password=password, smtp_starttls=not implicit_tls, smtp_tls=implicit_tls,
                    smtp_ca_file=str(certificate[0]), smtp_timeout=5, mail_from="Manager <no-reply@manager.ch>")


def _message():
    import uuid
    from datetime import datetime, timezone

    from notifications.models import Message

    now = datetime.now(timezone.utc)
    return Message(id=1, event_id=uuid.uuid4(), event_type="X", recipient="k", address="anna@example.ch",
                   channel="email", template="t", language="en", subject="Hello", body_text="Hi\n", body_html=None,
                   status="pending", attempts=0, created_at=now, next_attempt_at=now)


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "implicit-tls"])
async def test_ntf_03_smtp_over_tls_with_login_from_settings(certificate, implicit_tls):
    with Relay(certificate, implicit_tls) as relay:
        async with SmtpMailer(_settings(relay, certificate, implicit_tls)).session() as smtp:
            outcomes = [await smtp.send(_message()) for _ in range(2)]
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert relay.received == [("no-reply@manager.ch", ["anna@example.ch"])] * 2
    assert relay.logins == ["manager"]  # one login: the connection was reused


async def test_ntf_04_refused_login_is_retried_not_given_up(certificate):
    with Relay(certificate, implicit_tls=False) as relay:
        settings = _settings(relay, certificate, False, password="wrong").model_copy(update={"smtp_timeout": 2})
        async with SmtpMailer(settings).session() as smtp:
            outcome = await smtp.send(_message())
    assert outcome.status == "retry"  # our credentials, not the message: fixable, never dead-lettered
    assert "wrong" not in outcome.error and not relay.received and relay.logins == ["manager"]


async def test_ntf_03_an_unverified_certificate_is_refused(certificate):
    """Without the CA the relay's certificate is not trusted: nothing is sent."""
    with Relay(certificate, implicit_tls=False) as relay:
        settings = _settings(relay, certificate, False).model_copy(update={"smtp_ca_file": None})
        async with SmtpMailer(settings).session() as smtp:
            outcome = await smtp.send(_message())
    assert outcome.status == "retry" and "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert not relay.received and not relay.logins

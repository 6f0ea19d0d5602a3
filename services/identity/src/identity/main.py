"""Composition root of identity: settings, runtime, service, app."""
from __future__ import annotations

from pathlib import Path

from manager_shared.clock import Clock, SystemClock
from manager_shared.net import parse_networks
from manager_shared.runtime import ServiceRuntime

from . import __version__, api, api_recovery, api_push, api_webauthn, consumers, retention, session_end
from .codes import OneTimeCodes, derive_key
from .config import Settings
from .email_change import EmailChange
from .factor_sms import SmsFactor
from .keys import load_signing_key
from .models import blocked_table, inbox_table, outbox_table
from .passwords import Passwords
from .recovery import PasswordReset
from .service import IdentityService
from .support import SupportService
from .app_passwords import AppPasswords
from .factor_totp import TotpFactor
from .factor_push import PushFactor
from .factor_webauthn import WebAuthnFactor
from .two_factor import TwoFactorService
from .tokens import TokenIssuer

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, clock: Clock | None = None):
    settings = settings or Settings()
    runtime = ServiceRuntime("identity", settings, outbox_table=outbox_table, inbox_table=inbox_table,
                             migrations=MIGRATIONS, blocked_table=blocked_table)
    service = IdentityService(settings=settings, outbox=runtime.outbox, clock=clock or SystemClock(),
                              passwords=Passwords(settings.argon2_memory_kib, settings.argon2_time_cost,
                                                  settings.argon2_parallelism))
    consumers.register(runtime, service)
    runtime.on_shutdown(service.passwords.close)
    retention.register(runtime.retention, settings)
    # identity refuses ended sessions and blocked accounts from its own rows, at once
    runtime.current_principal = session_end.own_principal(runtime)

    codes = OneTimeCodes(lambda: service.clock, max_attempts=settings.code_max_attempts)

    async def load_keys() -> None:
        pem = await load_signing_key(runtime.db, settings)
        service.tokens = TokenIssuer(pem, issuer=settings.token_issuer, audience=settings.token_audience,
                                     ttl_seconds=settings.access_token_ttl_seconds)
        # identity verifies its own tokens without an HTTP round trip to itself
        runtime.verifier.jwks.preload(service.tokens.jwks())
        # the HMAC key of one-time codes: a secret of its own, else derived from the signing key (codes.py)
        secret = settings.one_time_code_key.get_secret_value() if settings.one_time_code_key else None
        codes.use_key(derive_key(secret, "" if secret else pem))

    runtime.on_startup(load_keys)
    routers = [api.router, api.support, api.sync, api.wellknown, api_webauthn.router, api_push.router,
               api_recovery.router]
    app = runtime.create_app(version=__version__, routers=routers,
                             description="Accounts, sign-in, two-factor authentication and security alerts.")
    app.state.identity = service
    app.state.two_factor = two_factor = TwoFactorService(identity=service)
    two_factor.register(TotpFactor())
    two_factor.register(WebAuthnFactor.from_settings(settings))
    two_factor.register(PushFactor(settings))
    sms = two_factor.register(SmsFactor(codes))
    app.state.password_reset = PasswordReset(identity=service, two_factor=two_factor, codes=codes, sms=sms)
    app.state.email_change = EmailChange(identity=service, codes=codes)
    app.state.support = SupportService(identity=service, two_factor=two_factor)
    app.state.app_passwords = app_passwords = AppPasswords(two_factor)
    two_factor.on_turned_off.append(app_passwords.revoke_all)
    service.second_factor = two_factor.challenge_if_needed
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies.split(","))
    return app

"""identity's HTTP API: thin routers, rules in service.py."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.errors import NotFound
from manager_shared.net import client_ip
from manager_shared.runtime import current_principal, runtime_of

from . import repository as repo
from .db import get_session
from .errors import InvalidRefreshToken
from .location import Location, locate
from .schemas import (AppPasswordCreate, AppPasswordIssued, AppPasswordRead, SyncCredentials, SyncIdentity,
                      TwoFactorReset, AccountCreate, AccountCreated, AccountRead, AccountStatus, ActivityPage, BlockChange,
                      EmergencyCodes, MethodRename, MfaChallenge, MfaStep, PasswordChange, Preferences, PreferencesUpdate,
                      Reauthenticate, RecoveryPhoneUpdate, Refresh, SessionRead, SignIn, SupportCode, SupportVerified,
                      SupportVerify, TokenPair, TotpConfirm, TotpEnrolment, TotpStart, TwoFactorMethodRead)
from .service import IdentityService, RefreshTokenReused

# Largest id a BIGINT column holds: a bigger cursor is bad input, not a crash.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/v1", tags=["identity"])
wellknown = APIRouter(tags=["keys"])
support = APIRouter(prefix="/v1/support", tags=["support"])
sync = APIRouter(prefix="/v1/sync", tags=["sync servers"])


def service_of(request: Request) -> IdentityService:
    return request.app.state.identity


def where(request: Request) -> Location:
    """Client address (X-Forwarded-For only from trusted proxies) and device."""
    ip = client_ip(request.client.host if request.client else None, request.headers.get("x-forwarded-for"),
                   request.app.state.trusted_proxies)
    return locate(ip, request.headers.get("user-agent"))


@router.post("/accounts", status_code=status.HTTP_202_ACCEPTED, response_model=AccountCreated)
async def register(data: AccountCreate, request: Request, session: AsyncSession = Depends(get_session, scope="function")):
    """Create an account (IDN-01). The answer is the same whether or not the
    address is already in use, so sign-up cannot be used to find accounts."""
    await service_of(request).register(session, data, where(request))
    return AccountCreated()


@router.post("/sessions", response_model=TokenPair | MfaChallenge)
async def sign_in(data: SignIn, request: Request):
    """Sign in with e-mail and password (IDN-03). Returns a short-lived access
    token (ES256 JWT, keys at /.well-known/jwks.json) and a rotating refresh token;
    or, when the account has 2FA, a challenge to finish at /v1/sessions/mfa."""
    return await service_of(request).sign_in(runtime_of(request).db, data.email, data.password, where(request), data.persistent)


@router.post("/sessions/mfa", response_model=TokenPair)
async def sign_in_second_step(data: MfaStep, request: Request):
    """Finish a sign-in with the proof of one second factor (IDN-14): a code
    from the authenticator app (each code once), a security key assertion, an
    SMS code, an approved push challenge, or an emergency code (each once; the
    owner is told). The mfa_token works once."""
    return await request.app.state.two_factor.complete_sign_in(runtime_of(request).db, data, where(request))


@router.post("/sessions/refresh", response_model=TokenPair)
async def refresh(data: Refresh, request: Request):
    """Exchange a refresh token for new tokens; each refresh token works once."""
    svc, db = service_of(request), runtime_of(request).db
    try:
        async with db.transaction() as session:
            return await svc.refresh(session, data.refresh_token)
    except RefreshTokenReused as reused:
        async with db.transaction() as session:
            await svc.sign_out(session, reused.session_id, "refresh_token_reused")
        raise InvalidRefreshToken() from None


@router.get("/sessions", response_model=list[SessionRead])
async def list_sessions(request: Request, who: Principal = Depends(current_principal),
                        session: AsyncSession = Depends(get_session, scope="function")):
    """The caller's open sessions with place and device; `current` marks this one."""
    return await service_of(request).sessions(session, who)


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(request: Request, who: Principal = Depends(current_principal),
                   session: AsyncSession = Depends(get_session, scope="function")):
    """Sign out: the current session and its refresh tokens stop working."""
    await service_of(request).sign_out(session, uuid.UUID(who.session_id))



@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                         session: AsyncSession = Depends(get_session, scope="function")):
    """End one of the caller's sessions (its refresh token stops working)."""
    await service_of(request).revoke_session(session, who, session_id)

@router.get("/me", response_model=AccountRead)
async def me(request: Request, who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """The signed-in account's profile; the current login e-mail is always shown."""
    account = await repo.account_by_id(session, who.account_id)
    if account is None:
        raise NotFound()
    return AccountRead.model_validate(account, from_attributes=True)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(data: PasswordChange, request: Request, who: Principal = Depends(current_principal)):
    """Change the password (IDN-05): the current one is required; every other
    session is signed out and the owner gets a security e-mail."""
    await service_of(request).change_password(runtime_of(request).db, who, data.current_password,
                                              data.new_password, where(request))


@router.put("/me/recovery-phone")
async def set_recovery_phone(data: RecoveryPhoneUpdate, request: Request,
                             who: Principal = Depends(current_principal)) -> dict:
    """Set, replace (or with `phone: null` remove) the recovery mobile number
    (IDN-12); the password is required and the owner gets a security e-mail."""
    hint = await service_of(request).set_recovery_phone(runtime_of(request).db, who, data.password, data.phone,
                                                        where(request))
    return {"recovery_phone": hint}


@router.post("/sessions/current/reauthenticate", response_model=TokenPair)
async def reauthenticate(data: Reauthenticate, request: Request, who: Principal = Depends(current_principal)):
    """Re-type the password before a dangerous action (IDN-19): returns tokens
    whose `auth_time` is now, which other services check locally."""
    return await service_of(request).reauthenticate(runtime_of(request).db, who, data.password, where(request))


@router.get("/me/activity", response_model=ActivityPage)
async def recent_activity(request: Request, limit: int = Query(20, ge=1, le=100),
                          before: int | None = Query(None, ge=1, le=MAX_ID), who: Principal = Depends(current_principal),
                          session: AsyncSession = Depends(get_session, scope="function")):
    """Recent security activity (IDN-10): sign-ins with place and device,
    failed attempts, password and preference changes; newest first."""
    return await service_of(request).activity(session, who.account_id, limit, before)


@router.get("/me/2fa", response_model=list[TwoFactorMethodRead])
async def two_factor_methods(request: Request, who: Principal = Depends(current_principal),
                             session: AsyncSession = Depends(get_session, scope="function")):
    """The account's confirmed second factors (none = 2FA off)."""
    return await request.app.state.two_factor.methods(session, who.account_id)


@router.post("/me/2fa/totp", response_model=TotpEnrolment, status_code=status.HTTP_201_CREATED)
async def start_totp(data: TotpStart, request: Request, who: Principal = Depends(current_principal),
                     session: AsyncSession = Depends(get_session, scope="function")):
    """Add an authenticator app (needs a sign-in in the last 5 minutes): scan
    the QR code, then confirm with a code."""
    return await request.app.state.two_factor.kinds["totp"].start(session, who, data.name)


@router.post("/me/2fa/totp/{method_id}/confirm", response_model=EmergencyCodes)
async def confirm_totp(method_id: uuid.UUID, data: TotpConfirm, request: Request,
                       who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Confirm the app with a code; the first factor returns the 10 emergency codes, once."""
    codes = await request.app.state.two_factor.kinds["totp"].confirm(session, who, method_id, data.code)
    return EmergencyCodes(emergency_codes=codes)


@router.patch("/me/2fa/{method_id}", response_model=TwoFactorMethodRead)
async def rename_method(method_id: uuid.UUID, data: MethodRename, request: Request,
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Rename a second factor of any kind (e.g. "YubiKey in the drawer")."""
    return await request.app.state.two_factor.rename(session, who, method_id, data.name)


@router.delete("/me/2fa/{method_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_method(method_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                        session: AsyncSession = Depends(get_session, scope="function")):
    """Remove a second factor of any kind (needs a recent sign-in); removing
    the last one turns 2FA off and the emergency codes stop working."""
    await request.app.state.two_factor.remove(session, who, method_id)


@router.post("/me/2fa/emergency-codes", response_model=EmergencyCodes)
async def regenerate_emergency_codes(request: Request, who: Principal = Depends(current_principal),
                                     session: AsyncSession = Depends(get_session, scope="function")):
    """A new set of 10 emergency codes (the old ones stop working), shown once."""
    return EmergencyCodes(emergency_codes=await request.app.state.two_factor.regenerate_codes(session, who))


@router.get("/me/preferences", response_model=Preferences)
async def get_preferences(request: Request, who: Principal = Depends(current_principal),
                          session: AsyncSession = Depends(get_session, scope="function")):
    """Language, time zone and which optional security alerts are sent (IDN-10, IDN-11)."""
    account = await repo.account_by_id(session, who.account_id)
    if account is None:
        raise NotFound()
    return service_of(request).preferences(account)


@router.patch("/me/preferences", response_model=Preferences)
async def update_preferences(change: PreferencesUpdate, request: Request,
                             who: Principal = Depends(current_principal),
                             session: AsyncSession = Depends(get_session, scope="function")):
    """Change language, time zone or alert choices; e-mails and dates use them from then on."""
    return await service_of(request).update_preferences(session, who.account_id, change)


@router.post("/me/support-code", response_model=SupportCode)
async def new_support_code(request: Request, who: Principal = Depends(current_principal),
                           session: AsyncSession = Depends(get_session, scope="function")):
    """A short-lived code to read out to support, who checks it to know the
    caller really holds this account (IDN-17)."""
    code, expires = await request.app.state.support.new_support_code(session, who.account_id)
    return SupportCode(code=code, expires_at=expires)


@support.post("/verify-code", response_model=SupportVerified)
async def verify_support_code(data: SupportVerify, request: Request, who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """Support staff: check the code a caller read out (single use). 404 for
    any mismatch, unknown e-mail or expiry alike."""
    account = await request.app.state.support.verify_code(session, who, data.email, data.code)
    return SupportVerified(account_id=account.id, email=account.email)


@support.post("/accounts/{account_id}/block", response_model=AccountStatus)
async def block_account(account_id: uuid.UUID, data: BlockChange, request: Request,
                        who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Support staff: block an account after a security incident (IDN-18):
    sessions end now and every service refuses its tokens."""
    account = await request.app.state.support.set_blocked(session, who, account_id, True, data.reason)
    return AccountStatus(account_id=account.id, status=account.status)


@support.post("/accounts/{account_id}/unblock", response_model=AccountStatus)
async def unblock_account(account_id: uuid.UUID, data: BlockChange, request: Request,
                          who: Principal = Depends(current_principal), session: AsyncSession = Depends(get_session, scope="function")):
    """Support staff: lift a block (IDN-18)."""
    account = await request.app.state.support.set_blocked(session, who, account_id, False, data.reason)
    return AccountStatus(account_id=account.id, status=account.status)


@support.post("/accounts/{account_id}/reset-2fa")
async def reset_two_factor(account_id: uuid.UUID, data: TwoFactorReset, request: Request,
                           who: Principal = Depends(current_principal),
                           session: AsyncSession = Depends(get_session, scope="function")) -> dict:
    """Support staff: remove every second factor of an account whose holder
    has just proved identity with a support code to this staff member
    (IDN-16/17); the owner is told and app passwords stop working."""
    removed = await request.app.state.support.reset_two_factor(session, who, account_id, data.reason)
    return {"account_id": str(account_id), "methods_removed": removed}


@router.get("/me/app-passwords", response_model=list[AppPasswordRead])
async def list_app_passwords(request: Request, who: Principal = Depends(current_principal),
                             session: AsyncSession = Depends(get_session, scope="function")):
    """The caller's application passwords (names and last use, never the passwords)."""
    return await request.app.state.app_passwords.list(session, who.account_id)


@router.post("/me/app-passwords", response_model=AppPasswordIssued, status_code=status.HTTP_201_CREATED)
async def create_app_password(data: AppPasswordCreate, request: Request, who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """Create a password for one sync client (IDN-15; 2FA must be on, recent
    sign-in needed). The password is shown in this answer only."""
    row, password = await request.app.state.app_passwords.create(session, who, data.name)
    return AppPasswordIssued(id=row.id, name=row.name, created_at=row.created_at, last_used_at=None,
                             password=password)


@router.delete("/me/app-passwords/{app_password_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_app_password(app_password_id: uuid.UUID, request: Request,
                              who: Principal = Depends(current_principal),
                              session: AsyncSession = Depends(get_session, scope="function")):
    """Revoke an application password: the client using it is refused from now on."""
    await request.app.state.app_passwords.revoke(session, who, app_password_id)


@sync.post("/check", response_model=SyncIdentity)
async def check_app_password(data: SyncCredentials, request: Request,
                             x_sync_client_key: str | None = Header(default=None)):
    """For sync servers (IMAP, CalDAV, WebDAV) only, identified by their key
    in `X-Sync-Client-Key`: is this login + application password valid?
    Throttled like sign-in; opens no session and returns no token."""
    app_passwords = request.app.state.app_passwords
    app_passwords.check_client(x_sync_client_key)
    account_id, app_password_id = await app_passwords.verify(runtime_of(request).db, data.login, data.password,
                                                             where(request))
    return SyncIdentity(account_id=account_id, app_password_id=app_password_id)


@wellknown.get("/.well-known/jwks.json")
async def jwks(request: Request) -> dict:
    """Public keys that verify access tokens (every service caches them)."""
    return service_of(request).tokens.jwks()

"""HTTP API of security keys (IDN-14b): thin routers over factor_webauthn.py."""
from __future__ import annotations


from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal, runtime_of

from .api import where
from .db import get_session
from .factor_webauthn import WebAuthnFactor
from .schemas_webauthn import (WebAuthnOptions, WebAuthnRegistered, WebAuthnRegistrationFinish,
                               WebAuthnRegistrationStart, WebAuthnSignInOptionsRequest)

router = APIRouter(prefix="/v1", tags=["security keys"])


def factor_of(request: Request) -> WebAuthnFactor:
    return request.app.state.two_factor.kinds["webauthn"]


@router.post("/me/2fa/webauthn", response_model=WebAuthnOptions, status_code=status.HTTP_201_CREATED)
async def begin_security_key(data: WebAuthnRegistrationStart, request: Request,
                             who: Principal = Depends(current_principal),
                             session: AsyncSession = Depends(get_session, scope="function")):
    """Add a security key (IDN-14b; needs a sign-in in the last 5 minutes):
    pass `public_key` to navigator.credentials.create(), then send the result
    to /v1/me/2fa/webauthn/finish within `expires_at`. Keys already on the
    account are excluded."""
    return await factor_of(request).begin_registration(session, who, data.name)


@router.post("/me/2fa/webauthn/finish", response_model=WebAuthnRegistered)
async def finish_security_key(data: WebAuthnRegistrationFinish, request: Request,
                              who: Principal = Depends(current_principal)):
    """Finish adding a security key with the browser's PublicKeyCredential
    (JSON). Each registration request works once: a refused answer needs a new
    one. The account's first second factor returns the 10 emergency codes, once."""
    return await factor_of(request).finish_registration(runtime_of(request).db, who, data.challenge_id,
                                                        data.credential)


@router.post("/sessions/mfa/webauthn/options", response_model=WebAuthnOptions)
async def security_key_sign_in_options(data: WebAuthnSignInOptionsRequest, request: Request):
    """Second step of sign-in with a security key: options for
    navigator.credentials.get() listing the account's keys, bound to this
    mfa_token (a newer request replaces the previous one). Send the assertion
    to POST /v1/sessions/mfa as {mfa_token, method: "webauthn", webauthn: {...}}."""
    return await factor_of(request).sign_in_options(runtime_of(request).db, data.mfa_token, where(request))

"""HTTP API of SMS codes as a second factor (IDN-14c), password reset
(IDN-13), login and recovery e-mail changes (IDN-06)."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.runtime import current_principal, runtime_of

from .api import where
from .db import get_session
from .email_change import EmailChange
from .factor_sms import SmsFactor
from .recovery import PasswordReset
from .schemas import EmergencyCodes
from .schemas_recovery import (Accepted, CodeConfirm, LoginEmailChange, LoginEmailChangePending, LoginEmailRead,
                               PasswordResetConfirm, PasswordResetRequest, PasswordResetSmsCode, RecoveryEmailRead,
                               RecoveryEmailUpdate, SmsChallenge, SmsConfirm, SmsEnrolment, SmsSignInCode, SmsStart)

router = APIRouter(prefix="/v1", tags=["identity"])
RESET_ACCEPTED = ("If this address is the login of an account, a code is on its way to its recovery "
                  "e-mail or phone. It works once, for a few minutes.")


def _sms(request: Request) -> SmsFactor:
    return request.app.state.two_factor.kinds["sms"]


def _reset(request: Request) -> PasswordReset:
    return request.app.state.password_reset


def _email(request: Request) -> EmailChange:
    return request.app.state.email_change


# -- SMS second factor -------------------------------------------------------------------

@router.post("/me/2fa/sms", response_model=SmsEnrolment, status_code=status.HTTP_201_CREATED)
async def start_sms(data: SmsStart, request: Request, who: Principal = Depends(current_principal),
                    session: AsyncSession = Depends(get_session, scope="function")):
    """Add a mobile number for sign-in codes by SMS (IDN-14c; needs a sign-in
    in the last 5 minutes). Only mobiles of Switzerland, France, Belgium and
    Germany, with the country prefix. A code is sent to it: confirm with it."""
    return await _sms(request).start(session, who, data.phone, data.name)


@router.post("/me/2fa/sms/{method_id}/resend", response_model=SmsEnrolment)
async def resend_sms_enrolment(method_id: uuid.UUID, request: Request, who: Principal = Depends(current_principal),
                               session: AsyncSession = Depends(get_session, scope="function")):
    """Send a new code to a number still waiting for confirmation (at most one
    a minute, five an hour); the previous code stops working."""
    return await _sms(request).resend(session, who, method_id)


@router.post("/me/2fa/sms/{method_id}/confirm", response_model=EmergencyCodes)
async def confirm_sms(method_id: uuid.UUID, data: SmsConfirm, request: Request,
                      who: Principal = Depends(current_principal)):
    """Confirm the number with the code it received; the first second factor
    of the account returns the 10 emergency codes, once. Wrong code: 422
    invalid_code (code_expired, code_used, code_attempts_exceeded: ask again)."""
    codes = await _sms(request).confirm(runtime_of(request).db, who, method_id, data.code)
    return EmergencyCodes(emergency_codes=codes)


@router.post("/sessions/mfa/sms", response_model=SmsChallenge)
async def send_sign_in_sms(data: SmsSignInCode, request: Request):
    """Second step of sign-in by SMS: send a code to the account's number
    (the hint shows only prefix and last digits). Finish with POST
    /v1/sessions/mfa {mfa_token, method: "sms", challenge_id, code}. At most
    one code a minute and five an hour (429 too_many_codes, Retry-After)."""
    return await _sms(request).send_sign_in_code(runtime_of(request).db, data.mfa_token, data.method_id,
                                                 where(request))


# -- password reset ----------------------------------------------------------------------

@router.post("/password-reset", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(data: PasswordResetRequest, request: Request):
    """Forgotten password (IDN-13): a code goes to the recovery e-mail (else
    the login e-mail), or with `channel: "sms"` to the recovery mobile. The
    answer is the same whether or not the address has an account, after
    the same work (the code's message is recorded in the same transaction,
    through the outbox). At most 5 requests an hour per address (429
    too_many_attempts)."""
    await _reset(request).request(runtime_of(request).db, data.email, data.channel, where(request))
    return Accepted(message=RESET_ACCEPTED)


@router.post("/password-reset/sms-code", response_model=SmsChallenge)
async def password_reset_sms_code(data: PasswordResetSmsCode, request: Request):
    """With 2FA by SMS: send the second-factor code that the reset
    confirmation needs (the reset code must be valid; it is not spent)."""
    return await _reset(request).send_sms_second_factor(runtime_of(request).db, data.email, data.code,
                                                        data.method_id, where(request))


@router.post("/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
async def confirm_password_reset(data: PasswordResetConfirm, request: Request):
    """Set a new password with the code (same rules as at sign-up). Every
    session is signed out and the owner gets a security e-mail; nobody is
    signed in. With 2FA on, `second_factor` is required (403
    second_factor_required lists the methods; the code stays valid) and the
    next sign-in still asks for it. Wrong code or unknown e-mail: the same
    422 invalid_code; the right code but expired, used or out of tries: 422
    code_expired, code_used, code_attempts_exceeded; too many tries: 429."""
    await _reset(request).confirm(runtime_of(request).db, data.email, data.code, data.new_password,
                                  data.second_factor, where(request))


# -- login and recovery e-mail -----------------------------------------------------------

@router.get("/me/email", response_model=LoginEmailRead)
async def login_email(request: Request, who: Principal = Depends(current_principal),
                      session: AsyncSession = Depends(get_session, scope="function")):
    """The current login e-mail, and the new one waiting for its code if any."""
    return await _email(request).current(session, who)


@router.post("/me/email", response_model=LoginEmailChangePending, status_code=status.HTTP_202_ACCEPTED)
async def change_login_email(data: LoginEmailChange, request: Request, who: Principal = Depends(current_principal)):
    """Change the login e-mail (IDN-06): current password, the new address
    twice (422 email_mismatch), not the recovery e-mail (422
    same_as_recovery_email). A code goes to the new address and a notice to
    the current one; the login changes only when the code is confirmed."""
    return await _email(request).request(runtime_of(request).db, who, data.current_password, data.new_email,
                                         data.new_email_repeat, where(request))


@router.post("/me/email/confirm", response_model=LoginEmailRead)
async def confirm_login_email(data: CodeConfirm, request: Request, who: Principal = Depends(current_principal)):
    """Confirm with the code received at the new address: it becomes the
    login. 409 email_taken if it is (meanwhile) another account's login."""
    return await _email(request).confirm(runtime_of(request).db, who, data.code, where(request))


@router.put("/me/recovery-email", response_model=RecoveryEmailRead)
async def set_recovery_email(data: RecoveryEmailUpdate, request: Request, who: Principal = Depends(current_principal)):
    """Set, replace (or with `recovery_email: null` remove) the recovery
    e-mail, where password-reset codes go; the password is required and it
    must differ from the login (422 same_as_login_email)."""
    return await _email(request).set_recovery_email(runtime_of(request).db, who, data.password,
                                                    data.recovery_email, where(request))
